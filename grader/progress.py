"""The progress of a batch on the TA's terminal: a bar with rate and time left, or one line per submission."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO


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
