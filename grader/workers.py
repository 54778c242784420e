"""Where batch grading runs: warm local worker processes, or tasks on a Dask cluster.

Both executors run the same task, :func:`grade_task`: grade one submission file and return a plain
status dictionary, never raise. The results are the same wherever a task runs, because the seed of a
submission's inputs is derived from its content hash (:func:`submission_seed`), so a task that Dask
re-runs after a worker died gives the same document again.

Local workers (:class:`LocalPool`) are forked from the ``grader grade`` process right after it imported
torch (and never computed with it: it only reads and writes files). Each worker keeps one
:class:`~grader.grading.Grader`, whose zygote forks a sandbox per submission, so a submission costs a
fork and its checks, not an interpreter start-up. A worker that dies or hangs is killed and replaced by
a new fork, and its submission gets a ``crashed`` result saying so; the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox.limits import set_parent_death_signal
from grader.session import Limits

#: Extra seconds a worker gets beyond a submission's own time limit before it is presumed stuck.
WORKER_GRACE_S = 60.0


@dataclass(frozen=True)
class Task:
    """One submission to grade, in plain data (it travels to Dask workers)."""

    assignment: str
    course: str
    path: str
    id: str
    sha256: str
    device: str = "auto"
    seed: int | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the file's name (its extension says how to read it); the path's last part when empty
    data: bytes | None = None  # the submission's bytes, read by the batch; None: read ``path`` here
    problem: str | None = None  # why the batch rejected it without grading (then no worker runs it)
    problem_kind: str = "rejected"
    #: The course shipped to Dask workers (:mod:`grader.course_shipping`), by the sha256 of its packed files;
    #: a worker then grades with its own unpacked copy and ``course`` is only the TA's name for it.
    course_sha256: str = ""
    #: Stop at the first check that loses points, the rest reported as not run: mutation testing
    #: (:mod:`grader.mutants`) only asks whether a mutant lost a point, never for a student.
    until_first_loss: bool = False

    @property
    def key(self) -> str:
        """A name for the task that is the same for the same submission content (Dask task key)."""
        return f"grade-{self.assignment}-{self.id}-{self.sha256[:16]}"


def submission_seed(sha256: str, seed: int | None) -> int:
    """The seed of a submission's inputs in a batch: from its content (and ``--seed`` when given)."""
    digest = hashlib.sha256(f"{seed if seed is not None else ''}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


# ---- the task ------------------------------------------------------------------------------------

_GRADERS: dict[tuple[Any, ...], Any] = {}


def _grader_for(task: Task, fresh_zygote: bool) -> Any:
    from grader.startup import collector_paused

    with collector_paused():  # the first task in a Dask worker imports torch here (see grader.startup)
        from grader.grading import Grader, Options

    key = (task.device, tuple(sorted(task.limits.items())))
    grader = _GRADERS.get(key)
    if grader is None:
        options = Options(device=task.device, limits=Limits(**task.limits))
        grader = _GRADERS[key] = Grader(options, fresh_zygote=fresh_zygote)
    return grader


def grade_task(task: Task, fresh_zygote: bool = True) -> dict[str, Any]:
    """Grade one submission; returns ``{"ok": True, "document": ...}`` or ``{"ok": False, "message": ...}``.

    Never raises: a failure of the grader itself becomes a status, so that an executor never retries a
    task because of it. In a process of unknown history (a Dask worker), ``fresh_zygote`` starts the
    sandboxes' zygote as a new interpreter instead of forking this process.
    """
    try:
        from grader.assignment import load_assignment

        root = Path(task.course) if task.course else None
        if task.course_sha256:
            root = _shipped_course(task.course_sha256)
            if root is None:
                return _not_ready(task.course_sha256)
        if root is not None:
            os.environ["GRADER_COURSE"] = str(root)
        grader = _grader_for(task, fresh_zygote)
        assignment = load_assignment(task.assignment, root)
        result = grader.grade(assignment, Path(task.path), task.id, seed=submission_seed(task.sha256, task.seed),
                              data=task.data, name=task.name or None, until_first_loss=task.until_first_loss)
        from grader.results import to_gradescope

        return {"ok": True, "document": result.to_document(), "gradescope": to_gradescope(result)}
    except BaseException as exc:  # the batch must go on; the caller records this submission as crashed
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}"}


