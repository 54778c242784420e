"""Which file of a folder submission is graded: the rules every layout shares.

A folder submission (a sub-folder of a class folder, a student's repository, a Moodle or Gradescope
folder, a student's own zip) may hold regular files and folders only: an entry anywhere in it that is a
link, a device, a FIFO or a socket gets the whole submission ``rejected`` (it would otherwise choose what
the judge reads). Tool noise (``__pycache__``, ``.ipynb_checkpoints``, ``__MACOSX``, hidden files, ``.git``)
is never looked at. Among the ``.py`` and ``.ipynb`` files, in order:

1. the only one;
2. else those named for the assignment (``my_linear.py``; also ``my_linear-1.py`` and ``my_linear (1).py``,
   the names an LMS or a browser gives a re-uploaded file), preferring the newest upload when the LMS
   numbers uploads, then the shallowest, then ``.py`` before ``.ipynb``;
3. else the only one outside test files (``test_*.py``, ``*_test.py``, ``tests/``);
4. else none: the submission is rejected with the list of candidates, so the TA or the student keeps one.

Every candidate not chosen is reported as left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.intake.archives import is_archive
from grader.intake.tree import Node, is_noise

SUBMISSION_SUFFIXES = (".py", ".ipynb")
_COPY_SUFFIX = re.compile(r"(?:-\d+| \(\d+\)|_\d+)$")


@dataclass
class Candidate:
    """A file that could be a student's submission, with what ranks it (an LMS upload number)."""

    node: Node
    shown: str  # its name inside the submission, e.g. "src/my_linear.py"
    depth: int
    upload: int = 0  # a larger number is a newer upload (Canvas attachment ids grow)
    given: str = ""  # the name the student gave it, when ``shown`` carries the LMS's prefix

    @property
    def file_name(self) -> str:
        """The name the naming rules look at: the student's own file name."""
        return (self.given or self.shown).split("/")[-1]


@dataclass
class Choice:
    """The file to grade, or why there is none, and the candidates left out."""

    chosen: Candidate | None
    left_out: list[str] = field(default_factory=list)
    problem: str | None = None
    problem_kind: str = "rejected"


def is_submission_name(name: str) -> bool:
    """Whether a file name has a submission's extension."""
    return name.lower().endswith(SUBMISSION_SUFFIXES)


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _is_test(shown: str) -> bool:
    parts = shown.lower().split("/")
    stem = _stem(parts[-1])
    return stem.startswith("test_") or stem.endswith("_test") or stem == "conftest" or "tests" in parts[:-1]


#: Refused entries that get a whole folder submission rejected: they would choose what the judge reads.
#: Others (an encrypted PDF, an archive inside a student's archive) only cannot be read themselves.
REJECTS_SUBMISSION = {"link", "special_file", "bad_name"}


def candidates_in(folder: Node) -> tuple[list[Candidate], list[Node]]:
    """The submission candidates below a folder, and the refused entries in it (links, devices...).

    A candidate that cannot be read (encrypted, corrupt, too large) stays a candidate: choosing it gets
    the submission rejected with that entry's own message.
    """
    found: list[Candidate] = []
    refused: list[Node] = []

    def walk(node: Node, prefix: str, depth: int) -> None:
        for name, child in sorted(node.children.items()):
            if is_noise(name, child.is_dir):
                continue
            if child.problem is not None and child.problem_kind in REJECTS_SUBMISSION:
                refused.append(child)
            elif child.problem is not None:
                if is_submission_name(name) or is_archive(name):
                    found.append(Candidate(child, prefix + name, depth))
            elif child.is_dir:
                walk(child, f"{prefix}{name}/", depth + 1)
            elif is_submission_name(name):
                found.append(Candidate(child, prefix + name, depth))

    if folder.problem is not None and folder.problem_kind in REJECTS_SUBMISSION:
        refused.append(folder)
    elif folder.problem is not None and not folder.is_dir:
        found.append(Candidate(folder, folder.name, 0))
    else:
        walk(folder, "", 0)
    return found, refused


def _why(node: Node) -> str:
    words = {"nested_archive": "an archive inside an archive", "encrypted": "encrypted", "corrupt": "damaged",
             "too_large": "too large", "zip_bomb": "a zip bomb", "duplicate": "appears twice",
             "bad_archive": "not a readable archive"}
    return words.get(node.problem_kind, "refused")


def choose(candidates: list[Candidate], refused: list[Node], assignment: str, where: str) -> Choice:
    """Apply the rules above to one student's candidates (``where`` names the submission for messages)."""
    if refused:
        first = refused[0]
        more = f" (and {len(refused) - 1} more such entries)" if len(refused) > 1 else ""
        return Choice(None, [c.shown for c in candidates],
                      f"{first.problem} The whole submission {where} was rejected because of it{more}.",
                      first.problem_kind)
    if not candidates:
        return Choice(None, [], f"{where} holds no .py or .ipynb file, so there is nothing to grade. Submit your "
                                f"{assignment}.py or {assignment}.ipynb.", "no_submission_file")
    unreadable = [c for c in candidates if c.node.problem is not None]
    if 0 < len(unreadable) < len(candidates):  # what cannot be read is chosen only when nothing else is there
        candidates = [c for c in candidates if c.node.problem is None]
        choice = choose(candidates, [], assignment, where)
        choice.left_out.extend(f"{c.shown} (not read: {_why(c.node)})" for c in unreadable)
        return choice
    if len(candidates) == 1:
        return Choice(candidates[0])
    wanted = assignment.lower()
    named = [c for c in candidates if _COPY_SUFFIX.sub("", _stem(c.file_name)).lower() == wanted]
    if named:
        def rank(c: Candidate) -> tuple[int, int, int, int]:
            exact = _stem(c.file_name).lower() == wanted
            return (-c.upload, c.depth, 0 if exact else 1, 0 if c.file_name.lower().endswith(".py") else 1)

        chosen = min(named, key=rank)
    else:
        outside_tests = [c for c in candidates if not _is_test(c.given or c.shown)]
        if len(outside_tests) != 1:
            listed = ", ".join(c.shown for c in candidates)
            return Choice(None, [c.shown for c in candidates],
                          f"{where} holds {len(candidates)} candidate files ({listed}) and none is named "
                          f"{assignment}.py or {assignment}.ipynb, so which one to grade is not clear. Keep one "
                          f"(or name it {assignment}.py) and submit again.", "several_candidates")
        chosen = outside_tests[0]
    return Choice(chosen, [c.shown for c in candidates if c is not chosen])
