"""Folders that only their owner can change: where the grader keeps what it will act on later.

The check server's socket folder, the Dask workers' unpacked courses and the cache of the grader's own wheel
each hold something the grader trusts later, so each must be a real folder (not a link) of the current user
that nobody else can write into, or, for the server's sockets, even open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Mode bits that let others write (group and others' write): what a folder the grader trusts must not have.
OTHERS_WRITE = 0o022
#: Every group and others bit: for a folder that others must not even open.
OTHERS_ANY = 0o077


def owned_folder(folder: Path, closed: int = OTHERS_WRITE) -> bool:
    """Whether ``folder`` is a folder (not a link) of the current user with none of the ``closed`` mode bits."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & closed
