"""Reading a class (or a student's own) zip or tar archive without extracting anything.

Members are listed into a :class:`~grader.intake.tree.Node` tree and read one by one, in memory, with
their bytes counted as they are decompressed: nothing is written to disk, so nothing can land in the
course or the results folder. Accepted members are regular files and folders only. A member that is a
link, a hard link, a device or a FIFO, whose name is absolute or climbs out with ``..``, that appears
twice, that is encrypted, corrupt, larger than a submission may be or compressed suspiciously well, is
kept in the tree as a refused entry with a message naming it, and the rest is graded. An archive inside
the class archive (a student who uploaded a zip) is opened one level deep; an archive inside that is not.
Member names that are not marked UTF-8 (Windows tools write the local code page, e.g. CP949 for Korean)
are decoded as well as can be, and the TA is told.
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from grader.intake.files import Refused, refusal
from grader.intake.tree import Node, Reader

#: At most this many members are listed in a class archive; a student's own archive gets fewer.
MAX_MEMBERS = 50_000
MAX_NESTED_MEMBERS = 1_000
#: A student's own archive (inside the class archive) is read into memory up to this size.
MAX_NESTED_BYTES = 64 << 20
#: Decompressed bytes read from one archive, all members together.
MAX_TOTAL_BYTES = 4 << 30
#: A member that inflates more than this many times over its compressed size (and past 1 MiB) is a bomb.
MAX_RATIO = 200
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


class BadArchive(Exception):
    """The archive as a whole cannot be read (not an archive, corrupt directory, too many members)."""


def is_archive(name: str) -> bool:
    """Whether a file name looks like an archive the grader opens."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def decode_name(raw: bytes) -> tuple[str, str | None]:
    """A member name from its bytes: UTF-8, else CP949 (Korean Windows) when it reads as Hangul, else CP437.

    Returns the name and, when it was not UTF-8, the encoding it was read with.
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp949")
        if any("\uac00" <= c <= "\ud7a3" for c in text):
            return text, "CP949 (Korean Windows)"
    except UnicodeDecodeError:
        pass
    return raw.decode("cp437"), "CP437 (the zip default)"


def _split(name: str) -> tuple[list[str], str | None]:
    """A member name as folder names, or why it is refused (absolute, ``..``, empty)."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return [], "has an absolute name (it points outside the archive)"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return [], "has a name with `..` (it points outside the archive)"
    if not parts:
        return [], "has an empty name"
    return parts, None


