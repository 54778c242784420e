"""Shared helpers: run the real `grader` CLI in a subprocess and read what it says."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from grader.startup import import_torch

# Every test process imports torch (the test modules do): with the collector paused, and then frozen, as the
# grader's own processes do (grader/startup.py), so that later collections in a test process skip torch's objects.
import_torch()

T = TypeVar("T")

# Every `grader check` the tests run meets no check server but the ones the tests start themselves (in
# folders of their own): a developer's running server must not answer the suite's checks.
os.environ.setdefault("GRADER_SERVER_DIR", tempfile.mkdtemp(prefix="grader-test-servers-"))

ROOT = Path(__file__).resolve().parents[1]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per CPU this process may run on, as far as its cgroup's quota allows, at most 4.

    pytest-xdist's own count is psutil's physical cores, which on a virtual machine whose CPUs are
    hyperthreads can be 1, and in a container can be the host's. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins.
    """
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, min(4, cpus))
ZOO = ROOT / "tests" / "zoo"

#: The course unit's seven assignments (SPEC section 3) and their maximum scores.
ASSIGNMENTS = {
    "autograd_basics": 9.0, "my_linear": 11.0, "custom_model": 10.0, "manual_lr": 12.0, "training_loop": 13.0,
    "custom_function": 10.0, "my_sgd": 12.0,
}


#: The suite's longest files, longest first (seconds of one worker, 2-core machine, 2026-11). With the README's
#: ``--dist loadfile --no-loadscope-reorder``, xdist hands files to its workers in collection order, so these go
#: out first and the short zoo files fill the gaps; in xdist's own order (most tests first) they came last, and
#: one worker sat idle for a minute while the other ran the Gradescope bundle's fresh environment alone.
LONGEST_FIRST = (
    "test_gradescope_bundle.py",  # ~60 s, 42 of them in one fixture: setup.sh installs torch in a fresh venv
    "test_dask_cluster.py",  # ~55 s: real schedulers and workers, started per test
    "test_check_server.py",  # ~45 s: a new server (a new Python and torch) per test
    "test_mutants.py",  # ~40 s: validate --mutants over the whole course
    "test_batch.py",  # ~35 s: the kill -9 and Dask-loopback batches
    "test_notebook_check.py",  # ~25 s: real Jupyter kernels
    "test_release.py",
    "test_sandbox.py",
    "test_cli.py",
    "test_isolation.py",
    "test_intake.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the longest files first (:data:`LONGEST_FIRST`), keeping each file's own order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


#: The folders whose modules every `grader` process imports: the package, and each assignment's checks and probes.
COMPILED = ("grader", "assignments")


def pytest_configure(config: pytest.Config) -> None:
    """Pause the collector while this process collects; write the bytecode of :data:`COMPILED`, if needed.

    The bytecode is written once, before any test, where Pythons are told not to write it. With
    ``PYTHONDONTWRITEBYTECODE`` set (this course machine sets it), every Python the suite starts (hundreds: fresh
    ``grader`` commands, check servers, Dask workers, kernels) would compile the grader's 10,000 lines again,
    about 0.15 s of CPU each. Python still reads bytecode that exists, so writing it once here is enough;
    ``__pycache__`` is ignored by git and never copied into a release (``release.NEVER_COPIED``).
    """
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):  # it will collect
        gc.disable()  # until the tests are collected: their modules import much and free little (grader/startup.py)
    if sys.dont_write_bytecode and not hasattr(config, "workerinput"):  # the controller, once per run
        import compileall

        for folder in COMPILED:
            compileall.compile_dir(ROOT / folder, quiet=1)


#: The type check's command line (``tests/test_lint.py``).
MYPY = [sys.executable, "-m", "mypy"]
_EARLY: dict[str, subprocess.Popen[str]] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Turn the collector back on (frozen); in a run without xdist that will type-check, start mypy in the background.

    The second part runs the ``exclusive`` tests one at a time and leaves a core mostly idle; mypy, which
    starts no sandbox, uses it meanwhile (on a fresh clone, without its cache, it takes about 30 s of CPU).
    ``test_lint.py::test_mypy`` then reads its verdict (:func:`mypy_started_early`).
    """
    gc.enable()
    gc.freeze()  # what collection built lives as long as the run: later collections need not walk it
    if os.environ.get("PYTEST_XDIST_WORKER") or session.config.getoption("collectonly"):
        return
    if any(item.nodeid.endswith("test_lint.py::test_mypy") for item in session.items):
        _EARLY["mypy"] = subprocess.Popen(MYPY, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, text=True)


def mypy_started_early() -> subprocess.Popen[str] | None:
    """The mypy that :func:`pytest_collection_finish` started for this run, if it started one."""
    return _EARLY.pop("mypy", None)


@dataclass
class Run:
    """One finished `grader` command."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


