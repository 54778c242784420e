"""The warm check server, for real: `grader check` through it, killed mid-check, a course edited under it, another user.

Every test runs the real `grader` CLI and a real server process on a real AF_UNIX socket, in a private socket
folder (``GRADER_SERVER_DIR``) so that nothing here meets a server the developer may have running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, ZOO, in_parallel, run_grader, stable, surviving_processes

# The server and its processes are under test: each `grader` command starts a new Python.
pytestmark = pytest.mark.fresh_python

REFERENCE = ROOT / "reference" / "my_linear.py"
BUGGY = ZOO / "my_linear" / "bias_left_out.py"


class Server:
    """A private socket folder, and the server of these tests in it."""

    def __init__(self, **env: str) -> None:
        # A short path: AF_UNIX socket paths are limited to 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="gs-", dir="/tmp"))
        self.env = {"GRADER_SERVER_DIR": str(self.folder), **env}

    def python(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self) -> int:
        proc = self.python("-m", "grader.server", "start")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return self.status()["pid"]

    def status(self) -> dict[str, Any]:
        code = ("import json; from grader.server import server_status; "
                "print(json.dumps(server_status()))")
        proc = self.python("-c", code)
        return json.loads(proc.stdout) or {}

    def socket(self) -> Path:
        return next(self.folder.glob("check-*.sock"))

    def check(self, *args: str | Path, cwd: Path = ROOT, **env: str) -> Any:
        return run_grader("check", *args, cwd=cwd, env={**self.env, **env})

    def close(self) -> None:
        status = self.status()
        self.python("-m", "grader.server", "stop")
        if status.get("pid"):
            with contextlib.suppress(OSError):
                os.kill(status["pid"], signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server(GRADER_SERVER_IDLE="300")
    try:
        running.start()
        yield running
    finally:
        running.close()


def _json(run: Any) -> dict[str, Any]:
    assert run.returncode in (0, 1), run.stderr
    return dict(json.loads(run.stdout))


def test_check_twice_through_the_server_gives_the_same_documents(server: Server) -> None:
    """Two `grader check` runs go through the server (it counts them) and say what `--no-server` says."""
    before = server.status()["served"]
    good = [server.check("my_linear", REFERENCE, "--format", "json", "--seed", "7") for _ in range(2)]
    bad = server.check("my_linear", BUGGY, "--format", "json", "--seed", "7")
    text = server.check("my_linear", BUGGY, "--seed", "7")
    assert server.status()["served"] == before + 4
    alone = in_parallel([
        lambda: server.check("my_linear", REFERENCE, "--format", "json", "--seed", "7", "--no-server"),
        lambda: server.check("my_linear", BUGGY, "--seed", "7", "--no-server"),
    ])
    assert server.status()["served"] == before + 4  # --no-server never uses it
    assert [run.returncode for run in good] == [0, 0] and bad.returncode == 1 == text.returncode
    assert stable(_json(good[0])) == stable(_json(good[1])) == stable(_json(alone[0]))
    assert _json(bad)["score"] == 6.0  # bias_left_out loses forward, gradients and the optimizer step
    assert text.stdout == alone[1].stdout  # the readable report too, word for word


@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="this machine has a GPU")
def test_a_usage_error_through_the_server_exits_2(server: Server) -> None:
    """What the server cannot do (here: --device cuda without a GPU) is the same one-line error, exit 2."""
    run = server.check("my_linear", REFERENCE, "--device", "cuda")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("grader: error: --device cuda: this machine has no usable CUDA device")
    assert server.status()["pid"]  # and it goes on serving


def test_the_server_survives_a_crashing_submission(server: Server, tmp_path: Path) -> None:
    """A submission that kills its sandbox, then one that hangs a check: the next verdict is still right."""
    exits = tmp_path / "my_linear.py"
    exits.write_text("import os\nos._exit(3)\n")
    crashed = _json(server.check("my_linear", exits, "--format", "json", "--seed", "7"))
    assert crashed["status"] == "crashed" and crashed["score"] == 0
    hangs = tmp_path / "hangs" / "my_linear.py"
    hangs.parent.mkdir()
    loop = "        while True:\n            pass\n        out = x @ self.weights"
    hangs.write_text(REFERENCE.read_text().replace("        out = x @ self.weights", loop))
    hung = _json(server.check("my_linear", hangs, "--format", "json", "--seed", "7", "--timeout", "4"))
    assert hung["score"] < hung["max_score"]
    good = _json(server.check("my_linear", REFERENCE, "--format", "json", "--seed", "7"))
    assert good["score"] == good["max_score"] == 11.0


def test_an_edited_check_is_used_at_once(server: Server, tmp_path: Path) -> None:
    """A check added to the course while the server runs counts in the very next verdict."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "assignments" / "my_linear", course / "assignments" / "my_linear")
    (course / "reference").mkdir()
    shutil.copy(REFERENCE, course / "reference" / "my_linear.py")
    env = {"GRADER_COURSE": str(course)}
    first = _json(server.check("my_linear", REFERENCE, "--format", "json", "--seed", "7", **env))
    assert first["score"] == first["max_score"] == 11.0
    checks = course / "assignments" / "my_linear" / "checks.py"
    checks.write_text(checks.read_text() + '''

@check(points=1)
def added_today(ctx: Context) -> None:
    """A check the course staff added while the server ran."""
    raise CheckFailed("the new check's expectation", "something else")
''')
    before = server.status()["served"]
    second = _json(server.check("my_linear", REFERENCE, "--format", "json", "--seed", "7", **env))
    assert server.status()["served"] == before + 1
    assert (second["score"], second["max_score"]) == (11.0, 12.0)
    assert second["checks"][-1]["id"] == "added_today" and second["checks"][-1]["status"] == "failed"


