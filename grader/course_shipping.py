"""Shipping the course to Dask workers that share no file system with the TA, keyed by its content hash.

On the TA's side, :func:`pack_course` packs the assignment folder a batch grades (statement, stubs,
``checks.py``, ``probes.py``: never ``reference/``, the solutions) into a deterministic in-memory tar and
hashes it (sha256). :class:`CoursePlugin`, a ``distributed.WorkerPlugin`` registered under a name made of
that hash, carries the bytes to every worker, those that join later included (the scheduler hands its
plugins to each worker as it registers). Its ``setup`` first compares the worker's grader and torch
versions with the TA's (:func:`versions`, :func:`version_problem`), then unpacks the tar into a cache folder
named by the hash (:func:`unpack_course`): a different course, or another version of the same one, gets a
different hash and so a different folder, and the two never mix. A task then names the course by its hash
and the worker finds the folder with :func:`shipped_course`.

Unpacking trusts nothing in the tar: only regular files and folders with relative names and no ``..``
are written (no links, devices or absolute paths), into a fresh temporary folder that is then renamed to
its final name in one step, so that two workers on one machine never see a half-written course.

:func:`check_workers` runs before any task: every worker present must import the grader and run the
TA's grader and torch versions, or the batch stops with one message naming the worker and both versions.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.private_folders import owned_folder

try:  # the plugin needs Dask distributed (pip install ".[dask]"); packing and unpacking do not
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the plugin is only built where distributed is installed
    WorkerPlugin = object  # type: ignore[assignment,misc]

#: Files of an assignment folder that never travel: Python's caches.
_SKIPPED = ("__pycache__", ".pyc")

#: Why a course could not be set up on this worker, by course hash (read by :func:`course_problem`).
_SETUP_PROBLEMS: dict[str, str] = {}

#: The courses this process's plugins set up (it passed their version check), by hash: their folders. A
#: folder in the machine's cache is not enough, as another worker on the machine may have unpacked it.
_READY: dict[str, Path] = {}


class CourseRefused(Exception):
    """A worker cannot grade this course: it lacks the grader, runs other versions, or got a bad course."""


@dataclass(frozen=True)
class CoursePack:
    """A course folder's files, as a tar in memory, and the sha256 of those bytes."""

    data: bytes
    sha256: str

    @property
    def plugin_name(self) -> str:
        """The name of the worker plugin that ships this course (one per content)."""
        return f"grader-course-{self.sha256[:16]}"


