"""The warm check server: one background grader per user, so that a check after the first costs no torch start-up.

The first ``grader.check(...)`` of a notebook session starts it; later checks, from the notebook and from
``grader check`` on the command line, send it their request and get the same results document back. The
server does what ``grader check`` does, in the same order: it imports torch (and ``torch._dynamo``, which
``torch.optim`` would import on first use), forks the zygote before computing anything, and then grades
request after request with one :class:`~grader.grading.Grader`, each submission in its own sandbox.

Who may talk to it: it listens on an AF_UNIX socket in a folder only its user can open (``0700``, under
``$XDG_RUNTIME_DIR`` or a per-user folder in the temporary directory), and every connection's peer is checked
with ``SO_PEERCRED``: another user's process is refused, even if the folder's permissions were loosened.
Clients check the folder's owner and mode, and the server's uid, before they send anything.

When it stops: after ``GRADER_SERVER_IDLE`` seconds without a request (default 900), when every notebook
kernel that used it has exited, on ``python -m grader.server stop``, and when the grader's code that it runs
changed on disk (the next check starts a new one). It never serves a stale course: each request hashes the
course's ``assignments/`` and ``reference/`` Python files and reloads the checks when they changed.

A student's code that crashes or hangs only costs its sandbox (see :mod:`grader.sandbox`); the server
answers the next request as before. One request is graded at a time.

    python -m grader.server start | stop | status
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__
from grader.private_folders import OTHERS_ANY, owned_folder

#: Seconds without a request after which the server stops (``GRADER_SERVER_IDLE`` overrides).
DEFAULT_IDLE_S = 900.0
#: How long a client waits for a server it started to be ready to grade (torch and the zygote).
STARTUP_S = 120.0
#: Environment variables that change a verdict or how it is reached: a server is shared only by clients that agree.
_KEY_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
#: The server's own settings: they do not change verdicts, so they do not select a server.
_SERVER_VARIABLES = ("GRADER_SERVER_IDLE", "GRADER_SERVER_DIR", "GRADER_NO_SERVER", "GRADER_COURSE")
_MAX_MESSAGE = 64 << 20
_HEADER = struct.Struct(">I")


class ServerUnavailable(Exception):
    """No check server can be used (none running, or its folder is not safe); grade without it."""


class NoServerFolder(ServerUnavailable):
    """The per-user server folder does not exist, so no server runs (a client looking never creates it)."""


class ServerLost(Exception):
    """The check server went away, or stopped answering, in the middle of a check."""


class ServerRefused(Exception):
    """The server could not grade as asked (an unknown assignment, a device this machine lacks): a usage error."""


# ---- where the socket lives -------------------------------------------------------------------------------


def socket_folder(create: bool = True) -> Path:
    """The per-user folder of the server's socket (created ``0700``); raises :class:`ServerUnavailable` if unsafe.

    With ``create`` false (a client only looking for a running server), a missing folder means no server
    runs: :class:`ServerUnavailable`, and nothing is created.

    ``GRADER_SERVER_DIR`` wins; else ``$XDG_RUNTIME_DIR/grader`` when that folder is the user's own; else
    ``grader-<uid>`` in the temporary directory. A folder that exists but is a link, belongs to someone
    else or lets others in is never used (someone could be waiting in it for our requests).
    """
    if not hasattr(socket, "SO_PEERCRED"):  # Linux's way to learn who connected; without it, no server
        raise ServerUnavailable("the check server needs Linux (SO_PEERCRED)")
    uid = os.getuid()
    override = os.environ.get("GRADER_SERVER_DIR")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if override:
        folder = Path(override)
    elif runtime and owned_folder(Path(runtime), OTHERS_ANY):
        folder = Path(runtime) / "grader"
    else:
        folder = Path(tempfile.gettempdir()) / f"grader-{uid}"
    if not create and not os.path.lexists(folder):
        raise NoServerFolder(f"no check server is running ({folder} does not exist)")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ServerUnavailable(f"cannot create {folder} ({exc.strerror})") from None
    if not owned_folder(folder, OTHERS_ANY):
        raise ServerUnavailable(f"{folder} is not a folder that only you can open; not using a check server")
    return folder


def server_key() -> str:
    """Which server a client may use: the same Python, the same grader and the same verdict-changing settings."""
    import grader

    settings = {name: value for name, value in sorted(os.environ.items())
                if (name.startswith("GRADER_") and name not in _SERVER_VARIABLES) or name in _KEY_VARIABLES}
    text = json.dumps([os.path.realpath(sys.executable), str(Path(grader.__file__).resolve().parent), __version__,
                       settings])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def socket_path(create: bool = True) -> Path:
    """The socket this client's server listens on (the folder is created when missing, if ``create``)."""
    return socket_folder(create) / f"check-{server_key()}.sock"