#: Whether the running test's `grader` commands start a new Python each (see :func:`run_grader`).
_FRESH_PYTHON = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a test's fixtures: does it ask for a new Python per command (``fresh_python`` or ``exclusive``)?"""
    global _FRESH_PYTHON
    _FRESH_PYTHON = any(item.get_closest_marker(name) for name in ("fresh_python", "exclusive"))


def run_grader(*args: str | Path, timeout: float = 240, cwd: Path = ROOT, env: dict[str, str] | None = None,
               warm: bool = False) -> Run:
    """Run the real `grader ARGS` command line, from the repository root unless ``cwd``; exit status and output.

    The command runs in a process forked from a helper that has imported torch and the grader
    (:mod:`forked_cli`): the grader's own code from ``main(ARGS)`` on, its workers, zygote and sandboxes are
    the real ones, without a Python and torch start-up per command. A test marked ``fresh_python`` (or
    ``exclusive``) runs ``python -m grader ARGS`` in a new interpreter instead, as a user's shell does.
    ``warm``: a `grader check` goes to this test process's warm check server (:func:`warm_server_env`), as a
    student's check does while a notebook's server runs.
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(warm_server_env() if warm else {}), **(env or {})}
    if not _FRESH_PYTHON:
        import forked_cli

        return Run(*forked_cli.run([str(a) for a in args], cwd, full_env, timeout))
    proc = subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


_WARM_LOCK = threading.Lock()
_WARM: dict[str, Any] = {}


def warm_server_env() -> dict[str, str]:
    """The environment that sends `grader check` to this test process's own warm check server.

    The server (:mod:`grader.server`, the one a notebook starts) is started on first use, in a folder of this
    process's own, and stopped at the end of the session (:func:`pytest_sessionfinish`). The tests of what a
    check says (documents, messages, exit codes) go through it: a check then costs its grading, not a Python
    and torch start-up. The tests of the sandbox, of isolation and of the server itself check cold, in a
    fresh grader each time, and `tests/test_check_server.py` proves a served document equals a cold one.
    """
    with _WARM_LOCK:
        if not _WARM:
            folder = tempfile.mkdtemp(prefix="grader-test-warm-")
            env = {"GRADER_SERVER_DIR": folder}
            proc = subprocess.run([sys.executable, "-m", "grader.server", "start"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=180, stdin=subprocess.DEVNULL,
                                  env={**os.environ, **env, "GRADER_SERVER_IDLE": "900"})
            started = re.search(r"check server running: pid (\d+)", proc.stdout)
            assert proc.returncode == 0 and started, f"the warm check server did not start:\n{proc.stdout}{proc.stderr}"
            _WARM.update(env=env, pid=int(started.group(1)))
        return dict(_WARM["env"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop this test process's forked-CLI helper, warm check server and early mypy, if it started them."""
    import forked_cli

    forked_cli.stop()
    for early in _EARLY.values():  # the run ended before test_mypy read it (-x, a keyboard interrupt)
        early.kill()
        early.wait()
    _EARLY.clear()
    if not _WARM:
        return
    subprocess.run([sys.executable, "-m", "grader.server", "stop"], cwd=ROOT, capture_output=True, timeout=60,
                   env={**os.environ, **_WARM["env"]}, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{_WARM['pid']}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.killpg(_WARM["pid"], signal.SIGKILL)  # it runs in a session (and process group) of its own
    shutil.rmtree(_WARM["env"]["GRADER_SERVER_DIR"], ignore_errors=True)
    _WARM.clear()


def in_parallel(calls: list[Callable[[], T]], workers: int = 2) -> list[T]:
    """Run independent calls (each usually a real `grader` subprocess) ``workers`` at a time; results in order.

    The suite runs on two cores, and most of a short `grader` command is its Python and torch start-up:
    two at a time halves the wait without changing what each command does.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def check_json(assignment: str, submission: str | Path, *extra: str, warm: bool = False) -> tuple[Run, dict[str, Any]]:
    """`grader check ASSIGNMENT SUBMISSION --format json --seed 7`, parsed (fails the test on exit 2).

    ``warm``: through the warm check server (see :func:`warm_server_env`).
    """
    run = run_grader("check", assignment, submission, "--format", "json", "--seed", "7", *extra, warm=warm)
    assert run.returncode in (0, 1), f"grader could not run (exit {run.returncode}):\n{run.stderr}"
    return run, run.json()


def failed_ids(doc: dict[str, Any]) -> set[str]:
    """Ids of checks that did not earn their points (skipped-for-absent-device entries are worth 0)."""
    return {c["id"] for c in doc["checks"] if c["score"] < c["max_score"]}


def stable(doc: dict[str, Any]) -> dict[str, Any]:
    """A result without what legitimately changes between runs: timings and the environment."""
    doc = json.loads(json.dumps(doc))
    doc.pop("duration_s")
    doc.pop("environment")
    for entry in doc["checks"]:
        entry.pop("duration_s")
    return doc


def result_files(out: Path) -> dict[str, dict[str, Any]]:
    """Every ``<id>.json`` result in a results folder, by id (``summary.json`` aside)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.name != "summary.json"}