def pack_course(root: Path, assignment: str) -> CoursePack:
    """Pack ``root/assignments/<assignment>/`` (not ``reference/``) into a deterministic tar and hash it.

    The tar holds the assignment's regular files, sorted, with fixed owners, times and modes, so the same
    files always give the same bytes and the same hash. Links and other special files are refused.
    """
    folder = root / "assignments" / assignment
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for directory in ("assignments", f"assignments/{assignment}"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(root)
            if any(part == _SKIPPED[0] or part.endswith(_SKIPPED[1]) for part in relative.parts):
                continue
            mode = path.lstat().st_mode
            info = tarfile.TarInfo(relative.as_posix())
            if stat.S_ISDIR(mode):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif stat.S_ISREG(mode):
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
            else:
                raise CourseRefused(f"{path} is not a regular file or folder (a link?); the course cannot be shipped")
    data = buffer.getvalue()
    return CoursePack(data, hashlib.sha256(data).hexdigest())


def cache_root() -> Path:
    """The folder of unpacked courses on this machine: ``<tempdir>/grader-courses-<uid>``, private to this user."""
    root = Path(tempfile.gettempdir()) / f"grader-courses-{os.getuid()}"
    try:
        root.mkdir(mode=0o700)
    except FileExistsError:
        pass
    if not owned_folder(root):
        raise CourseRefused(f"{root} is not a private folder of this user; remove it and try again")
    return root


def shipped_course(sha256: str) -> Path | None:
    """The folder of the course with this hash, if this worker's plugin set it up (checked and unpacked)."""
    folder = _READY.get(sha256)
    return folder if folder is not None and folder.is_dir() else None


def course_problem(sha256: str) -> str | None:
    """Why this worker could not set up the course with this hash (its plugin's setup failed), if it tried."""
    return _SETUP_PROBLEMS.get(sha256)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The tar's members, or :class:`CourseRefused` for anything but plain relative files and folders."""
    members = tar.getmembers()
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not name.parts or "\\" in member.name:
            raise CourseRefused(f"the shipped course holds an unsafe name: {member.name!r}")
        if not (member.isreg() or member.isdir()):
            raise CourseRefused(f"the shipped course holds something other than files and folders: {member.name!r}")
    return members


def unpack_course(data: bytes, sha256: str) -> Path:
    """Unpack a course tar into ``cache_root()/<sha256>`` (once per machine) and return that folder.

    The bytes must hash to ``sha256``. They are written to a temporary folder beside the final one, which
    is then renamed into place: a worker racing another on the same machine either wins the rename or
    finds the other's complete folder and throws its own copy away.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CourseRefused(f"the shipped course does not match its hash {sha256[:16]}")
    root = cache_root()
    final = root / sha256
    if final.is_dir():
        return final
    work = Path(tempfile.mkdtemp(prefix=f".{sha256[:16]}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in _safe_members(tar):
                target = work / member.name
                if member.isdir():
                    target.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(descriptor, "wb") as out:
                    shutil.copyfileobj(source, out)
        try:
            os.rename(work, final)
        except OSError:  # another worker on this machine renamed its copy first: use that one
            if not final.is_dir():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final


# ---- versions ------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """The grader and torch versions of this process (torch's public version: ``2.13.0`` for ``2.13.0+cpu``).

    The local part after ``+`` names the build (CPU or a CUDA toolkit) and may differ between a TA's
    laptop and a GPU worker; the version itself may not.
    """
    import torch

    import grader

    return {"grader": grader.__version__, "torch": str(torch.__version__).split("+", 1)[0]}


def version_problem(address: str, ta: Mapping[str, str], worker: Mapping[str, str]) -> str | None:
    """The one-line refusal when ``worker``'s versions differ from the TA's, naming the worker; else None."""
    differ = [f"{name} {worker.get(name, 'missing')} (the TA has {ta[name]})"
              for name in sorted(ta) if worker.get(name) != ta[name]]
    if not differ:
        return None
    return (f"Dask worker {address} runs {', '.join(differ)}; install the same versions on every worker "
            "(results must not depend on where a submission runs)")


def check_workers(client: Any, ta: Mapping[str, str]) -> list[str]:
    """Ask every worker of ``client``'s cluster for its versions; returns one refusal per unfit worker.

    A worker that cannot import the grader cannot even read the question (it names a function of this
    package): its answer is that import error.
    """
    answers = client.run(versions, on_error="return")
    problems = []
    for address, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            problems.append(f"Dask worker {address} cannot run the grader ({type(answer).__name__}: {answer}); "
                            "install this package (and torch) on every worker")
            continue
        problem = version_problem(address, ta, answer)
        if problem:
            problems.append(problem)
    return problems


# ---- the plugin ----------------------------------------------------------------------------------


class CoursePlugin(WorkerPlugin):
    """A worker plugin that checks the worker's versions and unpacks the course on it (workers joining later too).

    Registered once per batch under :attr:`CoursePack.plugin_name`; its ``setup`` raises
    :class:`CourseRefused` on a worker that runs other versions, which then holds no copy of the course and
    answers every task of this course with that reason (see :func:`grader.workers.grade_task`).
    """

    def __init__(self, pack: CoursePack, ta_versions: Mapping[str, str]) -> None:
        """Carry ``pack`` and the versions the TA runs to every worker."""
        self.data = pack.data
        self.sha256 = pack.sha256
        self.ta_versions = dict(ta_versions)

    def setup(self, worker: Any) -> None:
        """Refuse a worker with other versions; else unpack the course into this machine's cache."""
        address = str(getattr(worker, "address", "?"))
        try:
            problem = version_problem(address, self.ta_versions, versions())
            if problem:
                raise CourseRefused(problem)
            folder = unpack_course(self.data, self.sha256)
        except Exception as exc:
            _SETUP_PROBLEMS[self.sha256] = str(exc) if isinstance(exc, CourseRefused) else (
                f"Dask worker {address} could not unpack the course: {type(exc).__name__}: {exc}")
            raise
        _SETUP_PROBLEMS.pop(self.sha256, None)
        _READY[self.sha256] = folder

    def teardown(self, worker: Any) -> None:
        """Forget the course when the batch removes its plugin (the unpacked copy stays in the cache)."""
        _READY.pop(self.sha256, None)
