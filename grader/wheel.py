"""The grader's own wheel, which `grader release` hands to students and to Gradescope: built once per source.

Building it (``pip wheel`` in a new Python, with setuptools) takes about 2.5 s, and a course's instructor
releases again and again while writing a unit. The wheel is built from a clean copy of the grader's source
(its ``grader/`` package, ``pyproject.toml``, ``README.md`` and ``LICENSE``, without ``__pycache__``), and
kept in this user's cache under the SHA-256 of that copy, of the Python version and of the setuptools that
built it: a release whose source, Python and setuptools are unchanged copies the kept wheel instead of
building it again, and any change to any of them builds a new one.

The cache is ``$XDG_CACHE_HOME/torch-grader/wheels`` (default ``~/.cache/torch-grader/wheels``), in the
user's home: a wheel there ends up in every student's environment, so it is never read from a folder that
another user could write (such a folder is refused, and the wheel is built without the cache).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from grader.private_folders import owned_folder

#: What the wheel is built from, beside the ``grader/`` package (copied when present).
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")


class WheelError(Exception):
    """The wheel could not be built; the message says why, in one paragraph."""


def source_checkout() -> Path:
    """The folder this grader runs from, when it is a source checkout (it holds ``pyproject.toml``)."""
    source = Path(__file__).resolve().parents[1]
    if not (source / "pyproject.toml").is_file():
        raise WheelError("--gradescope builds the grader's wheel from its source checkout, and this grader "
                         f"was installed without one ({source} has no pyproject.toml)")
    return source


def clean_copy(source: Path, copy: Path) -> None:
    """Copy what the wheel is built from into ``copy``: a build/ folder left in the checkout could add stale modules."""
    shutil.copytree(source / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in SOURCE_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, copy / name)


def source_key(copy: Path) -> str:
    """The cache key of a clean copy: SHA-256 of every file's path and bytes, the Python version and setuptools'."""
    digest = hashlib.sha256()
    try:
        setuptools = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        setuptools = "none"
    digest.update(f"python {sys.version_info[0]}.{sys.version_info[1]}; setuptools {setuptools}\0".encode())
    for path in sorted(p for p in copy.rglob("*") if p.is_file()):
        relative = path.relative_to(copy).as_posix()
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_folder() -> Path | None:
    """The current user's wheel cache (made when missing); None when it is not a private folder of theirs."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "torch-grader" / "wheels"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return folder if owned_folder(folder) else None


def build_wheel(folder: Path) -> Path:
    """Build (or copy from the cache) the grader's wheel into ``folder``, from its source checkout; its path."""
    source = source_checkout()
    copy = folder / "source"
    clean_copy(source, copy)
    cache = cache_folder()
    kept = cache / source_key(copy) if cache is not None else None
    if kept is not None:
        wheels = sorted(kept.glob("*.whl")) if kept.is_dir() else []
        if wheels and zipfile.is_zipfile(wheels[0]):
            return Path(shutil.copy2(wheels[0], folder / wheels[0].name))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(folder),
         str(copy)],
        capture_output=True, text=True,
    )
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise WheelError(f"building the grader's wheel failed:\n{(proc.stderr or proc.stdout).strip()[-2000:]}")
    if kept is not None:
        _keep(wheels[0], kept)
    return wheels[0]


def _keep(wheel: Path, kept: Path) -> None:
    """Put ``wheel`` in the cache folder ``kept``, whole or not at all (another release may be reading it)."""
    scratch: Path | None = None
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=kept.parent))
        shutil.copy2(wheel, scratch / wheel.name)
        os.replace(scratch, kept)
    except OSError:  # kept by a release running beside this one, or a full disk: the next release builds it
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