def check_by_id(doc: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["id"] == check_id)


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    run = run_grader("schema")
    assert run.returncode == 0
    return json.loads(run.stdout)


def zoo_id(file: str) -> str:
    """The submission id a zoo row gets in its assignment's batch (its folder's name)."""
    return file.replace(".", "_")


_ZOO_BATCHES: dict[str, dict[str, dict[str, Any]]] = {}


@pytest.fixture(scope="session")
def zoo_results(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, dict[str, Any]]]:
    """``zoo_results(ASSIGNMENT)``: every row of ``tests/zoo/ASSIGNMENT`` graded in ONE real `grader grade` run.

    Each zoo file becomes a student's folder (``<file with dots as _>/<file>``) of a plain class folder,
    graded on the CPU (as on a machine without a GPU) with ``--seed 7``, two warm workers and ``--cell-timeout 3``
    (the zoo's never-ending notebook cells then cost 3 s each, not the default 10); returns
    file name -> results document. The batch runs once per assignment and session, whichever test asks
    first; a row's test then only reads its document, so a row costs a fork, not a Python and torch start-up.
    """

    def results(assignment: str) -> dict[str, dict[str, Any]]:
        if assignment not in _ZOO_BATCHES:
            files = sorted(p.name for p in (ZOO / assignment).iterdir()
                           if p.suffix in (".py", ".ipynb") and p.name != "make_notebooks.py")
            klass = tmp_path_factory.mktemp(f"zoo-{assignment}")
            for name in files:
                (klass / zoo_id(name)).mkdir()
                (klass / zoo_id(name) / name).write_bytes((ZOO / assignment / name).read_bytes())
            out = tmp_path_factory.mktemp(f"zoo-{assignment}-results")
            run = run_grader("grade", assignment, klass, "--out", out, "--device", "cpu", "--seed", "7",
                             "--jobs", "2", "--cell-timeout", "3", timeout=900, env={"CUDA_VISIBLE_DEVICES": ""})
            assert run.returncode in (0, 1), f"grader could not run (exit {run.returncode}):\n{run.stderr}"
            assert "Traceback" not in run.stderr, run.stderr
            by_id = result_files(out)
            _ZOO_BATCHES[assignment] = {name: by_id[zoo_id(name)] for name in files if zoo_id(name) in by_id}
        return _ZOO_BATCHES[assignment]

    return results


