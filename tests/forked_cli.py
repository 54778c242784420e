"""Run the real `grader` command line in a process forked from a preloaded one: the suite's fast path.

Most of a short `grader grade` or `grader validate` is its Python and torch start-up (about 3 s of CPU on the
course machine, torch._dynamo included). This module runs one helper process per test process that imports
what the grader's own zygote imports (:func:`grader.sandbox.zygote.preload`: imports compute nothing, so the
process still forks safely) and then, for each command, forks a child that sets the command's working
folder, environment and standard streams, runs ``grader.cli.main(ARGS)`` exactly as ``python -m grader ARGS``
does, and exits with its status. The child is a fresh process of its own session: the sandbox, workers and
zygote it starts are real, and a timeout kills its whole process group.

What differs from a cold ``python -m grader``: the interpreter and torch were started before the command's
environment was set, so a variable read at import time (none of the grader's own) comes from the helper's
environment. Tests of start-up itself, of signals, terminals and of process trees keep the cold path
(the ``fresh_python`` marker: see `conftest.run_grader`).

Protocol on an AF_UNIX stream socket, one connection per command: the client sends one JSON line
``{"args", "cwd", "env"}``; the child answers one JSON line ``{"pid"}`` as it starts and one
``{"code", "stdout", "stderr"}`` when the command has ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_HELPER: dict[str, Any] = {}


def _serve(path: str) -> None:
    """The helper: preload, listen, fork a child per connection (single-threaded, so forking is safe)."""
    from grader.sandbox.zygote import preload

    preload()
    import grader.cli  # noqa: F401  (and what it imports)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children report through their socket; none is waited for
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".part")
    listener.listen(64)
    os.rename(path + ".part", path)  # ready: the client waits for this name
    parent = os.getppid()
    listener.settimeout(1.0)
    while True:
        if os.getppid() != parent:  # the test process is gone
            return
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        if os.fork() == 0:
            listener.close()
            _child(conn)  # never returns
        conn.close()


def _child(conn: socket.socket) -> None:
    code = 70
    try:
        conn.settimeout(None)
        request = json.loads(conn.makefile("rb").readline())
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # read TMPDIR again
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        import grader

        sys.argv = [str(Path(grader.__file__).with_name("__main__.py")), *request["args"]]
        try:
            from grader.cli import main

            code = main(request["args"])
        except SystemExit as exc:  # as the interpreter reads it: None is 0, a message is printed and is 1
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        import atexit

        atexit._run_exitfuncs()  # what interpreter exit would run (before the streams are read back)
        sys.stdout.flush()
        sys.stderr.flush()
        out.seek(0)
        err.seek(0)
        reply = {"code": code, "stdout": out.read().decode(errors="replace"),
                 "stderr": err.read().decode(errors="replace")}
        conn.sendall(json.dumps(reply).encode() + b"\n")
    finally:
        os._exit(code)


def _helper_path() -> str:
    with _LOCK:
        if not _HELPER:
            folder = tempfile.mkdtemp(prefix="pytest-forked-cli-")
            path = os.path.join(folder, "cli.sock")
            proc = subprocess.Popen([sys.executable, "-c", f"import forked_cli; forked_cli._serve({path!r})"],
                                    cwd=Path(__file__).parent, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                        [str(Path(__file__).parent), str(Path(__file__).parents[1])])})
            deadline = time.monotonic() + 120
            while not os.path.exists(path):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the forked-CLI helper did not start (exit {proc.poll()})")
                time.sleep(0.02)
            _HELPER.update(path=path, proc=proc, folder=folder)
        return str(_HELPER["path"])


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run ``grader ARGS`` in a child of the helper; (exit status, stdout, stderr).

    Raises :class:`subprocess.TimeoutExpired` after ``timeout`` seconds, once the child's process group is killed.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(_helper_path())
    pid = None
    try:
        sock.sendall(json.dumps({"args": args, "cwd": str(cwd), "env": env}).encode() + b"\n")
        sock.settimeout(timeout)
        reader = sock.makefile("rb")
        pid = json.loads(reader.readline())["pid"]
        line = reader.readline()
        if not line:
            raise RuntimeError(f"grader {' '.join(args)}: the forked command died without a reply")
        reply = json.loads(line)
        return int(reply["code"]), str(reply["stdout"]), str(reply["stderr"])
    except TimeoutError:
        if pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        raise subprocess.TimeoutExpired(["grader", *args], timeout) from None
    finally:
        sock.close()


def stop() -> None:
    """Stop this test process's helper (its running children finish on their own)."""
    if not _HELPER:
        return
    proc = _HELPER["proc"]
    proc.kill()
    proc.wait()
    shutil.rmtree(_HELPER["folder"], ignore_errors=True)
    _HELPER.clear()