_AS_NOBODY = """
import json, os, socket, struct, sys
os.setgroups([]); os.setgid(65534); os.setuid(65534)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(sys.argv[1])
except PermissionError:
    print("denied"); sys.exit(0)
sock.settimeout(30)
header = sock.recv(4)  # the server answers a stranger at once, without reading anything from it
print(sock.recv(struct.unpack(">I", header)[0]).decode() if header else "closed")
"""


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run a process as nobody")
def test_another_user_cannot_use_the_server(server: Server) -> None:
    """`nobody` cannot reach the socket; with the folder opened up, the server still refuses (SO_PEERCRED)."""
    path = server.socket()
    nobody = server.python("-c", _AS_NOBODY, str(path))
    assert nobody.stdout.strip() == "denied", nobody.stdout + nobody.stderr
    os.chmod(server.folder, 0o755)
    os.chmod(path, 0o777)
    try:
        nobody = server.python("-c", _AS_NOBODY, str(path))
        reply = json.loads(nobody.stdout)
        assert reply["ok"] is False and reply["error"] == "refused", nobody.stdout + nobody.stderr
        assert "pid" not in reply
        # And this user's own clients no longer trust the folder: they grade without the server.
        code = "from grader.server import socket_folder; socket_folder()"
        proc = server.python("-c", code)
        assert proc.returncode != 0 and "not a folder that only you can open" in proc.stderr
    finally:
        os.chmod(server.folder, 0o700)
        os.chmod(path, 0o755)
    assert server.status()["pid"]  # still serving its own user


