"""Reading the TA's disk without following anything a student put there.

A class folder is student-controlled: any entry in it may be a symbolic link (to the reference solution,
to ``/etc/shadow``, to ``/proc/self/environ``), a hard link, a device, a FIFO or a socket, because Info-ZIP
``unzip`` and ``tar`` recreate such entries from an archive. Everything here walks and opens relative to an
open folder (``openat`` with ``O_NOFOLLOW``), so no path component of a submission is ever followed, and a
file is read only when ``fstat`` on the opened descriptor says it is a regular file with a single link.
Nothing read from an entry that is refused is ever kept or quoted: the message names the entry only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below then refuses it.
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class Refused(Exception):
    """An entry the grader will not read; ``message`` names the entry and says why, quoting nothing of it."""

    def __init__(self, message: str, kind: str = "not_a_regular_file") -> None:
        """Keep the message (for the student and the TA) and a stable ``kind``."""
        super().__init__(message)
        self.message = message
        self.kind = kind


def kind_of(mode: int, links: int = 1) -> str | None:
    """What is wrong with an entry of this ``st_mode`` (``None`` for a plain file or folder)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISREG(mode):
        return "a hard link (it shares its content with another file)" if links > 1 else None
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def refusal(name: str, what: str) -> Refused:
    """The one message every refused entry gets (a link, a device...): it names the entry, never its target."""
    return Refused(
        f"{name} is {what}. The grader reads only regular files and folders, and follows no link: "
        "submit the file itself (copy its content into a regular file), not a link to it.",
        kind="link" if "link" in what else "special_file",
    )


def read_regular(path: Path, limit: int, *, display: str | None = None) -> bytes:
    """The bytes of ``path`` (at most ``limit`` + 1 of them), refusing a last component that is not a plain file.

    The folders above ``path`` are the caller's to trust (a path the TA typed); use :class:`SafeFolder` for
    paths inside a class folder.
    """
    name = display or path.name
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1) or os.path.islink(path):
            raise refusal(name, "a symbolic link") from None
        raise
    return _read_fd(fd, name, limit)


def _read_fd(fd: int, name: str, limit: int) -> bytes:
    try:
        info = os.fstat(fd)
        problem = kind_of(info.st_mode, info.st_nlink)
        if problem is not None:
            raise refusal(name, problem)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """One entry of a folder, as ``lstat`` sees it (never followed)."""

    name: str
    is_dir: bool
    problem: str | None  # why it cannot be read ("a symbolic link"...), None for a plain file or folder
    size: int


class SafeFolder:
    """A folder the TA named, whose content is walked without following any link.

    Paths below it are tuples of names; each access opens them one component at a time from the root's
    descriptor with ``O_NOFOLLOW``, so a component swapped for a link between listing and reading is refused.
    """

    def __init__(self, root: Path) -> None:
        """Open nothing yet: ``root`` itself is the TA's (it may be a link they made on purpose)."""
        self.root = root

    def _open_dir(self, parts: tuple[str, ...]) -> int:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            for part in parts:
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (getattr(os, "ELOOP", -1), getattr(os, "ENOTDIR", -1)):
                        raise refusal(self.display(parts), "not a plain folder (a link or a special file)") from None
                    raise
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def display(self, parts: tuple[str, ...]) -> str:
        """How the TA and the student see an entry: the root as typed, then the names inside it."""
        return str(self.root.joinpath(*parts)) if parts else str(self.root)

    def list(self, parts: tuple[str, ...] = ()) -> list[Entry]:
        """The entries of a folder below the root, sorted by name; nothing is followed."""
        fd = self._open_dir(parts)
        try:
            entries = []
            with os.scandir(fd) as scan:
                for item in scan:
                    info = item.stat(follow_symlinks=False)
                    problem = kind_of(info.st_mode, info.st_nlink)
                    entries.append(Entry(item.name, stat.S_ISDIR(info.st_mode), problem, info.st_size))
        finally:
            os.close(fd)
        return sorted(entries, key=lambda e: e.name)

    def read(self, parts: tuple[str, ...], limit: int) -> bytes:
        """The bytes of the file at ``parts`` (at most ``limit`` + 1), refused unless it is a plain file."""
        fd = self._open_dir(parts[:-1])
        try:
            try:
                file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == getattr(os, "ELOOP", -1):
                    raise refusal(self.display(parts), "a symbolic link") from None
                raise
        finally:
            os.close(fd)
        return _read_fd(file_fd, self.display(parts), limit)
