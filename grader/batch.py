"""``grader grade``: a whole class, resumable, with a summary a TA can read.

The stages, in order: :func:`find_submissions` turns the command line's files and folders into
submissions with ids (and a list of what it skipped and why); :class:`ResultStore` knows which are
already graded (same assignment, same content hash, same grader version) and writes each new result
atomically the moment it arrives; an executor from :mod:`grader.workers` grades the rest; at the end
:func:`write_summaries` rebuilds ``summary.csv``, ``summary.json`` and ``report.html`` from the result
files on disk, so a run that was killed at any moment and then resumed ends with exactly one row per
submission.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from grader import __version__
from grader.assignment import Assignment
from grader.grading import environment, not_run_checks
from grader.results import write_atomic
from grader.workers import Task

#: File kinds that are submissions.
SUBMISSION_SUFFIXES = (".py", ".ipynb")
#: Names the batch writes itself; a submission with such an id gets a suffix instead.
RESERVED_IDS = {"summary", "report"}
_UNSAFE = re.compile(r"[^\w.@+=-]")


@dataclass(frozen=True)
class Found:
    """A submission file and the id its results are stored under."""

    id: str
    path: Path


@dataclass
class Discovery:
    """What the command line's paths hold: submissions, and what was skipped or renamed and why."""

    submissions: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_submission(path: Path) -> bool:
    return path.suffix.lower() in SUBMISSION_SUFFIXES


def _hidden(path: Path) -> bool:
    return path.name.startswith((".", "_")) or path.name == "__pycache__"


def find_submissions(paths: Sequence[Path], assignment: str) -> Discovery:
    """Submissions in ``paths`` (files, folders of files, folders of one-submission folders), with ids.

    An id is the file's stem (or the sub-folder's name). Two files with the same stem (``alice.py`` and
    ``alice.ipynb``) are both graded, under ids that keep their extension, and the clash is reported.
    """
    found = Discovery()
    candidates: list[Found] = []
    for path in paths:
        if not path.exists():
            found.problems.append(f"{path}: no such file or folder (skipped)")
        elif path.is_file():
            if _is_submission(path):
                candidates.append(Found(path.stem, path))
            else:
                found.problems.append(f"{path}: not a .py or .ipynb file (skipped)")
        else:
            before = len(candidates)
            for entry in sorted(path.iterdir()):
                if _hidden(entry):
                    continue
                if entry.is_dir():
                    chosen = _one_in_folder(entry, assignment, found.problems)
                    if chosen is not None:
                        candidates.append(Found(entry.name, chosen))
                elif _is_submission(entry):
                    candidates.append(Found(entry.stem, entry))
                else:
                    found.problems.append(f"{entry}: not a .py or .ipynb file (skipped)")
            if len(candidates) == before:
                found.problems.append(f"{path}: no submissions in this folder")
    by_id: dict[str, list[Found]] = {}
    for item in candidates:
        by_id.setdefault(item.id, []).append(item)
    used: set[str] = set()
    for sub_id, items in by_id.items():
        unique = {item.path.resolve() for item in items}
        if len(unique) < len(items):  # the same file named twice on the command line
            items = list({item.path.resolve(): item for item in items}.values())
        if len(items) > 1:
            names = ", ".join(str(item.path) for item in items)
            found.problems.append(f"id '{sub_id}' is used by {len(items)} files ({names}); "
                                  "each is graded under its file name instead")
            items = [Found(item.path.name, item.path) for item in items]
        for item in items:
            safe = _safe_id(item.id, used)
            if safe != item.id:
                found.problems.append(f"{item.path}: results stored under id '{safe}' (the id '{item.id}' "
                                      "cannot be a result file name here)")
            used.add(safe)
            found.submissions.append(Found(safe, item.path))
    found.submissions.sort(key=lambda item: item.id)
    return found


def _one_in_folder(folder: Path, assignment: str, problems: list[str]) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and _is_submission(p) and not _hidden(p))
    if len(files) == 1:
        return files[0]
    named = [p for p in files if p.stem == assignment]
    if len(named) == 1:
        return named[0]
    if not files:
        problems.append(f"{folder}: no .py or .ipynb file in this submission folder (skipped)")
    else:
        listed = ", ".join(p.name for p in files)
        problems.append(f"{folder}: {len(files)} submission files ({listed}) and none is named "
                        f"{assignment}.py or {assignment}.ipynb; keep one (skipped)")
    return None


