"""The zygote: a clean process that forks one sandbox per submission.

Why a zygote: importing torch costs about 1.5 s, so a fresh interpreter per sandbox is too slow, and
forking the judge itself is unsafe once the judge has computed with torch (libgomp's thread pool does
not survive ``fork``; see NOTES.md). The zygote is forked from the judge right after ``import torch``
and before any tensor arithmetic, and then does nothing but fork: every sandbox starts warm, in a few
milliseconds, from a process that has never computed, touched CUDA or seen student code.

The zygote never runs student code either; only its children do (see :mod:`grader.sandbox.child`).

When a process can no longer fork safely (it has computed with torch, or it is a Dask worker whose past
is unknown), ``Zygote(fresh=True)`` starts the zygote as a new interpreter instead (``python -m
grader.sandbox.zygote FD JUDGE_PID``): it pays one torch import, once, and is then just as clean.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from grader.sandbox.isolation import (
    SandboxCgroups,
    pid_namespace_for_next_child,
    remove_cgroups,
    sweep_cgroups,
    zygote_cgroups,
)
from grader.sandbox.limits import set_parent_death_signal


class ZygoteLost(OSError):
    """The zygote is gone (killed by a sandbox, or by the system); no sandbox can be started from it."""


@dataclass(frozen=True)
class ExitStatus:
    """How a sandbox process ended."""

    code: int | None
    signal: int | None
    out_of_memory: bool = False

    def describe(self) -> str:
        """Plain words for a report: 'exited with status 3', 'was killed by SIGKILL'."""
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"was killed by {name}"
        return f"exited with status {self.code}"


class Zygote:
    """Judge-side handle of the zygote process."""

    def __init__(self, fresh: bool = False) -> None:
        """Fork the zygote now (after ``import torch``, before any torch computation), or start a fresh one."""
        judge_sock, zygote_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaped = False
        if fresh:
            fd = zygote_sock.fileno()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "grader.sandbox.zygote", str(fd), str(os.getpid())], pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
            )
            zygote_sock.close()
            self.pid = self._proc.pid
            self._sock = judge_sock
            return
        judge = os.getpid()
        pid = os.fork()
        if pid == 0:  # the zygote
            code = 0
            try:
                judge_sock.close()
                _serve(zygote_sock, judge)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        zygote_sock.close()
        self.pid = pid
        self._sock = judge_sock

    def spawn(self, config: dict[str, Any], channel_fd: int, log_fd: int) -> int:
        """Fork a sandbox that talks on ``channel_fd`` and prints to ``log_fd``; returns its pid."""
        return int(self._request({"op": "spawn", "config": config}, [channel_fd, log_fd])["pid"])

    def wait(self, pid: int) -> ExitStatus:
        """Wait for a sandbox to end and return how it ended."""
        reply = self._request({"op": "wait", "pid": pid})
        return ExitStatus(code=reply["code"], signal=reply["signal"], out_of_memory=bool(reply.get("oom")))

    def _request(self, message: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        """One request and its reply; any failure means the zygote is gone (:class:`ZygoteLost`)."""
        try:
            socket.send_fds(self._sock, [json.dumps(message).encode()], fds or [])
            reply = json.loads(self._sock.recv(65536))
            if not isinstance(reply, dict):
                raise ValueError("malformed reply")
            return reply
        except (OSError, ValueError) as exc:
            raise ZygoteLost(f"the sandbox launcher is gone ({exc})") from None

    def alive(self) -> bool:
        """Whether the zygote is still running (a sandbox may have killed it)."""
        if self._reaped:
            return False
        try:
            pid, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid == self.pid:
            self._reaped = True
            if self._proc is not None:
                self._proc.returncode = -1  # reaped above; tell Popen not to wait for it
        return not self._reaped

    def close(self) -> None:
        """Stop the zygote (it exits when its socket closes) and reap it."""
        try:
            self._sock.close()
            if not self._reaped:
                os.waitpid(self.pid, 0)
                self._reaped = True
        except (OSError, ChildProcessError):
            pass
        remove_cgroups(zygote_cgroups(self.pid))  # the zygote removes them as it exits; unless it was killed
        if self._proc is not None:
            self._proc.returncode = self._proc.returncode if self._proc.returncode is not None else -1


def _serve(sock: socket.socket, judge: int) -> None:
    """The zygote's loop: fork sandboxes and report how they ended, until the judge (pid ``judge``) goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the judge's to handle
    finished: dict[int, tuple[int | None, int | None]] = {}
    kills_before: dict[int, int] = {}  # the cgroup's OOM-kill count of each live sandbox when it started
    cgroups: SandboxCgroups | None = None

    def judge_died(_signum: int, _frame: object) -> None:
        """The judge is gone (a batch killed with kill -9, a Dask worker that ended): clean up, then exit.

        The live sandboxes are killed and this zygote's cgroups removed now, rather than left to the
        next zygote's sweep.
        """
        for pid in kills_before:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        if cgroups is not None:
            cgroups.leave()
        os._exit(0)

    # First of all, so that a judge killed at any time after the fork takes this zygote with it.
    signal.signal(signal.SIGTERM, judge_died)
    set_parent_death_signal(signal.SIGTERM, parent=judge)
    zygote = os.getpid()
    sweep_cgroups()
    cgroups = SandboxCgroups(zygote)
    pid_namespace_pending = False  # whether the next fork starts pid 1 of a new pid namespace
    while True:
        message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 2)
        if not message:
            cgroups.leave()
            return
        request = json.loads(message)
        if request["op"] == "spawn":
            config = request["config"]
            walled = config.get("isolation") != "none"
            if walled:
                config["cgroups"] = cgroups.prepare(config)
            if walled != pid_namespace_pending:  # the first walled sandbox, or a change of mode
                pid_namespace_pending = pid_namespace_for_next_child(new=walled)
            config["pid_namespace_ready"] = pid_namespace_pending
            before = cgroups.oom_kills()
            # The judge's death (SIGTERM) waits until the new sandbox is on the list of those to kill: run
            # between the fork and that line, judge_died would leave it behind. The child unblocks it.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            gc.freeze()  # what the zygote holds: the sandbox's collections skip it and leave its pages shared
            pid = os.fork()
            if pid == 0:
                sock.close()
                from grader.sandbox.child import run_sandbox

                run_sandbox(fds[0], fds[1], config, zygote)  # never returns
            kills_before[pid] = before
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
            if pid_namespace_pending:
                # Ready the next sandbox's pid namespace now, while this one starts: done just before the
                # next fork it costs tens of milliseconds (the kernel releasing the previous namespace).
                pid_namespace_pending = pid_namespace_for_next_child(new=True)
        elif request["op"] == "wait":
            pid = int(request["pid"])
            if pid not in finished:
                try:
                    _, status = os.waitpid(pid, 0)
                    finished[pid] = _decode(status)
                except ChildProcessError:
                    finished[pid] = (None, None)
            code, sig = finished.pop(pid)
            oom = cgroups.oom_kills() > kills_before.pop(pid, 0)
            sock.send(json.dumps({"code": code, "signal": sig, "oom": oom}).encode())


def _decode(status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def preload() -> None:
    """Import what sandboxes would otherwise import one by one: torch, torch.optim and torch._dynamo.

    ``torch.optim`` imports ``torch._dynamo`` on the first optimizer step (about 1 s). Imports compute
    nothing, so a process that only did this still forks safely. The collector is paused for the imports and
    their objects frozen (:func:`grader.startup.import_torch`).
    """
    from grader.startup import collector_paused, import_torch

    import_torch(optimizers=True)
    with collector_paused():
        import grader.sandbox.child  # noqa: F401


if __name__ == "__main__":  # the fresh zygote: python -m grader.sandbox.zygote FD JUDGE_PID
    preload()
    _serve(socket.socket(fileno=int(sys.argv[1])), int(sys.argv[2]))
