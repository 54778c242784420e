"""The sandbox process: the only place where student code runs.

Forked by the zygote, it detaches into its own process group (so the judge can kill it and everything
it starts), applies the isolation layers, loads the submission, then answers the judge's probe
requests one at a time. Replies are plain data written with ``torch.save``; stdout and stderr go to a
pipe that the judge keeps as a bounded log. Nothing that happens here can award a point: the judge
decides, in a process that never ran this code.
"""

from __future__ import annotations

import difflib
import os
import signal
import socket
import sys
import traceback
import types
from typing import Any

from grader.channel import recv_blocking, send_blocking
from grader.protocol import decode_request, encode_reply
from grader.sandbox.isolation import enter
from grader.sandbox.limits import apply_limits, set_parent_death_signal
from grader.sandbox.loader import new_module, run_cells, short_traceback, student_frame
from grader.sandbox.student import MissingDefinition, Student


def run_sandbox(channel_fd: int, log_fd: int, config: dict[str, Any], zygote: int) -> None:
    """Entry point in the child forked from the zygote (pid ``zygote``); never returns."""
    code = 0
    try:
        set_parent_death_signal(parent=zygote)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the zygote's own handler is not the sandbox's
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked by the zygote around the fork
        os.setsid()
        _redirect_output(log_fd)
        _close_other_fds(keep=channel_fd)
        workdir = config["workdir"]
        _clean_environment(workdir)
        _forget_the_judge()
        sock = socket.socket(fileno=channel_fd)
        # The judge's first request names what to hide; it never went through the zygote. Its reply, "ready",
        # is the first thing serve() sends (see SandboxSession.start).
        setup = decode_request(recv_blocking(sock))
        config = {**config, "hidden": [str(p) for p in setup.get("hidden", [])]}
        layers = enter(config)  # namespaces, private root, cgroups, unprivileged user: what the machine allows
        os.chdir(workdir)
        layers += apply_limits(config)
        import torch

        torch.set_num_threads(int(config.get("threads", 1)))
        _Server(sock, config, layers).serve()
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _redirect_output(log_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if log_fd > 2:
        os.close(log_fd)


# What the sandbox keeps of the judge's environment: nothing that names a path, a port or a secret
# (PATH is set anew, to the system's folders only).
KEPT_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
                  "PYTORCH_NVML_BASED_CUDA_CHECK")


def _clean_environment(workdir: str) -> None:
    kept = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update({"HOME": workdir, "TMPDIR": workdir, "USER": "student", "PATH": "/usr/local/bin:/usr/bin:/bin"})


#: What the sandbox's /proc/self/cmdline (and ``ps``) shows, and its ``sys.argv``.
SANDBOX_ARGV = ["grader-sandbox"]


def _forget_the_judge() -> None:
    """Wipe what the fork copied of the judge's command line and environment.

    ``os.environ`` is already clean (and libc's ``environ`` now points at fresh copies), but the kernel
    still shows the judge's original arguments and environment block through ``/proc/self/cmdline`` and
    ``/proc/self/environ``: they live in this process's memory, at addresses ``/proc/self/stat`` gives.
    Both are overwritten with zeros, as setproctitle does; ``sys.argv`` and ``sys.orig_argv`` (the judge's
    arguments, naming the submissions and results folders) are replaced too. Where ``/proc`` is missing
    (not Linux), only ``sys.argv`` changes.
    """
    sys.argv = list(SANDBOX_ARGV)
    sys.orig_argv = list(SANDBOX_ARGV)
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        # Fields 48-51 of proc(5) (arg_start, arg_end, env_start, env_end); fields[0] is field 3.
        arg_start, arg_end, env_start, env_end = (int(v) for v in fields[45:49])
    except (OSError, ValueError, IndexError):
        return
    import ctypes

    if env_end > env_start:
        ctypes.memset(env_start, 0, env_end - env_start)
    if arg_end > arg_start:
        title = "\0".join(SANDBOX_ARGV).encode()[: arg_end - arg_start - 1]
        ctypes.memset(arg_start, 0, arg_end - arg_start)
        ctypes.memmove(arg_start, title, len(title))


def _close_other_fds(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 4096)


def set_precision() -> None:
    """Pin float32 precision on CUDA (no TF32) and deterministic cuDNN, before and after student code.

    torch 2.9+ has the per-backend ``fp32_precision`` API, and mixing it with the legacy ``allow_tf32``
    flags raises, so only one of the two is used.
    """
    import torch

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"  # type: ignore[attr-defined]
    else:  # pragma: no cover - older torch
        matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


