"""``grader grade``: a whole class, resumable, from a folder, an archive or an LMS export.

The stages, each in a module named for it: :mod:`grader.intake` turns the command line's files, folders
and archives into one submission per student, with ids and LMS identities (and a list of what it skipped
and why); :class:`~grader.store.ResultStore` knows which are already graded and writes each new result
atomically the moment it arrives; an executor from :mod:`grader.workers` grades the rest
(:mod:`grader.progress` shows how far it got); at the end :mod:`grader.summaries` rebuilds the summaries,
the class report and the gradebook from the result files on disk, so a run that was killed at any moment
and then resumed ends with exactly one row per submission.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from grader import __version__
from grader.assignment import Assignment
from grader.grading import environment, not_run_checks
from grader.intake import Discovery, Found, find_submissions
from grader.intake.files import Refused
from grader.progress import Progress
from grader.store import OutputNotWritable, ResultStore
from grader.submission import READ_LIMIT
from grader.summaries import print_summary, write_summaries
from grader.workers import DaskPool, Task


class BatchUsageError(Exception):
    """The batch cannot start as asked; the message is one line."""


@dataclass
class BatchOptions:
    """How ``grader grade`` runs."""

    jobs: int = 1
    device: str = "auto"
    timeout: float | None = None
    memory: int | None = None
    cell_timeout: float | None = None
    seed: int | None = None
    force: bool = False
    executor: str = "local"
    scheduler: str | None = None
    gradescope: bool = False
    gradebook: str | None = None
    gradebook_column: str | None = None


@dataclass
class Plan:
    """What a batch will do: the submissions found, the results folder, what to grade, what to refuse."""

    discovery: Discovery
    store: ResultStore
    tasks: list[Task]  # to grade in a worker
    refused: list[Task]  # rejected without running anything (a link, no file to grade...): ``problem`` says why


def _task_for(item: Found, template: Task) -> Task:
    """The task of one submission: its bytes read now (without following links), or why they cannot be."""
    try:
        data = item.read(READ_LIMIT)
    except Refused as exc:
        return replace(template, path=item.path, id=item.id, name=item.name, problem=exc.message,
                       problem_kind=exc.kind, sha256=hashlib.sha256(exc.message.encode()).hexdigest())
    except OSError as exc:
        message = (f"{item.path} could not be read ({exc.strerror or type(exc).__name__}). Check that the file "
                   "exists and that the grader may read it, then grade it again.")
        return replace(template, path=item.path, id=item.id, name=item.name, problem=message,
                       problem_kind="unreadable", sha256=hashlib.sha256(message.encode()).hexdigest())
    return replace(template, path=item.path, id=item.id, name=item.name, data=data,
                   sha256=hashlib.sha256(data).hexdigest())


def _plan(assignment_name: str, paths: Sequence[Path], out: Path, options: BatchOptions, template: Task,
          errors: TextIO) -> Plan:
    """Find the submissions, open the results folder, and list the tasks (those not already graded)."""
    discovery = find_submissions(paths, assignment_name)
    for problem in discovery.problems:
        print(f"grader: warning: {problem}", file=errors)
    if not discovery.submissions:
        raise BatchUsageError(f"no .py or .ipynb submissions found in {', '.join(map(str, paths))}")
    try:
        store = ResultStore(out)
    except OutputNotWritable as exc:
        raise BatchUsageError(str(exc)) from None
    plan, kept = Plan(discovery, store, [], []), 0
    for item in discovery.submissions:
        task = _task_for(item, template)
        if not options.force and store.up_to_date(item.id, task.sha256, assignment_name):
            kept += 1
            continue
        (plan.refused if task.problem is not None else plan.tasks).append(task)
    if kept:
        print(f"grader: {kept} submission(s) already graded with this content; not graded again "
              "(--force regrades them)", file=errors)
    return plan


def _count_tasks_elsewhere(assignment_name: str, paths: Sequence[Path], out: Path, options: BatchOptions,
                           template: Task) -> int:
    """How many tasks :func:`_plan` will find, counted in a forked child.

    Counting here would put the class list into this process, from which the workers then fork. 0 when
    the child cannot tell: this process's own plan then says why, or :meth:`LocalPool.run` starts
    workers whose zygotes are fresh interpreters.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: plan quietly, write the count, exit without cleanup
        code = 1
        try:
            os.close(reader)
            tasks = _plan(assignment_name, paths, out, options, template, io.StringIO()).tasks
            os.write(writer, str(len(tasks)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return int(answer) if answer.isdigit() else 0


def run_batch(assignment_name: str, paths: Sequence[Path], out: Path, options: BatchOptions,
              stream: TextIO = sys.stdout, errors: TextIO = sys.stderr) -> int:
    """Grade every submission in ``paths`` into ``out``; returns 0 when done, 130 when interrupted."""
    from grader.assignment import course_root, load_assignment, require_assignment
    from grader.grading import DeviceUnavailable, cuda_available, select_devices
    from grader.session import Limits
    from grader.workers import LocalPool, task_limits

    require_assignment(assignment_name)
    import torch  # before any fork: the workers start warm (and nothing here computes with it)

    limits = Limits.for_timeout(options.timeout, options.memory, options.cell_timeout)
    course = str(course_root())
    template = Task(assignment_name, course, "", "", "", options.device, options.seed, task_limits(limits))
    pool: LocalPool | DaskPool
    if options.executor == "dask":
        if not options.scheduler:
            raise BatchUsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        pool, tested, absent, template = _dask_pool(options, template)
        try:
            plan = _plan(assignment_name, paths, out, options, template, errors)
        except BaseException:
            pool.close()
            raise
    else:
        try:
            tested, absent = select_devices(options.device, cuda_available())
        except DeviceUnavailable as exc:
            raise BatchUsageError(str(exc)) from None
        from grader.sandbox.zygote import preload

        # The workers are forked before this process reads the class list (or the checks): their zygotes,
        # and every sandbox forked from those, hold no classmate's name or path in memory. See LocalPool.
        # How many are needed is counted in a short-lived fork, so the class list never enters this one.
        pool = LocalPool(options.jobs)
        needed = _count_tasks_elsewhere(assignment_name, paths, out, options, template)
        if needed:
            preload()
            pool.start(template, needed)
        try:
            plan = _plan(assignment_name, paths, out, options, template, errors)
        except BaseException:
            pool.close()
            raise
        pool.shrink(len(plan.tasks))
    del torch
    assignment = load_assignment(assignment_name)
    expected_columns = [entry.id for entry in not_run_checks(assignment, tested, absent, "")]
    store, discovery = plan.store, plan.discovery
    identities = {item.id: item for item in discovery.submissions}
    progress = Progress(len(plan.tasks) + len(plan.refused), errors)

    def on_result(task: Task, reply: dict[str, Any]) -> None:
        if reply.get("ok"):
            document, gradescope = reply["document"], reply["gradescope"]
        elif task.problem is not None:
            document, gradescope = _not_graded(assignment, task, tested, absent, "rejected", task.problem_kind,
                                               task.problem)
        else:
            text = (f"The grader could not finish this submission: {reply.get('message')}. This is not a verdict "
                    "on the code; run the batch again to retry it, and tell the course staff if it happens again.")
            document, gradescope = _not_graded(assignment, task, tested, absent, "crashed", "crashed", text)
        _identify(document, identities.get(task.id))
        store.save(task.id, document)
        store.save_feedback(task.id, document)
        if options.gradescope:
            store.save_gradescope(task.id, gradescope)
        progress.update(task.id, document)

    interrupted = False
    try:
        for task in plan.refused:
            on_result(task, {"ok": False})
        pool.run(plan.tasks, on_result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        pool.close()
    ids = [item.id for item in discovery.submissions]
    summary = write_summaries(store, assignment, ids, expected_columns, discovery.problems,
                              gradebook=options.gradebook, gradebook_column=options.gradebook_column, errors=errors)
    print_summary(summary, out, stream)
    if interrupted:
        print(f"grader: interrupted; {summary['submissions']} of {len(ids)} results are in {out}. Run the same "
              "command again to grade the rest.", file=errors)
        return 130
    return 0


def _dask_pool(options: BatchOptions, template: Task) -> tuple[DaskPool, list[str], list[str], Task]:
    """Connect to the cluster, decide the devices from its workers, check them and ship them the course.

    CUDA is tested only when ``--device cuda`` or ``--device all`` asks for it and some worker offers a
    ``GPU`` resource (the TA's own machine needs no GPU); only then does each task ask for one ``GPU``.
    ``auto`` tests the CPU: a worker's own hardware must not change a document, wherever a task runs.
    """
    from grader.course_shipping import CourseRefused
    from grader.grading import DeviceUnavailable, select_devices

    assert options.scheduler
    try:
        pool = DaskPool(options.scheduler)
    except (RuntimeError, OSError) as exc:
        raise BatchUsageError(str(exc)) from None
    try:
        device = "cpu" if options.device == "auto" else options.device
        try:
            tested, absent = select_devices(device, device in ("cuda", "all") and pool.offers_gpu())
        except DeviceUnavailable:
            raise BatchUsageError("--device cuda: no Dask worker offers a GPU (start GPU workers with "
                                  "`dask worker ADDRESS --resources GPU=1`), or use --device auto") from None
        pool.gpu = "cuda" in tested
        sha256 = pool.ship_course(Path(template.course), template.assignment)
    except CourseRefused as exc:
        pool.close()
        raise BatchUsageError(str(exc)) from None
    except BaseException:
        pool.close()
        raise
    return pool, tested, absent, replace(template, device=device, course_sha256=sha256)


def _identify(document: dict[str, Any], item: Found | None) -> None:
    """Add what the intake knows of the student (LMS identity, files left out) to the result's ``submission``."""
    if item is None:
        return
    if item.lms is not None:
        document["submission"]["lms"] = item.lms
    if item.left_out:
        document["submission"]["left_out"] = list(item.left_out)


def _not_graded(assignment: Assignment, task: Task, tested: list[str], absent: list[str], status: str, kind: str,
                message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result of a submission that no sandbox ran: ``rejected`` by the intake, or ``crashed`` (a worker died)."""
    from grader.results import Result, to_gradescope

    first = message.splitlines()[0] if message else ""
    not_run = ("Not run: the grader could not finish this submission." if status == "crashed"
               else f"Not run: {first}")
    result = Result(
        assignment=assignment.name,
        submission={"id": task.id, "path": task.path, "sha256": task.sha256,
                    "kind": "ipynb" if task.name.lower().endswith(".ipynb") else "py"},
        status=status,
        checks=not_run_checks(assignment, tested, absent, not_run),
        errors=[{"kind": kind, "message": message, "line": None}],
        environment=environment(tested, []),
        duration_s=0.0,
        grader_version=__version__,
    )
    return result.to_document(), to_gradescope(result)
