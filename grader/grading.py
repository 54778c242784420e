"""The pipeline for one submission: read it, load it in a sandbox, run every check, build the result.

:class:`Grader` owns the zygote (see :mod:`grader.sandbox.zygote`), so it must be created before this
process computes anything with torch. It then grades any number of submissions, one after another,
each in its own sandbox. The checks themselves run here, in the judge.
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.check import Check, CheckFailed, Context
from grader.results import CheckResult, Result
from grader.session import Limits, SandboxLost, SandboxSession, StudentRaised
from grader.submission import Submission, Unloadable, prepare, read_submission

DEVICE_CHOICES = ("auto", "cpu", "cuda", "all")


class DeviceUnavailable(Exception):
    """The user asked for a device this machine does not have."""


@dataclass(frozen=True)
class Options:
    """How to grade: which devices, which limits, which seed (random unless given)."""

    device: str = "auto"
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None


def select_devices(mode: str, cuda_available: bool) -> tuple[list[str], list[str]]:
    """(devices tested, devices listed as absent) for a ``--device`` mode; raises :class:`DeviceUnavailable`."""
    if mode not in DEVICE_CHOICES:
        raise DeviceUnavailable(f"unknown device '{mode}'; choose one of {', '.join(DEVICE_CHOICES)}")
    if mode == "cpu":
        return ["cpu"], []
    if mode == "cuda":
        if not cuda_available:
            raise DeviceUnavailable("--device cuda: this machine has no usable CUDA device; use --device auto")
        return ["cuda"], []
    if cuda_available:
        return ["cpu", "cuda"], []
    return ["cpu"], (["cuda"] if mode == "all" else [])


def cuda_available() -> bool:
    """Whether CUDA is usable, asked through NVML so that this process does not initialise CUDA."""
    import torch

    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    return bool(torch.cuda.is_available())


def check_entries(check: Check, tested: list[str], absent: list[str]) -> list[tuple[str | None, float, bool]]:
    """(device, max points, device present) for each result entry of ``check``."""
    if not check.per_device:
        return [(None, check.points, True)]
    share = check.points / len(tested)
    entries: list[tuple[str | None, float, bool]] = [(d, share, True) for d in tested]
    return entries + [(d, 0.0, False) for d in absent]


def check_result(check: Check, device: str | None, status: str, score: float, points: float,
                 message: str, hint: str | None, duration: float) -> CheckResult:
    """One entry of the results' ``checks`` list."""
    return CheckResult(
        id=f"{check.id}[{device}]" if device else check.id,
        name=check.name,
        status=status,
        score=round(score, 6),
        max_score=round(points, 6),
        device=device,
        message=message,
        hint=hint,
        duration_s=round(duration, 4),
        hidden=check.hidden,
    )


def not_run_checks(assignment: Assignment, tested: list[str], absent: list[str], message: str) -> list[CheckResult]:
    """Every check of ``assignment`` reported as skipped with ``message`` (absent devices: worth 0)."""
    return [
        check_result(check, device, "skipped", 0.0, points, message if present else _absent(device), None, 0.0)
        for check in assignment.checks
        for device, points, present in check_entries(check, tested, absent)
    ]


def environment(devices: list[str], isolation: list[str]) -> dict[str, Any]:
    """The results' ``environment``: Python, torch, the devices tested and the sandbox's isolation layers."""
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": str(torch.__version__),
        "devices": devices,
        "isolation": isolation,
        "platform": platform.platform(),
    }


class Grader:
    """Grades submissions with warm sandboxes forked from one clean zygote."""

    def __init__(self, options: Options | None = None, *, fresh_zygote: bool = False) -> None:
        """Import torch, start the zygote, then look at the devices (in that order: see the module doc).

        The zygote is forked from this process, which must not have computed with torch yet, unless
        ``fresh_zygote`` asks for a new interpreter instead (for processes whose past is unknown).
        """
        self.options = options or Options()
        import torch

        import grader.sandbox.child  # noqa: F401  (preloaded so every sandbox starts warm)
        from grader.sandbox.zygote import Zygote

        self.zygote = Zygote(fresh=fresh_zygote)
        # The judge's arithmetic is small tensors: one thread is faster (no pool wake-ups on a busy machine)
        # and keeps expectations reproducible. Set after the fork, so the zygote's torch is untouched.
        torch.set_num_threads(1)
        # NVML's check does not initialise CUDA in this process; the judge never uses CUDA itself.
        self.cuda_available = cuda_available()
        self.tested, self.absent = select_devices(self.options.device, self.cuda_available)

    def close(self) -> None:
        """Stop the zygote."""
        self.zygote.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def grade(self, assignment: Assignment, path: Path, submission_id: str | None = None,
              seed: int | None = None, *, data: bytes | None = None, name: str | None = None,
              until_first_loss: bool = False) -> Result:
        """Grade one submission file; never raises for anything the submission does.

        ``seed`` overrides the options' seed for this submission (batch grading derives one per file).
        ``data`` is the submission's content when the caller has read it already (from an archive, say):
        ``path`` then only names it, and ``name`` is its file name when that is not ``path``'s last part.
        A zygote that a previous submission killed is replaced first, by a fresh interpreter: this
        process has computed with torch by now, so it must not fork one.
        ``until_first_loss`` stops at the first check that loses points and reports the rest as not run
        (mutation testing asks only whether a mutant lost a point; a student's grading never stops early).
        """
        from grader.sandbox.zygote import Zygote

        if not self.zygote.alive():
            self.zygote.close()
            self.zygote = Zygote(fresh=True)
        started = time.monotonic()
        sub = read_submission(path, submission_id, data=data, name=name)
        if seed is None:
            seed = self.options.seed if self.options.seed is not None else secrets.randbits(32)
        run = _Run(self, assignment, sub, seed, started, until_first_loss)
        return run.result()


