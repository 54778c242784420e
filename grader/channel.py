"""Length-prefixed messages over a socket, with deadlines on the judge's side.

The judge never blocks on a sandbox without a deadline: a sandbox that sends half a message and stops,
or stops reading, costs at most the time the judge gave it. While it waits, the judge also drains the
sandbox's stdout/stderr pipe into a bounded log, so a flood neither blocks the sandbox nor fills memory.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time

_HEADER = struct.Struct("!Q")


class ChannelClosed(Exception):
    """The other end went away (the sandbox exited or closed its socket)."""


class ChannelTimeout(Exception):
    """The deadline passed before the message was complete."""


class ChannelTooLarge(Exception):
    """The other end announced a message larger than the judge accepts."""


class BoundedLog:
    """Keeps the first ``limit`` bytes a sandbox prints and counts the rest."""

    def __init__(self, limit: int) -> None:
        """Create an empty log that keeps at most ``limit`` bytes."""
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        """Add printed bytes, keeping only what fits."""
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        """The kept output as text, with a note of how much was dropped."""
        out = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output were not kept]"
        return out


def send_blocking(sock: socket.socket, payload: bytes) -> None:
    """Send one message from the sandbox side (blocking: the judge always reads)."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_blocking(sock: socket.socket) -> bytes:
    """Receive one message on the sandbox side, blocking until it is complete."""
    header = _recv_exact(sock, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ChannelClosed("the judge closed the channel")
        chunks += chunk
    return bytes(chunks)


class JudgeEnd:
    """The judge's end of a sandbox channel: every operation has a deadline and drains the log."""

    def __init__(self, sock: socket.socket, log_fd: int, log: BoundedLog, max_message: int) -> None:
        """Wrap the judge's socket and the read end of the sandbox's output pipe."""
        self.sock = sock
        self.sock.setblocking(False)
        self.log_fd: int | None = log_fd
        os.set_blocking(log_fd, False)
        self.log = log
        self.max_message = max_message
        self._buffer = bytearray()

    def _drain_log(self) -> None:
        if self.log_fd is None:
            return
        try:
            while True:
                chunk = os.read(self.log_fd, 1 << 16)
                if not chunk:
                    os.close(self.log_fd)
                    self.log_fd = None
                    return
                self.log.feed(chunk)
        except BlockingIOError:
            return

    def _wait(self, deadline: float, write: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("deadline passed")
        readers = [self.log_fd] if self.log_fd is not None else []
        if not write:
            readers.append(self.sock.fileno())
        writers = [self.sock.fileno()] if write else []
        readable, _, _ = select.select(readers, writers, [], remaining)
        if self.log_fd is not None and self.log_fd in readable:
            self._drain_log()

    def send(self, payload: bytes, deadline: float) -> None:
        """Send one message, giving up at ``deadline``."""
        data = memoryview(_HEADER.pack(len(payload)) + payload)
        while data:
            try:
                sent = self.sock.send(data)
                data = data[sent:]
            except BlockingIOError:
                self._wait(deadline, write=True)
            except (BrokenPipeError, ConnectionResetError):
                raise ChannelClosed("the sandbox closed the channel") from None

    def recv(self, deadline: float) -> bytes:
        """Receive one whole message, giving up at ``deadline``."""
        while True:
            if len(self._buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self._buffer)
                if size > self.max_message:
                    raise ChannelTooLarge(f"the sandbox announced a reply of {size} bytes")
                if len(self._buffer) >= _HEADER.size + size:
                    payload = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
                    del self._buffer[: _HEADER.size + size]
                    self._drain_log()
                    return payload
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                self._wait(deadline, write=False)
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self._drain_log()
                raise ChannelClosed("the sandbox closed the channel")
            self._buffer += chunk

    def finish_log(self, grace: float = 0.2) -> None:
        """Read what is left in the output pipe after the sandbox ended (briefly)."""
        deadline = time.monotonic() + grace
        while self.log_fd is not None and time.monotonic() < deadline:
            readable, _, _ = select.select([self.log_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                break
            self._drain_log()

    def close(self) -> None:
        """Close the socket and the log pipe."""
        self.sock.close()
        if self.log_fd is not None:
            os.close(self.log_fd)
            self.log_fd = None