class _Budget:
    """Decompressed bytes left for one archive."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, size: int, name: str) -> None:
        self.left -= size
        if self.left < 0:
            raise Refused(f"{name} was not read: the archive holds more than {MAX_TOTAL_BYTES >> 30} GiB of "
                          "data in all, more than a class's submissions can be.", kind="too_large")


def _read_capped(stream: IO[bytes], name: str, limit: int, compressed: int | None, budget: _Budget) -> bytes:
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        budget.take(len(chunk), name)
        if compressed is not None and size > (1 << 20) and size > MAX_RATIO * max(compressed, 1):
            raise Refused(f"{name} inflates more than {MAX_RATIO} times its compressed size (a zip bomb?): "
                          "it was not read.", kind="zip_bomb")
    return b"".join(chunks)


class _TreeBuilder:
    def __init__(self, top: Node, display: str, max_members: int) -> None:
        self.top = top
        self.display = display
        self.max_members = max_members
        self.count = 0
        self.encodings: set[str] = set()

    def place(self, name: str, is_dir: bool, size: int) -> Node | None:
        """The node for member ``name`` (created with its folders), or a refused node for a bad name."""
        self.count += 1
        parts, problem = _split(name)
        shown = f"{self.display}/{'/'.join(parts) if parts else name}"
        if problem is not None:
            node = Node(name, shown, size=size)
            node.problem, node.problem_kind = f"The archive member {name!r} {problem}: it was not read.", "bad_name"
            self.top.children.setdefault(f"\0bad{self.count}", node)
            return None
        folder = self.top
        for index, part in enumerate(parts[:-1]):
            nxt = folder.children.get(part)
            if nxt is None or not nxt.is_dir:
                path = self.display + "/" + "/".join(parts[: index + 1])
                nxt = folder.children[part] = Node(part, path, is_dir=True)
            folder = nxt
        last = parts[-1]
        existing = folder.children.get(last)
        if existing is not None:
            if is_dir and existing.is_dir:
                return existing
            existing.problem = (f"{shown} appears more than once in the archive, so which one is meant is not "
                                "clear: it was not read.")
            existing.problem_kind, existing.reader = "duplicate", None
            return None
        node = folder.children[last] = Node(last, shown, is_dir=is_dir, size=size)
        return node


def read_zip(source: Path | bytes, display: str, *, nested: bool = False,
             budget: _Budget | None = None) -> tuple[Node, list[str]]:
    """The tree of a zip archive (a file, or bytes for a student's archive inside another); raises BadArchive."""
    notes: list[str] = []
    budget = budget or _Budget(MAX_TOTAL_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise BadArchive(f"{display} is not a readable zip archive ({exc}); download it again") from None
    max_members = MAX_NESTED_MEMBERS if nested else MAX_MEMBERS
    infos = archive.infolist()
    top = Node(Path(display).name, display, is_dir=True)
    builder = _TreeBuilder(top, display, max_members)
    if len(infos) > max_members:
        notes.append(f"{display}: {len(infos)} members, more than the {max_members} the grader reads from one "
                     f"{'student archive' if nested else 'archive'}; only the first {max_members} were looked at")
        infos = infos[:max_members]
    for info in infos:
        name = info.filename
        if not info.flag_bits & 0x800 and not name.isascii():
            name, encoding = decode_name(name.encode("cp437"))
            if encoding:
                builder.encodings.add(encoding)
        is_dir = info.is_dir()
        node = builder.place(name, is_dir, info.file_size)
        if node is None or is_dir:
            continue
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_IFMT(mode):
            what = None if stat.S_ISREG(mode) else ("a symbolic link" if stat.S_ISLNK(mode) else "a special file")
            if what is not None:
                refused = refusal(node.path, what)
                node.problem, node.problem_kind = refused.message, refused.kind
                continue
        if info.flag_bits & 0x1:
            node.problem = (f"{node.path} is encrypted (password-protected), so the grader cannot read it. "
                            "Submit it again without a password.")
            node.problem_kind = "encrypted"
            continue
        node.reader = _zip_reader(archive, info, node.path, budget)
    if builder.encodings:
        notes.append(f"{display}: member names are not marked as UTF-8 (written by a Windows tool?); they were "
                     f"read as {', '.join(sorted(builder.encodings))}")
    open_student_archives(top, notes, nested=nested, budget=budget)
    return top, notes


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, budget: _Budget) -> Reader:
    def read(limit: int) -> bytes:
        try:
            with archive.open(info) as stream:
                return _read_capped(stream, shown, limit, info.compress_size, budget)
        except Refused:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise Refused(f"{shown} is damaged in the archive and could not be read ({exc}). Download the "
                          "archive again; if it persists, ask the student to submit again.", kind="corrupt") from None
    return read


def read_tar(source: Path | bytes, display: str, *, nested: bool = False,
             budget: _Budget | None = None) -> tuple[Node, list[str]]:
    """The tree of a tar archive (plain or compressed); raises BadArchive.

    A compressed tar cannot be read out of order cheaply, so the submission candidates' bytes (``.py``,
    ``.ipynb`` and archives, each within its limit) are read while listing; everything else is only named.
    """
    from grader.submission import MAX_BYTES

    notes: list[str] = []
    budget = budget or _Budget(MAX_TOTAL_BYTES)
    try:
        archive = tarfile.open(fileobj=io.BytesIO(source)) if isinstance(source, bytes) else tarfile.open(source)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BadArchive(f"{display} is not a readable tar archive ({exc}); download it again") from None
    max_members = MAX_NESTED_MEMBERS if nested else MAX_MEMBERS
    top = Node(Path(display).name, display, is_dir=True)
    builder = _TreeBuilder(top, display, max_members)
    with archive:
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
                notes.append(f"{display}: the archive is damaged after {builder.count} members ({exc}); "
                             "the members before that were read")
                break
            if member is None:
                break
            if builder.count >= max_members:
                notes.append(f"{display}: more than the {max_members} members the grader reads from one "
                             f"{'student archive' if nested else 'archive'}; only the first {max_members} were "
                             "looked at")
                break
            name, encoding = decode_name(member.name.encode("utf-8", "surrogateescape"))
            if encoding:
                builder.encodings.add(encoding)
            node = builder.place(name, member.isdir(), member.size)
            if node is None or member.isdir():
                continue
            if not member.isreg():
                what = ("a symbolic link" if member.issym() else "a hard link" if member.islnk()
                        else "a device" if member.ischr() or member.isblk()
                        else "a FIFO (named pipe)" if member.isfifo() else "a special file")
                refused = refusal(node.path, what)
                node.problem, node.problem_kind = refused.message, refused.kind
                continue
            suffix = name.lower()
            limit = (MAX_NESTED_BYTES if is_archive(suffix) else
                     MAX_BYTES["ipynb"] if suffix.endswith(".ipynb") else MAX_BYTES["py"] if suffix.endswith(".py")
                     else -1)
            if limit < 0:
                continue  # not a submission candidate: listed only
            try:
                stream = archive.extractfile(member)
                data = _read_capped(stream, node.path, limit, None, budget) if stream is not None else b""
            except Refused as exc:
                node.problem, node.problem_kind = exc.message, exc.kind
                continue
            except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
                node.problem = f"{node.path} is damaged in the archive and could not be read ({exc})."
                node.problem_kind = "corrupt"
                continue
            node.reader = _bytes_reader(data)
    if builder.encodings:
        notes.append(f"{display}: member names are not UTF-8; they were read as {', '.join(sorted(builder.encodings))}")
    open_student_archives(top, notes, nested=nested, budget=budget)
    return top, notes


def _bytes_reader(data: bytes) -> Reader:
    return lambda limit: data[: limit + 1]


def read_archive(source: Path | bytes, display: str, *, nested: bool = False,
                 budget: _Budget | None = None) -> tuple[Node, list[str]]:
    """The tree of a zip or tar archive, chosen by its content (not its name)."""
    head = source[:512] if isinstance(source, bytes) else _head(source)
    opener: Callable[..., tuple[Node, list[str]]]
    if head.startswith(b"PK"):
        opener = read_zip
    elif head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")) or (len(head) >= 262 and head[257:262] == b"ustar"):
        opener = read_tar
    elif (isinstance(source, Path) and source.stat().st_size == 0) or head == b"":
        raise BadArchive(f"{display} is empty (0 bytes): download it again")
    else:
        raise BadArchive(f"{display} is not a zip or tar archive (its first bytes are not an archive's); "
                         "download it again, or pass the folder you extracted")
    return opener(source, display, nested=nested, budget=budget)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(512)


def open_student_archives(top: Node, notes: list[str], *, nested: bool = False, budget: _Budget | None = None) -> None:
    """Turn each archive below ``top`` into a folder of its own members (one level only).

    ``nested`` says ``top`` is itself a student's archive: archives inside it are refused, not opened.
    """
    budget = budget or _Budget(MAX_TOTAL_BYTES)
    for folder in _folders(top):
        for name, child in list(folder.children.items()):
            if child.is_dir or child.problem is not None or not is_archive(name):
                continue
            if nested:
                child.problem = (f"{child.path} is an archive inside an archive inside the class archive; the "
                                 "grader opens a student's own archive but not one inside it. Submit the files "
                                 "themselves (or one zip of them).")
                child.problem_kind = "nested_archive"
                continue
            try:
                data = child.read(MAX_NESTED_BYTES)
                if len(data) > MAX_NESTED_BYTES:
                    raise Refused(f"{child.path} is larger than {MAX_NESTED_BYTES >> 20} MiB; it was not opened.",
                                  kind="too_large")
                inner, inner_notes = read_archive(data, child.path, nested=True, budget=budget)
            except Refused as exc:
                child.problem, child.problem_kind, child.reader = exc.message, exc.kind, None
                continue
            except BadArchive as exc:
                child.problem, child.problem_kind, child.reader = f"{exc}.", "bad_archive", None
                continue
            notes.extend(inner_notes)
            inner.name, inner.is_dir, inner.reader = name, True, None
            inner.path = child.path
            folder.children[name] = inner


def _folders(node: Node) -> list[Node]:
    found = [node]
    for child in node.children.values():
        if child.is_dir:
            found.extend(_folders(child))
    return found