class _Run:
    """One submission's grading, from reading to result."""

    def __init__(self, grader: Grader, assignment: Assignment, sub: Submission, seed: int, started: float,
                 until_first_loss: bool = False) -> None:
        self.grader = grader
        self.until_first_loss = until_first_loss
        self.lost: str | None = None  # the first check that lost points, when ``until_first_loss``
        self.assignment = assignment
        self.sub = sub
        self.seed = seed
        self.started = started
        self.limits = grader.options.limits
        self.deadline = started + self.limits.timeout
        self.errors: list[dict[str, Any]] = []
        self.notes: list[str] = []
        if assignment.hidden_points:
            self.notes.append(
                f"This copy of the assignment holds its public checks only: the final grading adds hidden checks "
                f"worth {assignment.hidden_points:g} more points (out of "
                f"{assignment.max_score + assignment.hidden_points:g}).")
        self.isolation: list[str] = []
        self.cuda_name: str | None = None
        self.outcomes: dict[tuple[str, str | None], str] = {}

    def result(self) -> Result:
        try:
            prepare(self.sub)
        except Unloadable as problem:
            self.errors.append({"kind": problem.kind, "message": problem.message, "line": problem.line})
            return self._finish(problem.status, self._not_run(f"Not run: {_first_line(problem.message)}"), "")
        self.errors.extend(self.sub.notices)
        session = SandboxSession(
            zygote=self.grader.zygote,
            probes_path=self.assignment.probes,
            module_name=self.assignment.module_name,
            cells=self.sub.cells,
            aliases=self.assignment.aliases,
            limits=self.limits,
            uses_cuda="cuda" in self.grader.tested,
            seed=self.seed,
            hidden=self._hidden(),
        )
        try:
            try:
                report = session.start(self.deadline)
            except SandboxLost as lost:
                self.isolation = session.isolation
                status = "timeout" if lost.kind == "timeout" else "crashed"
                self.errors.append({"kind": status, "message": f"While loading your file: {lost}", "line": None})
                not_run = self._not_run("Not run: your file did not finish loading.")
                return self._finish(status, not_run, session.log.text())
            self.errors.extend(report.errors)
            self.isolation = report.isolation
            self.cuda_name = report.cuda_name
            checks = self._run_checks(session)
            session.stop()
            return self._finish("graded", checks, session.log.text())
        finally:
            session.stop(kill=True)

    def _hidden(self) -> tuple[str, ...]:
        """Folders the sandbox must not see even where they lie inside the Python installation it is shown."""
        import grader

        where = self.sub.path.parent  # an archive member's folders are not on disk: hide the archive's folder
        while not where.is_dir() and where != where.parent:
            where = where.parent
        folders = [self.assignment.folder.parent, self.assignment.reference.parent, Path(grader.__file__).parent]
        # Never a folder that holds what the sandbox needs (the Python installation, the temporary folder its
        # own working folder lives in): on a Dask worker the submission's TA-side folder may not exist, and the
        # walk above then ends at /tmp or /, which only held the student's bytes on the TA's machine.
        needed = [Path(sys.prefix), Path(sys.base_prefix), Path(tempfile.gettempdir())]
        if not any(p.resolve() == where.resolve() or where.resolve() in p.resolve().parents for p in needed):
            folders.append(where)
        return tuple(str(f.resolve()) for f in folders)

    def _entries(self, check: Check) -> list[tuple[str | None, float, bool]]:
        return check_entries(check, self.grader.tested, self.grader.absent)

    def _not_run(self, message: str) -> list[CheckResult]:
        return not_run_checks(self.assignment, self.grader.tested, self.grader.absent, message)

    def _run_checks(self, session: SandboxSession) -> list[CheckResult]:
        by_id = {c.id: c for c in self.assignment.checks}
        results = []
        for check in self.assignment.checks:
            for device, points, present in self._entries(check):
                if not present:
                    results.append(check_result(check, device, "skipped", 0, 0, _absent(device), None, 0))
                    continue
                blocker = self._blocker(check, device, by_id)
                if blocker:
                    self.outcomes[(check.id, device)] = "skipped"
                    results.append(check_result(check, device, "skipped", 0, points, blocker, None, 0))
                    continue
                entry = self._run_one(check, device, points, session)
                self.outcomes[(check.id, device)] = entry.status
                results.append(entry)
                if self.until_first_loss and entry.score < entry.max_score:
                    self.lost = entry.id
        return results

    def _blocker(self, check: Check, device: str | None, by_id: dict[str, Check]) -> str | None:
        for dep_id in check.depends:
            dep = by_id[dep_id]
            devices = [device] if dep.per_device and device else (self.grader.tested if dep.per_device else [None])
            if any(self.outcomes.get((dep_id, d)) != "passed" for d in devices):
                return f"Not run because check `{dep.id}` did not pass: fix that first."
        if time.monotonic() >= self.deadline:
            return f"Not run: grading this submission used up its time limit of {self.limits.timeout:g} s."
        if self.lost:
            return f"Not run: mutation testing stops at the first check that loses points (`{self.lost}`)."
        return None

    def _run_one(self, check: Check, device: str | None, points: float, session: SandboxSession) -> CheckResult:
        started = time.monotonic()
        digest = hashlib.sha256(f"{self.seed}:{check.id}:{device}".encode()).digest()
        ctx = Context(
            session=session,
            check_id=check.id,
            device=device,
            seed=int.from_bytes(digest[:8], "big"),
            deadline=min(started + check.timeout, self.deadline),
        )
        status, score, message, hint = "passed", points, "", None
        cause: str | None = None  # the diagnosed mistake, for the course staff (never in the student's text)
        try:
            check.func(ctx)
        except CheckFailed as failed:
            status, score, message, hint = "failed", 0.0, failed.message, failed.hint or check.hint
            cause = failed.cause
        except StudentRaised as raised:
            status, score = "failed", 0.0
            message = _raised_message(raised.info)
            hint = raised.info.get("hint") or _raised_hint(raised.info, self.limits) or check.hint
            cause = "not_implemented" if raised.info.get("type") == "NotImplementedError" else "raised"
        except SandboxLost as lost:
            status, score, message = ("timeout" if lost.kind == "timeout" else "error"), 0.0, str(lost)
            cause = "timeout" if lost.kind == "timeout" else None
            hint = lost.hint or (
                "Look for an infinite loop or a very long computation in the code this check calls."
                if lost.kind == "timeout"
                else "Your code must not exit, kill processes or use huge amounts of memory."
            )
        except Exception:  # a bug in a check must cost the student nothing but this check, and say so
            status, score = "error", 0.0
            message = "The grader itself failed on this check (not your fault): " + traceback.format_exc(limit=3)
            hint = "Tell your course staff; include this message."
        for note in ctx.notes:
            if note not in self.notes:
                self.notes.append(note)
        if status == "passed":
            message = "Passed."
        result = check_result(check, device, status, score, points, message, hint, time.monotonic() - started)
        result.cause = cause
        return result

    def _finish(self, status: str, checks: list[CheckResult], log: str) -> Result:
        devices = list(self.grader.tested)
        if self.cuda_name and "cuda" in devices:
            devices[devices.index("cuda")] = f"cuda ({self.cuda_name})"
        return Result(
            assignment=self.assignment.name,
            submission={
                "id": self.sub.id,
                "path": str(self.sub.path),
                "sha256": self.sub.sha256,
                "kind": self.sub.kind,
            },
            status=status,
            checks=checks,
            errors=self.errors,
            environment=environment(devices, self.isolation),
            duration_s=time.monotonic() - self.started,
            grader_version=__version__,
            log=log,
            notes=self.notes,
        )