def test_a_server_killed_mid_check(tmp_path: Path) -> None:
    """Killed during a check: the CLI says so and grades without it; the next notebook-style check starts a new
    server, which stops when idle."""
    running = Server(GRADER_SERVER_IDLE="2")
    try:
        first_pid = running.start()
        slow = tmp_path / "manual_lr.py"  # manual_lr: its fallback check builds no optimizer (no torch._dynamo import)
        slow.write_text("import time\ntime.sleep(2)\n" + (ROOT / "reference" / "manual_lr.py").read_text())
        cli = subprocess.Popen([sys.executable, "-m", "grader", "check", "manual_lr", str(slow), "--seed", "7"],
                               cwd=ROOT, env={**os.environ, **running.env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        os.kill(first_pid, signal.SIGKILL)
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, out + err
        assert "the check server stopped during the check; checking without it." in err
        assert "Score: 12/12 (full marks)" in out
        assert not surviving_processes(str(running.folder))  # its zygote and sandbox went with it

        # The next check (as a notebook makes it: start a server when none answers) starts a new one. Its process
        # lives on (a kernel would), yet the server stops once idle (GRADER_SERVER_IDLE=2 here). (That a server stops
        # when the kernels that used it exit is tested in test_notebook_check.py.)
        code = ("import grader, time; v = grader.check('my_linear', 'reference/my_linear.py', seed=7); "
                "print(v.score, v.max_score, flush=True); time.sleep(60)")
        user = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **running.env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert user.stdout is not None
            assert "Starting the grader in the background" in user.stdout.readline()
            assert user.stdout.readline().strip() == "11.0 11.0"
            assert running.status()["served"] == 1
            deadline = time.monotonic() + 15
            while list(running.folder.glob("check-*.sock")) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not list(running.folder.glob("check-*.sock")), "the idle server did not stop"
            assert user.poll() is None  # it stopped for idleness, not because its user exited
            assert not surviving_processes(str(running.folder))
        finally:
            user.kill()
            user.wait()
    finally:
        running.close()


def test_a_server_whose_grader_changed_stops_instead_of_answering() -> None:
    """After the grader's own code changes on disk, the server answers no check with the old code: it stops, and
    `grader check` grades without it. (A copy of the package, so that the working tree is not touched.)"""
    copy = Path(tempfile.mkdtemp(prefix="gc-", dir="/tmp"))
    shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    running = Server(GRADER_COURSE=str(ROOT))
    env = {**os.environ, **running.env}

    def from_copy(*args: str) -> subprocess.CompletedProcess[str]:  # `python -m` finds the copy in its folder
        return subprocess.run([sys.executable, "-m", *args], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=180)

    try:
        assert from_copy("grader.server", "start").returncode == 0
        reference = str(ROOT / "reference" / "manual_lr.py")
        assert from_copy("grader", "check", "manual_lr", reference).returncode == 0
        assert "1 checks served" in from_copy("grader.server", "status").stdout
        report = copy / "grader" / "report.py"
        os.utime(report, ns=(report.stat().st_atime_ns, report.stat().st_mtime_ns + 10**9))
        again = from_copy("grader", "check", "manual_lr", reference)
        assert again.returncode == 0 and "Score: 12/12 (full marks)" in again.stdout, again.stdout + again.stderr
        assert from_copy("grader.server", "status").stdout.strip() == "no check server is running"
    finally:
        from_copy("grader.server", "stop")
        running.close()
        shutil.rmtree(copy, ignore_errors=True)


def test_looking_for_a_server_creates_no_folder(tmp_path: Path) -> None:
    """`grader check` and `grader.server status`/`stop` look for a server without creating its folder."""
    folder = tmp_path / "servers"  # does not exist
    env = {"GRADER_SERVER_DIR": str(folder)}
    run = run_grader("check", "my_linear", ROOT / "reference" / "my_linear.py", "--format", "json", env=env)
    assert run.returncode == 0, run.stderr
    for action, code, said in (("status", 1, "no check server is running"), ("stop", 0, "no check server was running")):
        proc = subprocess.run([sys.executable, "-m", "grader.server", action], cwd=ROOT, capture_output=True,
                              text=True, env={**os.environ, **env}, timeout=60)
        assert (proc.returncode, proc.stdout.strip()) == (code, said), proc.stdout + proc.stderr
    assert not folder.exists()