def _safe_id(sub_id: str, used: set[str]) -> str:
    safe = _UNSAFE.sub("_", sub_id) or "submission"
    if safe in RESERVED_IDS:
        safe += "_"
    base, n = safe, 2
    while safe in used:
        safe, n = f"{base}_{n}", n + 1
    return safe


# ---- results on disk -----------------------------------------------------------------------------


class OutputNotWritable(Exception):
    """The results folder cannot be created or written."""


class ResultStore:
    """The results folder: one ``<id>.json`` per submission, written atomically."""

    def __init__(self, out: Path) -> None:
        """Create ``out`` if needed, prove it is writable, and clear temporary files of a killed run."""
        self.out = out
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / ".grader-write-test", "")
            (out / ".grader-write-test").unlink()
        except OSError as exc:
            raise OutputNotWritable(f"--out {out}: cannot write results there ({exc.strerror or exc})") from None
        for stale in out.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def path(self, sub_id: str) -> Path:
        """Where the result of ``sub_id`` lives."""
        return self.out / f"{sub_id}.json"

    def load(self, sub_id: str) -> dict[str, Any] | None:
        """The stored result of ``sub_id``, or None when there is none or it cannot be read."""
        try:
            doc = json.loads(self.path(sub_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def up_to_date(self, sub_id: str, sha256: str, assignment: str) -> bool:
        """Whether ``sub_id`` already has a result for exactly this content, assignment and grader."""
        doc = self.load(sub_id)
        return bool(
            doc
            and doc.get("assignment") == assignment
            and doc.get("grader_version") == __version__
            and doc.get("submission", {}).get("sha256") == sha256
            and doc.get("status") != "crashed"  # a grader failure is retried
        )

    def save(self, sub_id: str, document: dict[str, Any]) -> None:
        """Store a result atomically."""
        write_atomic(self.path(sub_id), json.dumps(document, indent=2) + "\n")


# ---- summaries -----------------------------------------------------------------------------------


def check_columns(documents: Iterable[dict[str, Any]], expected: Sequence[str]) -> list[str]:
    """The check columns: the assignment's ids in its order, then any other id found in the results."""
    columns = list(expected)
    for doc in documents:
        for entry in doc.get("checks", []):
            if entry["id"] not in columns:
                columns.append(entry["id"])
    return columns


def summarize(assignment: Assignment, rows: list[tuple[str, dict[str, Any]]], columns: list[str],
              problems: list[str]) -> dict[str, Any]:
    """The content of ``summary.json``: every result's score, the distribution, each check's pass rate."""
    scores = [float(doc["score"]) for _, doc in rows]
    max_score = assignment.max_score
    per_check = []
    for column in columns:
        entries = [e for _, doc in rows for e in doc.get("checks", []) if e["id"] == column]
        counted = [e for e in entries if e["max_score"] > 0]
        passed = sum(1 for e in counted if e["status"] == "passed")
        name = entries[0]["name"] if entries else column
        per_check.append({
            "id": column, "name": name, "max_score": counted[0]["max_score"] if counted else 0.0,
            "passed": passed, "graded": len(counted),
            "pass_rate": round(passed / len(counted), 4) if counted else None,
        })
    distribution: dict[str, Any] = {"count": len(scores)}
    if scores:
        distribution.update({
            "min": min(scores), "max": max(scores), "mean": round(statistics.fmean(scores), 4),
            "median": statistics.median(scores),
            "full_marks": sum(1 for s in scores if s >= max_score), "zero": sum(1 for s in scores if s == 0),
        })
    return {
        "assignment": assignment.name,
        "title": assignment.title,
        "grader_version": __version__,
        "max_score": max_score,
        "submissions": len(rows),
        "statuses": dict(Counter(doc["status"] for _, doc in rows)),
        "scores": distribution,
        "checks": per_check,
        "results": [
            {"id": sub_id, "status": doc["status"], "score": doc["score"], "max_score": doc["max_score"],
             "file": f"{sub_id}.json", "path": doc["submission"]["path"]}
            for sub_id, doc in rows
        ],
        "problems": problems,
    }


def summary_csv(rows: list[tuple[str, dict[str, Any]]], columns: list[str]) -> str:
    """``summary.csv``: id, status, score, max_score, then each check's points (blank: no such check)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "status", "score", "max_score", *columns])
    for sub_id, doc in rows:
        points = {e["id"]: e["score"] for e in doc.get("checks", [])}
        writer.writerow([sub_id, doc["status"], _num(doc["score"]), _num(doc["max_score"]),
                         *(_num(points[c]) if c in points else "" for c in columns)])
    return buffer.getvalue()


def _num(value: float) -> str:
    return f"{value:g}"


def write_summaries(store: ResultStore, assignment: Assignment, ids: Sequence[str], expected_columns: Sequence[str],
                    problems: list[str]) -> dict[str, Any]:
    """Rebuild ``summary.csv``, ``summary.json`` and ``report.html`` from the stored results of ``ids``."""
    from grader.report import render_html

    rows = [(sub_id, doc) for sub_id in ids if (doc := store.load(sub_id)) is not None]
    columns = check_columns((doc for _, doc in rows), expected_columns)
    summary = summarize(assignment, rows, columns, problems)
    write_atomic(store.out / "summary.csv", summary_csv(rows, columns))
    write_atomic(store.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_atomic(store.out / "report.html", render_html(summary))
    return summary


def print_summary(summary: dict[str, Any], out: Path, stream: TextIO) -> None:
    """The end-of-batch summary a TA reads on the terminal."""
    scores = summary["scores"]
    print(f"\n{summary['assignment']}: {summary['submissions']} submissions, max {summary['max_score']:g} points",
          file=stream)
    if scores["count"]:
        print(f"  scores: min {scores['min']:g}, median {scores['median']:g}, mean {scores['mean']:g}, "
              f"max {scores['max']:g}; full marks {scores['full_marks']}, zero {scores['zero']}", file=stream)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
    print(f"  statuses: {statuses}", file=stream)
    print("  pass rate per check:", file=stream)
    for check in summary["checks"]:
        if check["pass_rate"] is not None:
            print(f"    {check['pass_rate'] * 100:5.1f}%  {check['id']}", file=stream)
    print(f"  results: {out}/ (summary.csv, summary.json, report.html)", file=stream)


# ---- progress ------------------------------------------------------------------------------------


class Progress:
    """A progress bar with rate and time left on a terminal; one plain line per submission otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        """Start counting ``total`` submissions."""
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()
        self.bar: Any = None
        if total and stream.isatty():
            from tqdm import tqdm

            try:
                columns, lines = os.get_terminal_size(stream.fileno())
            except (OSError, ValueError):
                columns, lines = 0, 0
            # A terminal that reports no size (a bare pty) would get no bar at all: assume 100 x 24.
            self.bar = tqdm(total=total, unit="sub", file=stream, ncols=columns or 100, nrows=lines or 24,
                            dynamic_ncols=columns > 0 and lines > 0, smoothing=0.1)

    def update(self, sub_id: str, doc: dict[str, Any]) -> None:
        """One more submission is done."""
        self.done += 1
        text = f"{sub_id}: {doc['status']} {doc['score']:g}/{doc['max_score']:g}"
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        else:
            elapsed = time.monotonic() - self.started
            left = elapsed / self.done * (self.total - self.done)
            print(f"[{self.done}/{self.total}] {text} ({elapsed:.1f} s elapsed, about {left:.0f} s left)",
                  file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()


# ---- the batch -----------------------------------------------------------------------------------


class BatchUsageError(Exception):
    """The batch cannot start as asked; the message is one line."""


@dataclass
class BatchOptions:
    """How ``grader grade`` runs."""

    jobs: int = 1
    device: str = "auto"
    timeout: float | None = None
    memory: int | None = None
    seed: int | None = None
    force: bool = False
    executor: str = "local"
    scheduler: str | None = None
    gradescope: bool = False


def _plan(assignment_name: str, paths: Sequence[Path], out: Path, options: BatchOptions, template: Task,
          errors: TextIO) -> tuple[Discovery, ResultStore, list[Task]]:
    """Find the submissions, open the results folder, and list the tasks (those not already graded)."""
    import hashlib

    discovery = find_submissions(paths, assignment_name)
    if not discovery.submissions:
        raise BatchUsageError(f"no .py or .ipynb submissions found in {', '.join(map(str, paths))}")
    for problem in discovery.problems:
        print(f"grader: warning: {problem}", file=errors)
    try:
        store = ResultStore(out)
    except OutputNotWritable as exc:
        raise BatchUsageError(str(exc)) from None
    tasks, kept = [], 0
    for item in discovery.submissions:
        try:
            sha = hashlib.sha256(item.path.read_bytes()).hexdigest()
        except OSError:
            sha = hashlib.sha256(b"").hexdigest()
        if not options.force and store.up_to_date(item.id, sha, assignment_name):
            kept += 1
            continue
        tasks.append(replace(template, path=str(item.path), id=item.id, sha256=sha))
    if kept:
        print(f"grader: {kept} submission(s) already graded with this content; not graded again "
              "(--force regrades them)", file=errors)
    return discovery, store, tasks


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
            _, _, tasks = _plan(assignment_name, paths, out, options, template, io.StringIO())
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
    from grader.workers import DaskPool, LocalPool, task_limits

    require_assignment(assignment_name)
    import torch  # before any fork: the workers start warm (and nothing here computes with it)

    try:
        tested, absent = select_devices(options.device, cuda_available())
    except DeviceUnavailable as exc:
        raise BatchUsageError(str(exc)) from None
    limits = Limits.for_timeout(options.timeout, options.memory)
    course = str(course_root())
    template = Task(assignment_name, course, "", "", "", options.device, options.seed, task_limits(limits))
    pool: LocalPool | DaskPool
    if options.executor == "dask":
        if not options.scheduler:
            raise BatchUsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        discovery, store, tasks = _plan(assignment_name, paths, out, options, template, errors)
        try:
            pool = DaskPool(options.scheduler, gpu="cuda" in tested)
        except (RuntimeError, OSError) as exc:
            raise BatchUsageError(str(exc)) from None
    else:
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
            discovery, store, tasks = _plan(assignment_name, paths, out, options, template, errors)
        except BaseException:
            pool.close()
            raise
        pool.shrink(len(tasks))
    del torch
    assignment = load_assignment(assignment_name)
    expected_columns = [entry.id for entry in not_run_checks(assignment, tested, absent, "")]
    progress = Progress(len(tasks), errors)

    def on_result(task: Task, reply: dict[str, Any]) -> None:
        if reply.get("ok"):
            document, gradescope = reply["document"], reply["gradescope"]
        else:
            document, gradescope = _crashed(assignment, task, tested, absent, str(reply.get("message")))
        store.save(task.id, document)
        if options.gradescope:
            folder = store.out / "gradescope" / task.id
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / "results.json", json.dumps(gradescope, indent=2) + "\n")
        progress.update(task.id, document)

    interrupted = False
    try:
        pool.run(tasks, on_result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        pool.close()
    ids = [item.id for item in discovery.submissions]
    summary = write_summaries(store, assignment, ids, expected_columns, discovery.problems)
    print_summary(summary, out, stream)
    if interrupted:
        print(f"grader: interrupted; {summary['submissions']} of {len(ids)} results are in {out}. Run the same "
              "command again to grade the rest.", file=errors)
        return 130
    return 0


def _crashed(assignment: Assignment, task: Task, tested: list[str], absent: list[str],
             message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result of a submission whose grading failed outside the sandbox (a worker died or hung)."""
    from grader.results import Result, to_gradescope

    path = Path(task.path)
    text = (f"The grader could not finish this submission: {message}. This is not a verdict on the code; "
            "run the batch again to retry it, and tell the course staff if it happens again.")
    result = Result(
        assignment=assignment.name,
        submission={"id": task.id, "path": task.path, "sha256": task.sha256,
                    "kind": "ipynb" if path.suffix.lower() == ".ipynb" else "py"},
        status="crashed",
        checks=not_run_checks(assignment, tested, absent, "Not run: the grader could not finish this submission."),
        errors=[{"kind": "crashed", "message": text, "line": None}],
        environment=environment(tested, []),
        duration_s=0.0,
        grader_version=__version__,
    )
    return result.to_document(), to_gradescope(result)