def _shipped_course(sha256: str) -> Path | None:
    from grader.course_shipping import shipped_course

    return shipped_course(sha256)


def _worker_address() -> str:
    """The address of the Dask worker running this task ("" outside Dask)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def _not_ready(sha256: str) -> dict[str, Any]:
    """The reply of a worker holding no copy of the course: the batch sends the task to another worker."""
    from grader.course_shipping import course_problem

    address = _worker_address()
    why = course_problem(sha256) or (f"Dask worker {address or '?'} holds no copy of course {sha256[:16]} "
                                     "(its worker plugin did not run there)")
    return {"ok": False, "not_ready": address, "message": why}


# ---- local workers -------------------------------------------------------------------------------

OnResult = Callable[[Task, dict[str, Any]], None]


def _worker_main(conn: multiprocessing.connection.Connection, first: Task | None, fresh: bool,
                 batch: int) -> None:
    """A local worker: build one Grader (its zygote forked from this process unless ``fresh``), then grade.

    ``batch`` is the pid of the batch that forked it.
    """
    # Its own process group keeps it out of the batch's kill; so die with the batch (kill -9 included),
    # or a worker would wait forever on a pipe that its sibling workers still hold open. Set before it
    # leaves the batch's group: a kill between the two then still reaches it, one way or the other.
    set_parent_death_signal(parent=batch)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    os.setpgid(0, 0)
    if first is not None:
        _grader_for(first, fresh_zygote=fresh)  # warm up before the first task arrives
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            conn.send(grade_task(task, fresh_zygote=fresh))
    finally:
        for grader in _GRADERS.values():  # stop the zygotes cleanly: they remove their sandbox cgroups
            grader.close()


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    task: Task | None = None
    started: float = 0.0


class LocalPool:
    """``jobs`` worker processes forked from this one, which must not have computed with torch.

    Call :meth:`start` before this process reads the class list or imports any assignment's checks:
    workers forked then fork their sandboxes' zygote directly, and no sandbox inherits classmates' names
    and paths, or the checks, in memory. A worker that replaces a dead one later starts its zygote as a
    fresh interpreter, for the same reason.
    """

    def __init__(self, jobs: int) -> None:
        """Prepare a pool of ``jobs`` workers."""
        self.jobs = max(1, jobs)
        self._context = multiprocessing.get_context("fork")
        self._slots: list[_Slot] = []
        self._started = False

    def _start(self, warm: Task | None, fresh: bool) -> _Slot:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, warm, fresh, os.getpid()),
                                        daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def start(self, template: Task, workers: int | None = None, fresh: bool = False) -> None:
        """Fork ``workers`` workers (at most ``jobs``); each builds its Grader for ``template``'s settings.

        Call it before this process reads the class list: a worker's memory, its zygote's and every
        sandbox's are copies of this process's at the fork. Otherwise pass ``fresh``: the zygotes then
        start as new interpreters (about 1.5 s each) and hold nothing of this process.
        """
        while len(self._slots) < min(self.jobs, self.jobs if workers is None else workers):
            self._slots.append(self._start(template, fresh=fresh))
        self._started = True

    def shrink(self, tasks: int) -> None:
        """Stop the workers beyond what ``tasks`` submissions need (all of them when there are none)."""
        keep = max(0, min(len(self._slots), tasks))
        extra, self._slots = self._slots[keep:], self._slots[:keep]
        for slot in extra:
            self._stop(slot)

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        """Grade every task, calling ``on_result`` in this process as each finishes (in finishing order)."""
        pending = list(tasks)
        pending.reverse()
        if not pending:
            return
        if not self._started:  # forked now, they would copy the task list: their zygotes start fresh
            self.start(pending[-1], len(pending), fresh=True)
        try:
            while pending or any(slot.task for slot in self._slots):
                for slot in self._slots:
                    if slot.task is None and pending:
                        slot.task, slot.started = pending.pop(), time.monotonic()
                        try:
                            slot.conn.send(slot.task)
                        except OSError:
                            pass  # a dead worker: noticed below, and the task reported as crashed
                busy = [slot.conn for slot in self._slots if slot.task is not None]
                ready = multiprocessing.connection.wait(busy, timeout=1.0)
                for index, slot in enumerate(self._slots):
                    if slot.task is None:
                        continue
                    if slot.conn in ready:
                        task, slot.task = slot.task, None
                        try:
                            reply = slot.conn.recv()
                        except (EOFError, OSError):
                            reply = {"ok": False, "message": self._died(slot)}
                            self._slots[index] = self._replace(slot)
                        on_result(task, reply)
                    elif time.monotonic() - slot.started > _limit(slot.task) + WORKER_GRACE_S:
                        task = slot.task
                        self._slots[index] = self._replace(slot)
                        on_result(task, {"ok": False, "message": "grading this submission stopped responding "
                                         f"for over {_limit(task) + WORKER_GRACE_S:g} s and was stopped"})
        finally:
            self.close()

    def _died(self, slot: _Slot) -> str:
        slot.process.join(timeout=5)
        code = slot.process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
        return f"the grading worker {how} while grading this submission"

    def _replace(self, slot: _Slot) -> _Slot:
        self._kill(slot)
        return self._start(None, fresh=True)

    def _kill(self, slot: _Slot) -> None:
        """Kill the worker; its zygote (in the worker's process group) gets SIGTERM and cleans up as it goes.

        SIGKILL for the whole group would leave the zygote's sandbox cgroups behind until the next zygote's
        sweep; SIGTERM lets it kill its sandboxes and remove them (its parent-death signal sends the same).
        """
        pid = slot.process.pid
        if pid is not None and slot.process.is_alive():
            slot.process.kill()
        slot.process.join(timeout=5)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGTERM)  # whatever is left of the worker's group: its zygote
            except OSError:
                pass  # nothing left
        slot.conn.close()

    def _stop(self, slot: _Slot) -> None:
        """Ask an idle worker to finish (it closes its zygote), then make sure it is gone."""
        if slot.task is None and slot.process.is_alive():
            try:
                slot.conn.send(None)
            except OSError:
                pass
            slot.process.join(timeout=5)
        self._kill(slot)

    def close(self) -> None:
        """Stop every worker (their zygotes and sandboxes die with them)."""
        for slot in self._slots:
            self._stop(slot)
        self._slots = []


def _limit(task: Task) -> float:
    return float(task.limits.get("timeout", Limits.timeout))


# ---- Dask ----------------------------------------------------------------------------------------


#: How many times a task answered "no copy of the course here" is sent on to other workers.
DASK_ELSEWHERE = 3


class DaskPool:
    """Runs :func:`grade_task` on a Dask distributed cluster (``pip install ".[dask]"``).

    The workers need not see the TA's files: :meth:`ship_course` checks their versions and ships the
    course through a worker plugin (:mod:`grader.course_shipping`), and each task carries its
    submission's bytes.
    """

    def __init__(self, address: str, gpu: bool = False) -> None:
        """Connect to the scheduler at ``address``; with ``gpu``, each task asks for one ``GPU`` resource."""
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError(
                "--executor dask needs Dask distributed: pip install \".[dask]\" (or pip install distributed)"
            ) from None
        self.client = Client(address, timeout="20s")
        self.gpu = gpu
        self._plugin: str | None = None
        self._versions: dict[str, str] = {}

    def workers(self) -> dict[str, dict[str, Any]]:
        """The cluster's workers now, by address, as the scheduler describes them."""
        return dict(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def offers_gpu(self) -> bool:
        """Whether some worker offers a ``GPU`` resource (``dask worker --resources GPU=1``)."""
        return any(float(info.get("resources", {}).get("GPU", 0)) > 0 for info in self.workers().values())

    def ship_course(self, course: Path, assignment: str) -> str:
        """Check every worker's versions, then ship ``assignment``'s folder to all workers; returns its hash.

        Raises :class:`~grader.course_shipping.CourseRefused` (one line naming the worker and both
        versions) when a worker cannot import the grader or runs another grader or torch version: the batch
        then stops before any task. Workers that join later get the course (and the same check) from the
        plugin as they register.
        """
        from grader.course_shipping import CoursePlugin, CourseRefused, check_workers, pack_course, versions

        pack = pack_course(course, assignment)
        ta = self._versions = versions()
        problems = check_workers(self.client, ta)
        if problems:
            more = f" (and {len(problems) - 1} other worker(s))" if len(problems) > 1 else ""
            raise CourseRefused(problems[0] + more)
        try:
            self.client.register_plugin(CoursePlugin(pack, ta), name=pack.plugin_name)
        except CourseRefused:
            raise
        except Exception as exc:  # e.g. a worker that joined between the check and now, without the grader
            raise CourseRefused(f"a Dask worker could not set up the course: {type(exc).__name__}: {exc}") from None
        finally:
            self._plugin = pack.plugin_name
        return pack.sha256

    def run(self, tasks: Iterable[Task], on_result: OnResult) -> None:
        """Submit every task, then hand each result to ``on_result`` as it finishes.

        A worker that holds no copy of the course (its versions differ: it joined after the check) answers
        so at once; the task is then sent to the other workers, up to :data:`DASK_ELSEWHERE` times.
        """
        from distributed import as_completed

        resources = {"GPU": 1} if self.gpu else None
        futures: dict[Any, tuple[Task, int]] = {}
        refused: set[str] = set()

        def submit(task: Task, attempt: int) -> Any:
            assert task.data is not None or not task.course_sha256, "a remote task must carry its submission's bytes"
            where: dict[str, Any] = {}
            if refused:
                where = {"workers": [w for w in self.workers() if w not in refused] or list(refused),
                         "allow_other_workers": False}
            key = task.key if attempt == 0 else f"{task.key}-elsewhere-{attempt}"
            future = self.client.submit(grade_task, task, key=key, pure=False, resources=resources, retries=1,
                                        **where)
            futures[future] = (task, attempt)
            return future

        pending = as_completed([submit(task, 0) for task in tasks])
        for future in pending:
            task, attempt = futures.pop(future)
            try:
                reply = future.result()
            except BaseException as exc:  # e.g. KilledWorker: the worker died twice on this submission
                reply = {"ok": False, "message": f"the Dask task failed: {type(exc).__name__}: {exc}"}
            misfit = self._misfit(future, reply)
            future.release()
            if misfit is not None and attempt < DASK_ELSEWHERE:
                refused.add(misfit)
                pending.add(submit(task, attempt + 1))
                continue
            on_result(task, reply)

    def _misfit(self, future: Any, reply: dict[str, Any]) -> str | None:
        """The worker whose reply cannot be used: it holds no copy of the course, or graded with other versions.

        The second guards against a worker that joined after the check with a grader too old to refuse.
        """
        if reply.get("not_ready") is not None:
            return str(reply["not_ready"])
        if not reply.get("ok") or not self._versions:
            return None
        from grader.course_shipping import version_problem

        document = reply["document"]
        used = {"grader": str(document.get("grader_version")),
                "torch": str(document.get("environment", {}).get("torch", "")).split("+", 1)[0]}
        if version_problem("", self._versions, used) is None:
            return None
        worker = str((self.client.who_has([future]).get(future.key) or ["?"])[0])
        reply.update(ok=False, message=version_problem(worker, self._versions, used))  # if none other takes it
        return worker

    def close(self) -> None:
        """Remove the course's plugin from the cluster (the unpacked copies stay cached), then disconnect."""
        if self._plugin is not None:
            try:
                self.client.unregister_worker_plugin(self._plugin)
            except Exception:  # already gone (another batch of the same course removed it)
                pass
            self._plugin = None
        self.client.close()


def task_limits(limits: Limits) -> dict[str, Any]:
    """A Limits as the plain dictionary a Task carries."""
    return asdict(limits)