class _Server:
    """Loads the submission, then runs probes on it until the judge says stop."""

    def __init__(self, sock: socket.socket, config: dict[str, Any], layers: list[str]) -> None:
        self.sock = sock
        self.config = config
        self.layers = layers
        self.filenames: set[str] = set()
        self.student: Student | None = None
        self.probes: Any = None

    def serve(self) -> None:
        # First, before any student code runs: which walls stand (the judge records them even if loading dies).
        send_blocking(self.sock, encode_reply({"kind": "ready", "isolation": self.layers}))
        while True:
            request = decode_request(recv_blocking(self.sock))
            op = request["op"]
            if op == "exit":
                return
            try:
                reply = self.load(request) if op == "load" else self.probe(request)
            except BaseException as exc:  # student code may raise anything, SystemExit included
                reply = self.raised(exc)
            _flush()
            try:
                payload = encode_reply(reply)
            except Exception as exc:  # e.g. a probe returned something torch.save cannot write
                payload = encode_reply({"kind": "raised", "type": "GraderError", "message": repr(exc)[:500]})
            send_blocking(self.sock, payload)

    def load(self, request: dict[str, Any]) -> dict[str, Any]:
        import torch

        set_precision()
        # The probes come as text: their folder (the course, with its hidden checks) is not in the sandbox.
        self.probes = types.ModuleType("_grader_probes")
        self.probes.__file__ = request["probes_path"]
        exec(compile(request["probes_source"], request["probes_path"], "exec"), self.probes.__dict__)
        cells = request["cells"]
        self.filenames = {cell["filename"] for cell in cells}
        module = new_module(request["module_name"], cells[0]["filename"] if cells else request["module_name"])
        device = torch.device("cpu")
        module.device = device  # type: ignore[attr-defined]
        self.seed(int(request.get("seed", 0)))
        errors = run_cells(module, cells, float(request["cell_seconds"]))
        self.student = Student(module, request.get("aliases", {}), device)
        cuda = bool(torch.cuda.is_available()) if self.config.get("uses_cuda") else False
        return {
            "kind": "loaded",
            "errors": errors,
            "cuda_name": torch.cuda.get_device_name(0) if cuda else None,
        }

    def probe(self, request: dict[str, Any]) -> dict[str, Any]:
        import torch

        assert self.student is not None and self.probes is not None
        device = torch.device(request["device"])
        self.student.device = device
        # the assignment's module-level `device`, rebound to the device under test
        self.student.module.device = device  # type: ignore[attr-defined]
        self.student.notes.clear()
        set_precision()
        self.seed(int(request.get("seed", 0)))
        func = getattr(self.probes, request["probe"])
        value = func(self.student, **request.get("args", {}))
        set_precision()
        return {"kind": "result", "value": value, "notes": list(self.student.notes)}

    def seed(self, seed: int) -> None:
        """``torch.manual_seed(seed)`` for the devices this sandbox can use.

        Without CUDA in the sandbox, only the CPU generator is seeded: ``torch.manual_seed`` would also queue a
        seed for a CUDA start that cannot come, formatting the whole call stack (reading each file's source) at
        every load and probe.
        """
        import torch

        if self.config.get("uses_cuda"):
            torch.manual_seed(seed)
        else:
            torch.random.default_generator.manual_seed(seed)

    def _grader_looked_it_up(self, exc: BaseException) -> bool:
        """Whether the innermost frame of ours or the student's that raised ``exc`` is the assignment's probe."""
        probes = getattr(self.probes, "__file__", None)
        return probes is not None and _innermost_file(exc, {*self.filenames, probes}) == probes

    def raised(self, exc: BaseException) -> dict[str, Any]:
        """Describe an exception for the judge, pointing at the student's line, not the grader's."""
        if isinstance(exc, MissingDefinition):
            return {"kind": "raised", "type": "MissingDefinition", "message": str(exc), "hint": exc.hint}
        frame = student_frame(exc.__traceback__, self.filenames)
        where = None
        if frame is not None:
            where = {"file": frame.filename, "line": frame.lineno, "function": frame.name, "code": frame.line}
        hint = None
        if isinstance(exc, TypeError) and where and str(where["code"] or "").lstrip().startswith(("def ", "async def")):
            # Python refused the call itself (student_frame fell back to the def line): a wrong signature.
            hint = (f"Python could not call your `{frame.name if frame else 'function'}` (defined at line "
                    f"{where['line']}) the way the assignment calls it: {exc}. Compare your `def` line with the "
                    "signature in the statement: the same parameters, in the same order, with the same defaults.")
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AttributeError) and getattr(exc, "name", None) and getattr(exc, "obj", None) is not None:
            close = difflib.get_close_matches(str(exc.name), [a for a in dir(exc.obj) if not a.startswith("_")], 1)
            if self._grader_looked_it_up(exc):  # the probe asked for a name the assignment fixes: not a bug here
                kind = type(exc.obj).__name__
                message = f"The grader looked for `{exc.name}` on your {kind} and did not find it."
                hint = (f"The assignment asks for `{exc.name}`; your {kind} defines `{close[0]}`. Name it `{exc.name}`"
                        " as the statement does: the checks use the assignment's names." if close else
                        f"The assignment asks for `{exc.name}`, and your {kind} has no attribute of that name. "
                        "Define it as the statement describes.")
                where = None
            elif close:
                hint = f"Your code uses `{exc.name}`, which does not exist. Did you mean `{close[0]}`?"
        return {
            "kind": "raised",
            "type": type(exc).__name__,
            "message": message if len(message) <= 2000 else message[:2000] + " ...",
            "where": where,
            "traceback": short_traceback(exc, self.filenames) or _last_lines(exc),
            "hint": hint,
        }


def _innermost_file(exc: BaseException, files: set[str]) -> str | None:
    """The file of the innermost traceback frame that lies in one of ``files``."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in files:
            found = frame.filename
    return found


def _last_lines(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[:1000]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # student code may have replaced or closed the streams
            pass