def idle_seconds() -> float:
    """``GRADER_SERVER_IDLE`` (seconds), else :data:`DEFAULT_IDLE_S`."""
    try:
        value = float(os.environ.get("GRADER_SERVER_IDLE", DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S
    return value if value > 0 else DEFAULT_IDLE_S


# ---- the wire: length-prefixed JSON -------------------------------------------------------------------------


def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one JSON message, prefixed with its length."""
    data = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv_message(sock: socket.socket) -> dict[str, Any] | None:
    """Receive one message; None when the other side closed before sending one."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > _MAX_MESSAGE:
        raise ValueError("message too large")
    data = _recv_exactly(sock, size)
    if data is None:
        return None
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("malformed message")
    return message


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of an AF_UNIX socket (``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


# ---- the client -----------------------------------------------------------------------------------------------


@dataclass
class CheckRequest:
    """What to grade, and how: the options of ``grader check``."""

    assignment: str
    path: str  # as the user wrote it (relative to ``cwd``): the results document quotes it
    cwd: str
    root: str  # the course folder
    device: str = "auto"
    timeout: float | None = None
    memory: int | None = None
    seed: int | None = None
    show_output: bool = False
    cell_timeout: float | None = None
    data: bytes | None = None  # the submission's bytes when they are not a file (a kernel's executed cells)
    name: str | None = None

    def message(self, watch: int | None) -> dict[str, Any]:
        """The request as sent on the wire; ``watch`` is a kernel whose exit may stop the server."""
        body: dict[str, Any] = {
            "op": "check", "assignment": self.assignment, "path": self.path, "cwd": self.cwd, "root": self.root,
            "device": self.device, "timeout": self.timeout, "memory": self.memory, "seed": self.seed,
            "show_output": self.show_output, "name": self.name, "watch": watch, "cell_timeout": self.cell_timeout,
        }
        if self.data is not None:
            body["data"] = base64.b64encode(self.data).decode()
        return body


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        if peer_uid(sock) != os.getuid():  # a socket that someone else put there
            raise ServerUnavailable(f"{path} belongs to another user")
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(path: Path, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request and wait for its reply; :class:`ServerLost` when the server goes away meanwhile."""
    try:
        sock = _connect(path, 5.0)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ServerUnavailable(f"no check server is running ({exc.strerror})") from None
    except OSError as exc:
        raise ServerUnavailable(f"cannot reach the check server ({exc})") from None
    with sock:
        try:
            sock.settimeout(timeout)
            send_message(sock, message)
            reply = recv_message(sock)
        except TimeoutError:
            raise ServerLost(f"the check server did not answer within {timeout:g} s") from None
        except (OSError, ValueError) as exc:
            raise ServerLost(f"the check server stopped during the check ({exc})") from None
    if reply is None:
        raise ServerLost("the check server stopped during the check")
    return reply


def _reply_timeout(request: CheckRequest, starting: bool) -> float:
    from grader.session import Limits

    return Limits.for_timeout(request.timeout, request.memory).timeout + 60 + (STARTUP_S if starting else 0)


def check_with_running_server(request: CheckRequest) -> dict[str, Any]:
    """Grade with the server that is already running; :class:`ServerUnavailable` when there is none.

    Returns the reply: ``document``, ``text`` (the ``grader check`` report), ``gradescope`` and ``full_marks``.
    Raises :class:`ServerLost` when the server died or hung during the check, :class:`ServerRefused` for a
    usage error. A server that finds the grader's own code changed stops, and counts as not running.
    """
    reply = _exchange(socket_path(create=False), request.message(None), _reply_timeout(request, False))
    return _unwrap(reply)


def check_with_server(request: CheckRequest, *, watch: int | None = None,
                      on_start: Callable[[], None] | None = None) -> dict[str, Any]:
    """Grade with this user's server, starting one first when none runs (what a notebook does).

    ``watch``: a process (the notebook's kernel) whose exit lets the server stop. ``on_start`` is called
    (with no argument) just before a new server is started, to tell the student why this check is slower.
    """
    path = socket_path()
    for _attempt in range(2):
        starting = False
        with _start_lock(path):
            if not _answers(path):
                if on_start is not None:
                    on_start()
                _spawn(path, watch)
                starting = True
        try:
            return _unwrap(_exchange(path, request.message(watch), _reply_timeout(request, starting)))
        except ServerUnavailable:
            continue  # it stopped between our look and our request (idle, or the grader changed): start anew
    raise ServerUnavailable("the check server could not be started")


def _unwrap(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("ok"):
        return reply
    if reply.get("error") == "usage":
        raise ServerRefused(str(reply.get("message")))
    if reply.get("error") == "restart":
        raise ServerUnavailable("the check server was out of date and stopped")
    raise ServerLost(str(reply.get("message") or "the check server failed"))


def _answers(path: Path) -> bool:
    """Whether a server is listening on ``path`` (a socket file left by a dead one is removed)."""
    try:
        sock = _connect(path, 2.0)
    except (FileNotFoundError, ConnectionRefusedError):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return False
    except OSError:
        return False
    sock.close()
    return True


@contextlib.contextmanager
def _start_lock(path: Path) -> Iterator[None]:
    """Held while looking for a server and starting one, so that two checks at once start one server."""
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


#: Servers started by this process, kept so that they are reaped when they end.
_STARTED: list[subprocess.Popen[bytes]] = []


def _spawn(path: Path, watch: int | None) -> None:
    """Start a server on ``path`` and wait until it listens (it binds at once, before importing torch)."""
    import grader

    command = [sys.executable, "-m", "grader.server", "serve", "--socket", str(path)]
    if watch is not None:
        command += ["--watch", str(watch)]
    log = os.fdopen(os.open(path.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600),
                    "wb")
    with log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            cwd=str(Path(grader.__file__).resolve().parents[1]),  # so `-m grader.server` finds this grader
        )
    _STARTED[:] = [p for p in _STARTED if p.poll() is None] + [proc]
    deadline = time.monotonic() + 30
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ServerUnavailable(f"the check server did not start (see {path.with_suffix('.log')})")
        time.sleep(0.005)


def server_status(timeout: float = 10.0) -> dict[str, Any] | None:
    """The running server's pid, version and requests served; None when none runs."""
    try:
        reply = _exchange(socket_path(create=False), {"op": "status"}, timeout)
    except (ServerUnavailable, ServerLost):
        return None
    return reply


def stop_server() -> bool:
    """Stop this user's server (for these settings); whether one was running."""
    try:
        _exchange(socket_path(create=False), {"op": "stop"}, 30.0)
    except (ServerUnavailable, ServerLost):
        return False
    return True


# ---- the server ------------------------------------------------------------------------------------------------


def course_fingerprint(root: Path) -> str:
    """A hash of the course's checks, probes and references: it changes whenever one of them is edited."""
    digest = hashlib.sha256()
    for folder in ("assignments", "reference"):
        for file in sorted((root / folder).rglob("*.py")):
            try:
                digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
            except OSError:
                digest.update(str(file).encode() + b"\0unreadable\0")
    return digest.hexdigest()


def loaded_grader_files() -> dict[str, tuple[int, int]]:
    """The grader's modules this process has imported, with their files' mtimes and sizes now."""
    import grader

    package = str(Path(grader.__file__).resolve().parent) + os.sep
    found = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.realpath(file).startswith(package):
            with contextlib.suppress(OSError):
                info = os.stat(file)
                found[file] = (info.st_mtime_ns, info.st_size)
    return found


class CheckServer:
    """The server's state: the warm grader, the course versions it has loaded, who it serves and until when."""

    def __init__(self, path: Path, watch: int | None) -> None:
        """Listen on ``path`` at once (clients queue), then import torch and fork the zygote (see the module doc)."""
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound under a temporary name and renamed once listening: a client that sees the path can connect.
        pending = path.with_name(f".{path.name}.{os.getpid()}")
        old_umask = os.umask(0o077)
        try:
            self.listener.bind(str(pending))
        finally:
            os.umask(old_umask)
        self.listener.listen(16)
        os.replace(pending, path)
        self.inode = os.stat(path).st_ino
        self.watched: set[int] = {watch} if watch else set()
        self.served = 0
        self.last_request = time.monotonic()
        self.idle = idle_seconds()
        self.courses: dict[str, str] = {}
        from grader.sandbox.zygote import preload

        preload()  # torch, torch.optim, torch._dynamo and the sandbox's code: imports only, nothing computed
        from grader.grading import Grader

        self.grader = Grader()  # forks the zygote now, before this process computes anything
        self.code: dict[str, tuple[int, int]] = {}
        self.code_changed()

    def code_changed(self) -> bool:
        """Whether a file of the grader's code that this server runs changed since it was imported.

        Modules imported since the last look are noted as they are now; files it never imported do not count.
        """
        changed = False
        for file, stamp in loaded_grader_files().items():
            changed |= self.code.setdefault(file, stamp) != stamp
        return changed

    def close(self) -> None:
        """Stop listening, remove the socket (when it is still ours) and stop the zygote."""
        self.listener.close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        self.grader.close()

    def serve_forever(self) -> None:
        """Answer requests until idle, until every watched kernel has exited, or until told to stop."""
        self.listener.settimeout(1.0)
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                if self._should_stop():
                    return
                continue
            with conn:
                if not self._serve_connection(conn):
                    return

    def _should_stop(self) -> bool:
        if time.monotonic() - self.last_request > self.idle:
            return True
        if self.watched:
            self.watched = {pid for pid in self.watched if _running(pid)}
            return not self.watched
        return False

    def _serve_connection(self, conn: socket.socket) -> bool:
        """Answer one connection; False when the server must stop."""
        if peer_uid(conn) != os.getuid():
            with contextlib.suppress(OSError):
                send_message(conn, {"ok": False, "error": "refused", "message": "this check server is not yours"})
            return True
        try:
            conn.settimeout(30)
            request = recv_message(conn)
        except (OSError, ValueError):
            return True
        if request is None:
            return True
        self.last_request = time.monotonic()
        op = request.get("op")
        if op == "stop":
            with contextlib.suppress(OSError):
                send_message(conn, {"ok": True, "stopped": True})
            return False
        if op == "status":
            reply: dict[str, Any] = {"ok": True, "pid": os.getpid(), "version": __version__, "served": self.served,
                                     "watching": sorted(self.watched)}
        elif op == "check":
            if self.code_changed():
                with contextlib.suppress(OSError):
                    send_message(conn, {"ok": False, "error": "restart", "message": "the grader changed on disk"})
                return False
            if isinstance(request.get("watch"), int):
                self.watched.add(request["watch"])
            reply = self.check(request)
            self.served += 1
            self.code_changed()  # notes the modules this check imported
        else:
            reply = {"ok": False, "error": "usage", "message": f"unknown request {op!r}"}
        with contextlib.suppress(OSError):
            conn.settimeout(30)
            send_message(conn, reply)
        self.last_request = time.monotonic()
        return True

    def check(self, request: dict[str, Any]) -> dict[str, Any]:
        """Grade one request as ``grader check`` would; never raises."""
        home = os.getcwd()
        try:
            os.chdir(request["cwd"])  # the document quotes the path as the student wrote it, relative to here
            return grade_request(self.grader, request, self.courses)
        except Exception as exc:  # a grader bug costs this request, not the server
            return {"ok": False, "error": "failed", "message": f"the check server failed: {exc!r}"}
        finally:
            os.chdir(home)


def grade_request(grader: Any, request: dict[str, Any], courses: dict[str, str]) -> dict[str, Any]:
    """Grade ``request`` with ``grader`` (a :class:`~grader.grading.Grader`); the reply a client reads.

    ``courses`` maps each course folder to the fingerprint of what was loaded from it: a course edited
    since is loaded again, so a check never runs an old version of an assignment.
    """
    import grader.assignment as assignments
    from grader.grading import DeviceUnavailable, Options, select_devices
    from grader.report import render_text
    from grader.results import to_gradescope
    from grader.session import Limits

    root = Path(request["root"])
    fingerprint = course_fingerprint(root)
    if courses.get(str(root)) != fingerprint:
        assignments._load.cache_clear()
        for name in [n for n in sys.modules if n.startswith("grader_assignments.")]:
            del sys.modules[name]
        courses[str(root)] = fingerprint
    try:
        assignment = assignments.load_assignment(request["assignment"], root)
        grader.options = Options(device=request["device"], seed=request["seed"],
                                 limits=Limits.for_timeout(request["timeout"], request["memory"],
                                                           request.get("cell_timeout")))
        grader.tested, grader.absent = select_devices(request["device"], grader.cuda_available)
    except (assignments.UnknownAssignment, DeviceUnavailable) as exc:
        return {"ok": False, "error": "usage", "message": str(exc)}
    data = base64.b64decode(request["data"]) if request.get("data") is not None else None
    result = grader.grade(assignment, Path(request["path"]), data=data, name=request.get("name"))
    return {
        "ok": True,
        "document": result.to_document(),
        "text": render_text(result, show_log=bool(request.get("show_output"))),
        "gradescope": to_gradescope(result),
        "full_marks": result.full_marks,
    }


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in ("Z", "X")


def grade_once(request: dict[str, Any]) -> dict[str, Any]:
    """Grade one request in this fresh process, without a server (``GRADER_NO_SERVER``, or no safe folder)."""
    from grader.grading import Grader

    grader = Grader()
    try:
        home = os.getcwd()
        os.chdir(request["cwd"])
        try:
            return grade_request(grader, request, {})
        finally:
            os.chdir(home)
    finally:
        grader.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.server start | stop | status | serve --socket PATH [--watch PID] | once``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m grader.server", description="The warm check server.")
    parser.add_argument("action", choices=("start", "stop", "status", "serve", "once"))
    parser.add_argument("--socket", type=Path)
    parser.add_argument("--watch", type=int)
    args = parser.parse_args(argv)
    if args.action == "serve":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server = CheckServer(args.socket or socket_path(), args.watch)
        try:
            server.serve_forever()
        finally:
            server.close()
        return 0
    if args.action == "once":  # one request on stdin, its reply on stdout
        request = json.loads(sys.stdin.buffer.read())
        json.dump(grade_once(request), sys.stdout)
        return 0
    try:
        path = socket_path(create=False)
    except NoServerFolder:
        print("no check server was running" if args.action == "stop" else "no check server is running")
        return 0 if args.action == "stop" else 1
    except ServerUnavailable as exc:
        print(f"grader: no check server: {exc}", file=sys.stderr)
        return 1
    if args.action == "stop":
        print("check server stopped" if stop_server() else "no check server was running")
        return 0
    if args.action == "status":
        status = server_status()
        if status is None:
            print("no check server is running")
            return 1
        print(f"check server running: pid {status['pid']}, {status['served']} checks served, socket {path}")
        return 0
    with _start_lock(path):  # start
        if not _answers(path):
            _spawn(path, None)
    status = server_status(STARTUP_S)
    print(f"check server running: pid {status['pid'] if status else '?'}, socket {path}")
    return 0 if status else 1


if __name__ == "__main__":
    sys.exit(main())
