"""A real browser for tests: load a local HTML page in headless Chromium and see what it did.

:func:`load` opens a file in Debian's Chromium (``chromium --headless=new --dump-dom``) with a fresh
profile and every request sent to a proxy that is a loopback listener of the test's own, so a test can
assert that a page fetched nothing (no script, font, image or stylesheet from anywhere) and read the DOM
Chromium built. Chromium's own background services (component updates, sign-in, network time) would talk
to the proxy too: their three hosts bypass it and resolve to nothing, so what reaches the listener was asked
for by the page. ``tests/test_feedback.py`` proves the listener does see a page's fetch.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Where Chromium may be: Debian's package (its /usr/bin/chromium wrapper), or another name on PATH.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")

#: Chromium's own services that call home at start-up whatever page is open; nothing a page asks for.
BACKGROUND_HOSTS = ("update.googleapis.com", "accounts.google.com", "clients2.google.com")

#: Flags that keep Chromium quiet and its run reproducible; the proxy flags are added by :func:`load`.
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-breakpad", "--disable-domain-reliability", "--no-pings",
    "--disable-dev-shm-usage", "--metrics-recording-only",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
    "--window-size=390,844",  # a phone's screen
)


def chromium() -> str | None:
    """The Chromium binary to run, or None when there is none on this machine."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium binary, or skip the test saying why (only when no Chromium is installed at all)."""
    found = chromium()
    if found is None and os.environ.get("CI"):  # CI installs it (.ci/run): its absence there is a failure
        pytest.fail("no Chromium binary in CI: .ci/run should have installed it with apt-get")
    if found is None:
        pytest.skip("no Chromium binary (looked for " + ", ".join(CANDIDATES) + "): `apt-get install chromium`")
    return found


class ProxyListener:
    """A TCP listener on 127.0.0.1, given to Chromium as its HTTP proxy: it records each request line."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._record(conn)

    def _record(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        try:
            first = conn.recv(2000).split(b"\r\n", 1)[0]
        except OSError:
            first = b""
        self.requests.append(first.decode("latin-1") or "(a connection without a request line)")
        conn.close()  # no answer: the fetch fails, and the page is dumped as it is

    def close(self) -> None:
        """Stop listening, after recording the connections still waiting to be accepted."""
        self._stop.set()
        self._thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            conn.setblocking(True)
            self._record(conn)
        self.sock.close()


@dataclass
class Loaded:
    """What Chromium made of a page: the DOM it built, and every request the page made (proxy request lines)."""

    dom: str
    requests: list[str] = field(default_factory=list)
    stderr: str = ""


def load(page: Path, *, timeout: float = 60) -> Loaded:
    """Load ``page`` (a local file) in headless Chromium; its DOM after loading and the requests it made.

    Every request except to :data:`BACKGROUND_HOSTS` goes through a proxy that is a fresh loopback
    listener (``--proxy-bypass-list=<-loopback>`` sends even 127.0.0.1 there), and the listener never
    answers, so nothing leaves the machine. Skips the test when there is no Chromium.
    """
    binary = require_chromium()
    listener = ProxyListener()
    blocked = ", ".join(f"MAP {host} ~NOTFOUND" for host in BACKGROUND_HOSTS)
    try:
        with tempfile.TemporaryDirectory(prefix="grader-chromium-") as profile:
            command = [
                binary, *FLAGS, f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{listener.port}",
                "--proxy-bypass-list=<-loopback>;" + ";".join(BACKGROUND_HOSTS),
                f"--host-resolver-rules={blocked}",
                "--dump-dom", page.resolve().as_uri(),
            ]
            env = {**os.environ, "HOME": profile}  # nothing of the user's own browser setup
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                                  stdin=subprocess.DEVNULL)
    finally:
        listener.close()
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise AssertionError(f"chromium failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return Loaded(dom=proc.stdout, requests=list(listener.requests), stderr=proc.stderr)