def grade_zoo_case(assignment: str, file: str, lost: frozenset[str], hints: dict[str, str | tuple[str, ...]],
                   schema: dict[str, Any], full: float,
                   zoo_results: Callable[[str], dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Check the outcome of ``tests/zoo/ASSIGNMENT/FILE`` in its assignment's batch (the zoo_results fixture).

    Exactly the checks in ``lost`` lose their points (a skipped check counts as lost), the score is the
    rest, and each check in ``hints`` says each of its texts in its hint or message. Returns the results
    document for further checks.
    """
    import jsonschema

    path = ZOO / assignment / file
    graded = zoo_results(assignment)
    assert file in graded, f"{file}: the batch wrote no result for it"
    doc = graded[file]
    jsonschema.validate(doc, schema)
    assert doc["status"] == "graded", doc["errors"]
    assert doc["submission"]["kind"] == path.suffix.lstrip(".")
    messages = "\n".join(f"{c['id']}: {c['message']}" for c in doc["checks"] if c["id"] in failed_ids(doc))
    assert failed_ids(doc) == set(lost), messages
    assert doc["max_score"] == full
    assert doc["score"] == full - sum(c["max_score"] for c in doc["checks"] if c["id"] in lost)
    for check_id, texts in hints.items():
        entry = check_by_id(doc, check_id)
        for text in (texts,) if isinstance(texts, str) else texts:
            assert text in (entry["hint"] or "") + "\n" + entry["message"], entry
    return doc


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and bytes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(1.0)
            try:
                self.received += conn.recv(1000)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def processes_naming(*needles: str) -> dict[int, str]:
    """Live processes whose command line contains one of ``needles`` (this process aside)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            found[int(entry.name)] = cmdline.strip()
    return found


#: What a sandbox's command line reads (``grader.sandbox.child.SANDBOX_ARGV``): it no longer shows the judge's.
SANDBOX_TITLE = "grader-sandbox"


def sandbox_processes() -> set[int]:
    """Pids of live sandboxes, and of what they forked without exec (they carry the same command line)."""
    return {pid for pid, cmdline in processes_naming(SANDBOX_TITLE).items() if cmdline.startswith(SANDBOX_TITLE)}


def surviving_processes(*needles: str, sandboxes_before: set[int] | None = None) -> list[str]:
    """Processes naming one of ``needles`` that are still alive after up to 10 s of waiting; they are killed here.

    With ``sandboxes_before`` (taken before the run under test), sandboxes started since then count too.
    """

    def alive_now() -> dict[int, str]:
        found = processes_naming(*needles)
        if sandboxes_before is not None:
            found |= {pid: cmdline for pid, cmdline in processes_naming(SANDBOX_TITLE).items()
                      if cmdline.startswith(SANDBOX_TITLE) and pid not in sandboxes_before}
        return found

    deadline = time.monotonic() + 10
    alive = alive_now()
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = alive_now()
    described = [f"{pid} ({_state_and_parent(pid)}): {cmdline[:200]}" for pid, cmdline in sorted(alive.items())]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return described


def _state_and_parent(pid: int) -> str:
    """A survivor's state and parent, read from /proc, to tell a worker, a zygote and a sandbox apart."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":" in line)
    except OSError:
        return "gone"
    parent = fields.get("PPid", "?").strip()
    try:
        parent_line = Path(f"/proc/{parent}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        parent_line = "?"
    return f"state {fields.get('State', '?').strip()}, parent {parent}: {parent_line[:80].strip()}"


def _sandbox_cgroup_folders() -> list[Path]:
    """Every sandbox cgroup folder on the machine (``grader-sandbox-<zygote pid>``, one per controller)."""
    bases = ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified")
    return sorted({folder for base in bases for folder in Path(base).glob("**/grader-sandbox-*") if folder.is_dir()})


def empty_sandbox_cgroups() -> list[Path]:
    """Sandbox cgroups that hold no process: leaks (a live zygote sits in its own cgroup, idle or not)."""
    found = []
    for folder in _sandbox_cgroup_folders():
        try:
            if not (folder / "cgroup.procs").read_text().strip():
                found.append(folder)
        except OSError:
            pass  # removed while we looked
    return found


def sandbox_cgroups_under(root: int) -> list[Path]:
    """The sandbox cgroups of the zygotes that descend from process ``root`` (each is named after its zygote).

    Taken while those zygotes live, it names what a test's own graders made, whatever other tests run beside it;
    that these folders are gone later is a leak check that needs no machine to itself.
    """
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # "pid (comm) state ppid ...": the command may hold spaces and parentheses
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass

    def descends(pid: int) -> bool:
        seen = set()
        while pid > 1 and pid not in seen:
            if pid == root:
                return True
            seen.add(pid)
            pid = parents.get(pid, 0)
        return False

    owners = {folder: folder.name.rsplit("-", 1)[1] for folder in _sandbox_cgroup_folders()}
    return [folder for folder, owner in owners.items() if owner.isdigit() and descends(int(owner))]
