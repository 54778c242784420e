"""A class as a tree of entries, the same whether it came from a folder on disk or from an archive.

Layouts (:mod:`grader.intake.layouts`) look at names and shapes only; reading a file's bytes goes back
to where the entry came from through its ``reader``, which for a folder never follows a link
(:mod:`grader.intake.files`) and for an archive reads the member with byte limits
(:mod:`grader.intake.archives`). An entry that must not be read carries ``problem``: the plain message
that names it and says why (a link, a device, an absolute or ``..`` name...), and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.files import Refused, SafeFolder, refusal

#: Folders a student's tools leave behind; never graded and never looked into.
NOISE_DIRS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX", ".git", ".venv", "venv", "node_modules"}
#: Files a student's tools leave behind.
NOISE_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}
#: At most this many entries are listed in one folder submission or one class folder (a repository with
#: a data set, say): the rest are not looked at, and the TA is told.
MAX_ENTRIES = 200_000
#: Folders deeper than this below the class folder are not looked into.
MAX_DEPTH = 12

Reader = Callable[[int], bytes]


@dataclass
class Node:
    """One entry: a folder (``children``) or a file (``reader``), or a refused entry (``problem``)."""

    name: str
    path: str  # how a TA sees it: the folder or archive as typed, then the names inside
    is_dir: bool = False
    size: int = 0
    problem: str | None = None
    problem_kind: str = "rejected"
    reader: Reader | None = None
    children: dict[str, Node] = field(default_factory=dict)
    git: bool = False  # a folder that is a git repository (its .git is never read)

    def read(self, limit: int) -> bytes:
        """At most ``limit`` + 1 bytes of the file; raises :class:`Refused` for a refused entry."""
        if self.problem is not None:
            raise Refused(self.problem, self.problem_kind)
        if self.reader is None:
            raise Refused(f"{self.path} is a folder, not a file.")
        return self.reader(limit)

    def files(self) -> Iterator[tuple[tuple[str, ...], Node]]:
        """Every entry below this folder that is not a folder (refused ones included), with its names."""
        for name, child in sorted(self.children.items()):
            if child.is_dir:
                for parts, grandchild in child.files():
                    yield (name, *parts), grandchild
            else:
                yield (name,), child

    def refused(self) -> Iterator[Node]:
        """Every refused entry at or below this one (a submission holding one is refused whole)."""
        if self.problem is not None:
            yield self
        for child in self.children.values():
            yield from child.refused()

    def visible(self) -> dict[str, Node]:
        """The children that are not tool noise (``__MACOSX``, ``.DS_Store``, ``.git``...)."""
        return {name: child for name, child in self.children.items() if not is_noise(name, child.is_dir)}


def is_noise(name: str, is_dir: bool) -> bool:
    """Whether an entry is left behind by tools (or hidden) and is neither graded nor looked into."""
    if is_dir:
        return name in NOISE_DIRS or name.startswith(".")
    return name in NOISE_FILES or name.startswith((".", "~$"))


def from_folder(root: Path, notes: list[str]) -> Node:
    """The tree of a folder the TA named, walked without following any link (see :mod:`grader.intake.files`)."""
    folder = SafeFolder(root)
    top = Node(root.name or str(root), str(root), is_dir=True)
    count = 0

    def walk(node: Node, parts: tuple[str, ...]) -> None:
        nonlocal count
        try:
            entries = folder.list(parts)
        except Refused as exc:
            node.problem, node.problem_kind = exc.message, exc.kind
            return
        except OSError as exc:
            node.problem = f"{node.path} could not be read ({exc.strerror or exc})."
            return
        for entry in entries:
            count += 1
            if count > MAX_ENTRIES:
                notes.append(f"{root}: more than {MAX_ENTRIES} entries; the rest were not looked at")
                return
            here = (*parts, entry.name)
            child = Node(entry.name, folder.display(here), is_dir=entry.is_dir, size=entry.size)
            node.children[entry.name] = child
            if entry.problem is not None:
                refused = refusal(child.path, entry.problem)
                child.problem, child.problem_kind = refused.message, refused.kind
            elif entry.is_dir:
                if entry.name == ".git":
                    node.git = True
                elif not is_noise(entry.name, True) and len(here) <= MAX_DEPTH:
                    walk(child, here)
            else:
                child.reader = _folder_reader(folder, here)

    walk(top, ())
    return top


def _folder_reader(folder: SafeFolder, parts: tuple[str, ...]) -> Reader:
    return lambda limit: folder.read(parts, limit)