def _absent(device: str | None) -> str:
    return f"Skipped: no {device} device on this machine (this costs no points)."


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _raised_hint(info: dict[str, Any], limits: Limits) -> str | None:
    """A hint for exceptions whose cause is clear whatever the check was."""
    kind, text = str(info.get("type")), str(info.get("message"))
    if kind == "NotImplementedError":
        return "This part is not written yet: replace the `raise NotImplementedError` with your code."
    if kind == "SystemExit":
        return "Do not call sys.exit() or exit() in graded code: return a value instead."
    if kind == "MemoryError" or "can't allocate memory" in text or "out of memory" in text:
        return (f"Your code asked for more memory than the sandbox allows ({limits.memory_bytes >> 20} MiB). "
                "Look for a huge tensor or a list that keeps growing.")
    cuda_missing = ("not compiled with CUDA", "no NVIDIA driver", "CUDA driver", "No CUDA GPUs are available")
    if any(words in text for words in cuda_missing):
        return ("Your code uses CUDA where none is available: do not hard-code .cuda() or device='cuda'; use the "
                "module-level `device`, or the device of the inputs.")
    if kind == "RecursionError":
        return "A function calls itself without end: look for forward calling self(...) or itself."
    return None


def _raised_message(info: dict[str, Any]) -> str:
    if info.get("type") == "MissingDefinition":
        return str(info.get("message"))
    where = info.get("where")
    if not where:
        return f"Using your code failed with {info.get('message')}"
    message = f"Your code raised {info.get('message')}"
    message += f"\n  at {where['file']}, line {where['line']}, in {where['function']}"
    if where.get("code"):
        message += f":\n    {str(where['code']).strip()}"
    return message
