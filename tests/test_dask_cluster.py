"""`grader grade --executor dask` on workers that share no file system with the TA (issue 14).

A real `dask scheduler` on 127.0.0.1 and real `dask worker` processes, each started inside its own mount
namespace where a fresh tmpfs covers the test's folder: the course, the class and the results folder do
not exist for the workers. The course reaches them through the grader's worker plugin (keyed by the hash of
its files), the submissions inside the tasks. Every document must equal the local executor's.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import site
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, ZOO, result_files, run_grader, stable, surviving_processes

distributed = pytest.importorskip("distributed")

from grader.course_shipping import (  # noqa: E402 - with distributed only
    CourseRefused,
    cache_root,
    pack_course,
    shipped_course,
    unpack_course,
    version_problem,
    versions,
)

DASK = Path(sys.executable).with_name("dask")
SITE_PACKAGES = next(p for p in site.getsitepackages() if p.endswith("site-packages"))

#: ~20 submissions: correct, buggy and hostile, one of them a notebook in a student's folder.
MY_LINEAR = ["correct_compact.py", "correct_einsum.py", "bias_left_out.py", "plain_tensors.py", "foward_typo.py",
             "detach_weights.py", "named_w_b.py", "mm_2d_only.py", "data_in_forward.py", "missing_in_features.py",
             "lazy_weights.py"]
#: read_hidden_checks.py and steal_reference.py are left out: they print how many places they probed, which
#: depends on the process they run in (its sys.argv, its modules), so their log differs from machine to machine;
#: reduce_payload_forward.py too: its messages quote an object address.
HOSTILE = ["snoop_other_submissions.py", "forge_results.py", "os_exit_at_import.py", "kill_parent.py",
           "sys_exit_in_forward.py", "print_fake_results.py", "patch_torch_comparisons.py", "os_exit_in_forward.py"]


#: Set in the environment of every process a test starts, so that what they leave behind can be found.
TOKEN_VARIABLE = "GRADER_TEST_CLUSTER"


def _can_unshare() -> bool:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


# The TA's `grader` commands run forked from the test's preloaded helper (conftest.run_grader): they find no
# process by its environment; the workers and the scheduler, which the tests look for, are new Pythons.
pytestmark = pytest.mark.skipif(not _can_unshare(), reason="needs `unshare --mount` and tmpfs mounts (root)")


@dataclass
class Cluster:
    """A scheduler and the workers started for a test, all killed (by process group) at the end."""

    base: Path  # hidden from every worker by a tmpfs
    token: str  # in every worker's name: finds their processes
    scheduler: subprocess.Popen[bytes] | None = None
    address: str = ""
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_scheduler(self) -> None:
        file = self.base / f"scheduler-{self.token}.json"
        self.scheduler = subprocess.Popen(
            [str(DASK), "scheduler", "--scheduler-file", str(file), "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd="/",
            env={**os.environ, TOKEN_VARIABLE: self.token},
        )
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but let it land
        self.address = json.loads(file.read_text())["address"]

    def start_worker(self, name: str, *extra: str, python: list[str] | None = None,
                     env: dict[str, str] | None = None) -> None:
        """A `dask worker --nthreads 1` in its own mount namespace, where ``base`` is an empty tmpfs."""
        command = [*python, "-m", "distributed.cli.dask_worker"] if python else [str(DASK), "worker"]
        argv = [*command, self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                "--name", f"{name}-{self.token}", *extra]
        script = 'mount -t tmpfs tmpfs "$1" && shift && exec "$@"'
        self.workers[name] = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(self.base), *argv],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd="/",
            env={**os.environ, TOKEN_VARIABLE: self.token, **(env or {})},
        )

    def kill_worker(self, name: str) -> None:
        process = self.workers.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def close(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name)
        if self.scheduler is not None:
            os.killpg(self.scheduler.pid, signal.SIGKILL)
            self.scheduler.wait(timeout=30)


def _client(cluster: Cluster, workers: int) -> Any:
    client = distributed.Client(cluster.address, timeout="30s")
    client.wait_for_workers(workers, timeout=90)
    return client


def _address_of(client: Any, name: str) -> str:
    """The address of the worker whose ``--name`` starts with ``name-``."""
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        if str(info.get("name", "")).startswith(f"{name}-"):
            return str(address)
    raise AssertionError(f"no worker named {name}")


def _grade_keys_by_worker(client: Any, since: float) -> dict[str, str]:
    """Task key -> address of the worker that ran it, from the scheduler's task stream."""
    return {str(record["key"]): str(record["worker"]) for record in client.get_task_stream(start=since)
            if str(record["key"]).startswith("grade-")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The course, a class of ~20 submissions and the local executor's documents, under one hidden folder."""
    base = tmp_path_factory.mktemp("dask-cluster")
    course = base / "course"
    shutil.copytree(ROOT / "assignments", course / "assignments",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    klass = base / "class"
    klass.mkdir()
    shutil.copy(ROOT / "reference" / "my_linear.py", klass / "alice.py")
    (klass / "carol").mkdir()  # a student's folder: its notebook travels as bytes too
    shutil.copy(ZOO / "my_linear" / "correct_notebook.ipynb", klass / "carol" / "my_linear.ipynb")
    for name in MY_LINEAR:
        shutil.copy(ZOO / "my_linear" / name, klass / name)
    for name in HOSTILE:
        shutil.copy(ZOO / "hostile" / name, klass / f"hostile_{name}")
    env = {"GRADER_COURSE": str(course)}
    local = base / "local"
    run = run_grader("grade", "my_linear", klass, "--out", local, "--jobs", "2", env=env, timeout=240)
    assert run.returncode == 0, run.stderr
    documents = {i: stable(d) for i, d in result_files(local).items()}
    assert len(documents) == 1 + 1 + len(MY_LINEAR) + len(HOSTILE)
    assert {d["status"] for d in documents.values()} >= {"graded", "crashed"}  # hostile ones are really there
    yield {"base": base, "course": course, "class": klass, "env": env, "local": documents,
           "sha256": pack_course(course, "my_linear").sha256}


def _processes_inheriting(token: str) -> dict[int, str]:
    """Live processes started with ``TOKEN_VARIABLE=token`` in their environment: what our workers started.

    A fresh zygote inherits its worker's environment, and its sandboxes are forks of it; so this finds them
    (and only them: other grader runs on this machine, a colleague's tests say, are none of this test's).
    """
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{TOKEN_VARIABLE}={token}".encode() in environ:
            found[int(entry.name)] = cmdline
    return found


@pytest.fixture
def cluster(world: dict[str, Any]) -> Iterator[Cluster]:
    """A scheduler (workers are the test's to start); nothing of it survives the test."""
    cluster = Cluster(world["base"], uuid.uuid4().hex[:12])
    try:
        cluster.start_scheduler()
        yield cluster
    finally:
        cluster.close()
        assert surviving_processes(cluster.token) == []  # the scheduler and workers (their names hold it)
        deadline = time.monotonic() + 10  # their zygotes and sandboxes die with them
        while _processes_inheriting(cluster.token) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _processes_inheriting(cluster.token)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == {}


def _grade(world: dict[str, Any], cluster: Cluster, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", "my_linear", str(world["class"]), "--out", str(out),
         "--executor", "dask", "--scheduler", cluster.address, *extra],
        cwd=ROOT, env={**os.environ, **world["env"], "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_a_result(batch: subprocess.Popen[str], out: Path, seconds: float) -> None:
    """Wait until the batch has written its first result, has ended, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while not list(out.glob("*.json")) and time.monotonic() < deadline and batch.poll() is None:
        time.sleep(0.1)


@pytest.mark.timeout(150)
def test_workers_without_the_files_grade_like_the_local_executor(world: dict[str, Any], cluster: Cluster) -> None:
    for name in ("a", "b"):
        cluster.start_worker(name)
    client = _client(cluster, 2)
    try:
        # The workers cannot see the course, the class or the results folder: only the tasks carry them.
        for path in (world["course"], world["class"], world["class"] / "alice.py", world["base"] / "dask"):
            assert set(client.run(os.path.exists, str(path)).values()) == {False}, path
        since = time.time()
        client.get_task_stream(start=since)  # start recording which worker runs what
        out = world["base"] / "dask"
        run = run_grader("grade", "my_linear", world["class"], "--out", out, "--executor", "dask",
                         "--scheduler", cluster.address, env=world["env"], timeout=120)
        assert run.returncode == 0, run.stderr
        assert {i: stable(d) for i, d in result_files(out).items()} == world["local"]
        ran = _grade_keys_by_worker(client, since)
        assert len(ran) == len(world["local"]) and len(set(ran.values())) == 2  # both workers graded
        # The course was unpacked into the workers' cache, in a folder named by the hash of its files, without
        # the solutions; the batch then removed its plugin from the cluster, and the workers forgot the course.
        unpacked = cache_root() / world["sha256"]
        assert set(client.run(os.path.isfile, str(unpacked / "assignments/my_linear/checks.py")).values()) == {True}
        assert sorted(p.name for p in unpacked.iterdir()) == ["assignments"]
        assert set(client.run(shipped_course, world["sha256"]).values()) == {None}
        assert not any(name.startswith("grader-course-")
                       for name in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins)))
    finally:
        client.close()


@pytest.mark.timeout(150)
def test_a_killed_worker_changes_no_document_and_a_late_worker_gets_the_course(
        world: dict[str, Any], cluster: Cluster) -> None:
    """One worker starts the batch; a second joins mid-batch; the first is then killed with SIGKILL mid-task.

    The late worker can only grade with the course that the plugin gave it as it joined; it grades the rest,
    the killed worker's submission included (Dask runs it again), and every document is the local one.
    """
    cluster.start_worker("first")
    client = _client(cluster, 1)
    out = world["base"] / "killed"
    try:
        since = time.time()
        client.get_task_stream(start=since)
        batch = _grade(world, cluster, out)
        _wait_for_a_result(batch, out, 90)
        cluster.start_worker("late")  # the batch has started: its plugin is on the scheduler
        client.wait_for_workers(2, timeout=60)
        assert batch.poll() is None, "the batch ended before the late worker joined"
        killed = _address_of(client, "first")
        cluster.kill_worker("first")  # SIGKILL its process group, whatever it is grading
        _, stderr = batch.communicate(timeout=120)
        assert batch.returncode == 0, stderr
        assert {i: stable(d) for i, d in result_files(out).items()} == world["local"]
        late = _address_of(client, "late")
        ran = _grade_keys_by_worker(client, since)
        assert set(ran.values()) == {killed, late} and len(ran) == len(world["local"]), ran
        assert not any("-elsewhere-" in key for key in ran), ran  # the late worker had the course
    finally:
        client.close()


@pytest.mark.timeout(150)
def test_a_late_worker_with_another_grader_version_gets_no_task_done(
        world: dict[str, Any], cluster: Cluster, tmp_path: Path) -> None:
    """A worker that joins mid-batch with another version holds no course; its tasks go to the others."""
    other = _other_grader(tmp_path)
    cluster.start_worker("good")
    client = _client(cluster, 1)
    out = world["base"] / "late-mismatch"
    try:
        since = time.time()
        client.get_task_stream(start=since)
        batch = _grade(world, cluster, out)
        _wait_for_a_result(batch, out, 60)
        cluster.start_worker("other", python=[sys.executable, "-S"],
                             env={"PYTHONPATH": f"{other}:{SITE_PACKAGES}"})
        client.wait_for_workers(2, timeout=60)
        assert batch.poll() is None, "the batch ended before the other worker joined"
        _, stderr = batch.communicate(timeout=120)
        assert batch.returncode == 0, stderr
        assert {i: stable(d) for i, d in result_files(out).items()} == world["local"]
        ran = _grade_keys_by_worker(client, since)
        good, other_address = _address_of(client, "good"), _address_of(client, "other")
        refused = [key for key, address in ran.items() if address == other_address]
        assert refused, ran  # the late worker was sent tasks...
        for key in refused:  # ...answered each at once, and the batch graded it on the good worker instead
            assert ran[f"{key.split('-elsewhere-')[0]}-elsewhere-{_attempt(key) + 1}"] == good
    finally:
        client.close()


def _attempt(key: str) -> int:
    return int(key.rsplit("-elsewhere-", 1)[1]) if "-elsewhere-" in key else 0


def _other_grader(folder: Path, version: str = "0.0.1-other") -> Path:
    """A copy of this grader that says it is ``version``: what an outdated worker has installed."""
    shutil.copytree(ROOT / "grader", folder / "other" / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    init = folder / "other" / "grader" / "__init__.py"
    text = init.read_text()
    assert '__version__ = "' in text
    init.write_text(text.replace('__version__ = "', f'__version__ = "{version}"  # was "', 1))
    return folder / "other"


@pytest.mark.timeout(150)
def test_workers_without_the_grader_or_with_another_version_are_refused_before_any_task(
        world: dict[str, Any], cluster: Cluster, tmp_path: Path) -> None:
    # Without site's .pth files the editable install is invisible: this Python has distributed, not the grader.
    bare = {"PYTHONPATH": SITE_PACKAGES}
    check = subprocess.run([sys.executable, "-S", "-c", "import distributed, torch, grader"], cwd="/",
                           env={**os.environ, **bare}, capture_output=True, text=True)
    assert "No module named 'grader'" in check.stderr
    cluster.start_worker("bare", python=[sys.executable, "-S"], env=bare)
    client = _client(cluster, 1)
    try:
        bare_address = _address_of(client, "bare")
        out = world["base"] / "refused"
        run = run_grader("grade", "my_linear", world["class"], "--out", out, "--executor", "dask",
                         "--scheduler", cluster.address, env=world["env"], timeout=60)
        assert run.returncode == 2
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and f"Dask worker {bare_address} cannot run the grader" in lines[0], run.stderr
        assert "No module named 'grader'" in lines[0]
        assert not out.exists()  # stopped before the results folder, let alone a task

        cluster.kill_worker("bare")
        other = _other_grader(tmp_path)
        cluster.start_worker("other", python=[sys.executable, "-S"], env={"PYTHONPATH": f"{other}:{SITE_PACKAGES}"})
        client.wait_for_workers(1, timeout=60)
        other_address = _address_of(client, "other")
        run = run_grader("grade", "my_linear", world["class"], "--out", out, "--executor", "dask",
                         "--scheduler", cluster.address, env=world["env"], timeout=60)
        assert run.returncode == 2
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert (f"Dask worker {other_address} runs grader 0.0.1-other (the TA has "
                f"{__import__('grader').__version__})") in lines[0], run.stderr
        assert not out.exists()  # stopped before the results folder, let alone a task
    finally:
        client.close()


@pytest.mark.timeout(120)
def test_cuda_tasks_go_only_to_workers_that_offer_a_gpu(world: dict[str, Any], cluster: Cluster) -> None:
    """`--device cuda` asks each task for one GPU: only the worker started with `--resources GPU=1` runs them.

    First, with only a CPU worker, the batch is refused before any task. This machine has no CUDA device, so
    the GPU worker's documents say so (crashed); what is tested is where the scheduler sent the tasks, and that
    a TA without a GPU may send CUDA work to a cluster that has one.
    """
    cluster.start_worker("cpu")
    _client(cluster, 1).close()
    run = run_grader("grade", "my_linear", world["class"], "--out", world["base"] / "nogpu", "--executor", "dask",
                     "--scheduler", cluster.address, "--device", "cuda", env=world["env"], timeout=60)
    assert run.returncode == 2
    assert "no Dask worker offers a GPU" in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not (world["base"] / "nogpu").exists()

    cluster.start_worker("gpu", "--resources", "GPU=1")
    client = _client(cluster, 2)
    try:
        gpu = _address_of(client, "gpu")
        since = time.time()
        client.get_task_stream(start=since)
        out = world["base"] / "cuda"
        run = run_grader("grade", "my_linear", world["class"], "--out", out, "--executor", "dask",
                         "--scheduler", cluster.address, "--device", "cuda", env=world["env"], timeout=90)
        assert run.returncode == 0, run.stderr
        ran = _grade_keys_by_worker(client, since)
        assert ran and set(ran.values()) == {gpu}, ran
        documents = result_files(out)
        assert len(documents) == len(world["local"])
        for document in documents.values():
            assert document["environment"]["devices"] == ["cuda"]
            assert document["status"] == "crashed" and "no usable CUDA device" in document["errors"][0]["message"]
    finally:
        client.close()


# ---- packing and unpacking, without a cluster ---------------------------------------------------------


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Hashes whose unpacked copies a test made in this machine's cache: removed afterwards."""
    hashes: list[str] = []
    yield hashes
    for sha256 in hashes:
        shutil.rmtree(cache_root() / sha256, ignore_errors=True)


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_course_is_packed_without_solutions_and_keyed_by_its_content(tmp_path: Path, forget: list[str]) -> None:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "assignments" / "my_linear", course / "assignments" / "my_linear")
    shutil.copytree(ROOT / "reference", course / "reference")
    first, again = pack_course(course, "my_linear"), pack_course(course, "my_linear")
    assert first == again  # the same files give the same bytes, whatever their times or owners
    with tarfile.open(fileobj=io.BytesIO(first.data)) as tar:
        names = tar.getnames()
    assert "assignments/my_linear/checks.py" in names and "assignments/my_linear/probes.py" in names
    assert not any("reference" in name or "__pycache__" in name for name in names)
    checks = course / "assignments" / "my_linear" / "checks.py"
    checks.write_text(checks.read_text() + "\n# a fix in the checks\n")
    changed = pack_course(course, "my_linear")
    assert changed.sha256 != first.sha256
    forget.append(changed.sha256)
    # Each version unpacks into its own folder: they never mix.
    old, new = unpack_course(first.data, first.sha256), unpack_course(changed.data, changed.sha256)
    assert old != new and old.name == first.sha256 and new.name == changed.sha256
    assert (new / "assignments/my_linear/checks.py").read_text().endswith("# a fix in the checks\n")
    assert not (old / "assignments/my_linear/checks.py").read_text().endswith("# a fix in the checks\n")
    (course / "assignments" / "my_linear" / "link.py").symlink_to("/etc/passwd")
    with pytest.raises(CourseRefused, match="not a regular file"):
        pack_course(course, "my_linear")


@pytest.mark.parametrize("name, kind", [("../escape.py", tarfile.REGTYPE), ("/etc/escape.py", tarfile.REGTYPE),
                                        ("assignments/x/../../escape.py", tarfile.REGTYPE),
                                        ("assignments/link.py", tarfile.SYMTYPE),
                                        ("assignments/hard.py", tarfile.LNKTYPE),
                                        ("assignments/fifo", tarfile.FIFOTYPE)])
def test_an_unsafe_course_tar_is_refused_and_leaves_nothing(name: str, kind: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "/etc/passwd"
    data = _tar((tarfile.TarInfo(f"assignments/{uuid.uuid4().hex}.py"), b"x = 1\n"), (info, b""))
    sha256 = hashlib.sha256(data).hexdigest()
    with pytest.raises(CourseRefused):
        unpack_course(data, sha256)
    assert not (cache_root() / sha256).exists()
    assert not any(p.name.startswith(f".{sha256[:16]}-") for p in cache_root().iterdir())  # no half-written copy
    with pytest.raises(CourseRefused, match="does not match its hash"):
        unpack_course(data, "0" * 64)


def _unpack_in_child(data: bytes, sha256: str, queue: Any) -> None:
    queue.put(str(unpack_course(data, sha256)))


def test_two_workers_on_one_machine_unpacking_at_once_get_one_complete_copy(forget: list[str]) -> None:
    files = [(tarfile.TarInfo(f"assignments/a/{i:03}.py"), os.urandom(20000)) for i in range(200)]
    data = _tar(*files)
    sha256 = hashlib.sha256(data).hexdigest()
    forget.append(sha256)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_unpack_in_child, args=(data, sha256, queue)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    folders = {queue.get(timeout=5) for _ in children}
    assert folders == {str(cache_root() / sha256)}
    assert sorted(p.name for p in (cache_root() / sha256 / "assignments" / "a").iterdir()) == \
        sorted(Path(info.name).name for info, _ in files)
    assert not any(p.name.startswith(f".{sha256[:16]}-") for p in cache_root().iterdir())


def test_a_torch_version_mismatch_names_the_worker_and_both_versions() -> None:
    ta = {"grader": "0.1.0", "torch": "2.13.0"}
    assert version_problem("tcp://10.0.0.7:4000", ta, {"grader": "0.1.0", "torch": "2.13.0"}) is None
    message = version_problem("tcp://10.0.0.7:4000", ta, {"grader": "0.1.0", "torch": "2.12.1"})
    assert message is not None and "\n" not in message
    assert "Dask worker tcp://10.0.0.7:4000 runs torch 2.12.1 (the TA has 2.13.0)" in message
    assert versions()["torch"] == __import__("torch").__version__.split("+")[0]  # a build suffix is not a version


def test_a_submission_whose_folder_does_not_exist_on_the_worker_is_graded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker grades bytes whose TA-side folder it does not have (it once hid /tmp from the sandbox and crashed)."""
    monkeypatch.setenv("GRADER_COURSE", str(ROOT))  # grade_task sets it, as on a worker; restored after the test
    from grader.session import Limits
    from grader.workers import Task, grade_task, task_limits

    data = (ROOT / "reference" / "my_linear.py").read_bytes()
    task = Task("my_linear", str(ROOT), f"/tmp/absent-{uuid.uuid4().hex}/class/alice.py", "alice",
                hashlib.sha256(data).hexdigest(), "cpu", None, task_limits(Limits()), name="alice.py", data=data)
    reply = grade_task(task)
    assert reply["ok"] and reply["document"]["status"] == "graded", reply
