"""The judge's side of one submission's sandbox: start it, load the submission, send probes, restart it.

Every wait has a deadline. When the sandbox runs past one, the judge kills its whole process group
and the check in progress is reported as a timeout; when it dies, the check is reported as an error
with how it died. Either way the next check gets a fresh sandbox (the submission is loaded again), so
one runaway check costs only its own points.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.channel import BoundedLog, ChannelClosed, ChannelTimeout, ChannelTooLarge, JudgeEnd
from grader.protocol import MAX_REPLY_BYTES, ProtocolError, decode_reply, encode_request
from grader.sandbox.zygote import ExitStatus, Zygote, ZygoteLost


@dataclass(frozen=True)
class Limits:
    """Resource limits of a sandbox and time budgets of a submission."""

    timeout: float = 120.0
    load_seconds: float = 30.0
    cell_seconds: float = 10.0
    memory_bytes: int = 4 << 30
    file_bytes: int = 16 << 20
    output_bytes: int = 64 << 10
    threads: int = 1

    @classmethod
    def for_timeout(cls, timeout: float | None, memory_mib: int | None = None,
                    cell_seconds: float | None = None) -> Limits:
        """The limits for a ``--timeout``, ``--memory`` and ``--cell-timeout`` (None: the defaults).

        Loading fits in the timeout.
        """
        given: dict[str, Any] = {"memory_bytes": memory_mib << 20} if memory_mib else {}
        if cell_seconds is not None:
            given["cell_seconds"] = cell_seconds
        if timeout is None:
            return cls(**given)
        return cls(timeout=timeout, load_seconds=min(timeout, cls.load_seconds), **given)


#: What to try when the judge refuses what the sandbox sent (an object of the student's own class, too much data).
REFUSED_HINT = (
    "Keep to plain values in what the checks read (return values and the attributes the assignment names): "
    "numbers, strings, lists, dicts and tensors. Objects of your own classes, or subclasses of str, int or Tensor, "
    "are refused; so is a value far larger than the assignment needs."
)


class SandboxLost(Exception):
    """The sandbox ran out of time or died; ``kind`` is ``"timeout"`` or ``"crashed"``."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        """Record how the sandbox was lost, in words a student can read, with what to try when it is specific."""
        super().__init__(message)
        self.kind = kind
        self.hint = hint


class StudentRaised(Exception):
    """Student code raised while a probe ran; ``info`` holds type, message, line and hint."""

    def __init__(self, info: dict[str, Any]) -> None:
        """Keep the plain-data description of the exception that the sandbox sent."""
        super().__init__(str(info.get("message")))
        self.info = info

    def with_hint(self, hint: str) -> StudentRaised:
        """The same exception carrying ``hint``: for a check that recognises what caused it.

        ``raise raised.with_hint("...") from None`` inside ``except StudentRaised as raised:``; the
        message still names the student's line.
        """
        return StudentRaised({**self.info, "hint": hint})


@dataclass
class LoadReport:
    """What loading the submission in the sandbox reported."""

    errors: list[dict[str, Any]]
    isolation: list[str]
    cuda_name: str | None


@dataclass
class SandboxSession:
    """One submission's sandbox, as the judge sees it."""

    zygote: Zygote
    probes_path: Path
    module_name: str
    cells: list[dict[str, Any]]
    aliases: dict[str, list[str]]
    limits: Limits
    uses_cuda: bool
    seed: int
    hidden: tuple[str, ...] = ()
    isolation: list[str] = field(default_factory=list)  # the walls the sandbox reported, before any student code
    log: BoundedLog = field(init=False)
    _pid: int | None = None
    _end: JudgeEnd | None = None
    _workdir: str | None = None
    load_report: LoadReport | None = None

    def __post_init__(self) -> None:
        self.log = BoundedLog(self.limits.output_bytes)

    def start(self, deadline: float) -> LoadReport:
        """Start a sandbox and load the submission into it; raises :class:`SandboxLost`."""
        self._spawn()
        # The sandbox's first request names what to hide; it reaches the sandbox on its own channel, never
        # through the zygote (every later sandbox is a copy of the zygote's memory, freed bytes included).
        # The reply, sent before any student code runs, lists the walls that stand.
        setup = {"op": "setup", "hidden": list(self.hidden)}
        ready = self._exchange(setup, min(deadline, time.monotonic() + self.limits.load_seconds),
                               "starting the sandbox")
        if ready.get("kind") == "ready":
            self.isolation = [str(x) for x in ready.get("isolation") or []]
        request = {
            "op": "load",
            "probes_path": str(self.probes_path.resolve()),
            "probes_source": self.probes_path.read_text(encoding="utf-8"),
            "module_name": self.module_name,
            "cells": self.cells,
            "aliases": self.aliases,
            "cell_seconds": self.limits.cell_seconds,
            "seed": self.seed,
        }
        reply = self._exchange(request, min(deadline, time.monotonic() + self.limits.load_seconds), "loading your file")
        if reply["kind"] != "loaded":
            raise SandboxLost("crashed", f"the sandbox failed while loading: {reply.get('message')}")
        if self.load_report is not None:
            return self.load_report  # a restart after a lost check: the first load's report stands
        errors = list(reply.get("errors") or [])
        # A restarted sandbox skips the cells that ran out of time the first time: they would only
        # cost their budget again.
        slow = {e.get("cell") for e in errors if e.get("kind") == "cell_timeout"}
        self.cells = [c for c in self.cells if c.get("cell") is None or c["cell"] not in slow]
        self.load_report = LoadReport(
            errors=errors,
            isolation=self.isolation,
            cuda_name=reply.get("cuda_name"),
        )
        return self.load_report

    def probe(
        self, name: str, *, device: str, args: dict[str, Any], seed: int, deadline: float, doing: str = ""
    ) -> tuple[Any, list[str]]:
        """Run probe ``name`` in the sandbox (restarting it if a previous check lost it)."""
        if self._pid is None:
            self.start(deadline)
        request = {"op": "probe", "probe": name, "device": device, "args": args, "seed": seed}
        reply = self._exchange(request, deadline, doing or f"running `{name}`")
        if reply["kind"] == "raised":
            raise StudentRaised(reply)
        if reply["kind"] != "result":
            raise SandboxLost("crashed", "the sandbox sent an unexpected reply")
        notes = [str(n) for n in reply.get("notes") or []]
        return reply.get("value"), notes

    def _spawn(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="grader-sandbox-")
        judge_sock, sandbox_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe()
        cpu = int(self.limits.timeout * max(1, self.limits.threads)) + 5
        config = {
            "workdir": self._workdir,
            "cpu_seconds": cpu,
            "memory_bytes": self.limits.memory_bytes,
            "file_bytes": self.limits.file_bytes,
            "threads": self.limits.threads,
            "uses_cuda": self.uses_cuda,
            # GRADER_ISOLATION=none turns the namespaces off (for a machine where they misbehave).
            "isolation": os.environ.get("GRADER_ISOLATION", "auto"),
        }
        try:
            self._pid = self.zygote.spawn(config, sandbox_sock.fileno(), log_w)
        except ZygoteLost:
            judge_sock.close()
            os.close(log_r)
            message = "The grader could not start a sandbox: an earlier one killed its launcher."
            raise SandboxLost("crashed", message) from None
        finally:
            sandbox_sock.close()
            os.close(log_w)
        self._end = JudgeEnd(judge_sock, log_r, self.log, MAX_REPLY_BYTES)

    def _exchange(self, request: dict[str, Any], deadline: float, doing: str) -> dict[str, Any]:
        """Send ``request`` and wait for the sandbox's reply; raises :class:`SandboxLost`."""
        assert self._end is not None
        started = time.monotonic()
        try:
            self._end.send(encode_request(request), deadline)
            return decode_reply(self._end.recv(deadline))
        except ChannelTimeout:
            self.stop(kill=True)
            raise SandboxLost(
                "timeout", f"Your code did not finish within {time.monotonic() - started:.1f} s ({doing})."
            ) from None
        except ChannelClosed:
            # It is ending by itself: let it finish, so that its exit status (os._exit, a signal, the
            # memory limit) is what gets reported, not the judge's SIGKILL.
            status = self.stop(kill=False, say_exit=False)
            message = f"Your code ended the grader's sandbox ({doing}): it {_why(status)}."
            raise SandboxLost("crashed", message) from None
        except (ChannelTooLarge, ProtocolError) as exc:
            self.stop(kill=True)
            raise SandboxLost("crashed", f"The sandbox sent back something the grader refuses ({exc}).",
                              REFUSED_HINT) from None

    def stop(self, kill: bool = False, say_exit: bool = True) -> ExitStatus | None:
        """End the sandbox (politely, or by killing its process group) and clean up after it.

        Politely means: ask it to exit (unless ``say_exit`` is false: it is already ending), give it a
        second, then kill its process group anyway.
        """
        if self._pid is None:
            return None
        pid, end = self._pid, self._end
        self._pid, self._end = None, None
        if not kill and end is not None and say_exit:
            try:
                end.send(encode_request({"op": "exit"}), time.monotonic() + 1.0)
            except (ChannelClosed, ChannelTimeout):
                kill = True
        if kill:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        status: ExitStatus | None = None
        try:
            if not kill:
                # Give a polite exit a moment, then make sure: nothing of the group may outlive grading.
                status = _wait_with_kill(self.zygote, pid, grace=1.0)
            else:
                status = self.zygote.wait(pid)
        except ZygoteLost:
            status = None  # the sandbox died with its launcher (parent-death signal)
        try:
            os.killpg(pid, signal.SIGKILL)  # children the sandbox may have left behind
        except (ProcessLookupError, PermissionError):
            pass
        if end is not None:
            end.finish_log()
            end.close()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return status


def _wait_with_kill(zygote: Zygote, pid: int, grace: float) -> ExitStatus:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # A zombie still answers kill(0); /proc tells a zombie from a live process.
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.005)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return zygote.wait(pid)


def _why(status: ExitStatus | None) -> str:
    if status is None:
        return "stopped answering"
    if status.out_of_memory:
        return "ran out of memory: it used more than the sandbox's memory limit and was killed"
    if status.signal == signal.SIGKILL:
        return "was killed (SIGKILL: often the memory limit, or the process group was killed)"
    if status.signal == signal.SIGSEGV:
        return ("crashed with a segmentation fault (SIGSEGV: most often a recursion too deep for the stack, "
                "such as a forward that calls itself)")
    if status.signal == signal.SIGXCPU:
        return "used up its CPU time"
    if status.signal is not None:
        return status.describe()
    if status.code == 0:
        return "exited (did it call os._exit or sys.exit?)"
    return f"{status.describe()} (did it call os._exit?)"
