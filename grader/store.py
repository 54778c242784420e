"""Where results go: one ``<id>.json`` per submission, written atomically, and the files beside it.

Beside each result: its feedback page and, when asked, its Gradescope ``results.json``.

A result is written the moment its submission is graded, so ``kill -9`` at any moment loses no finished
result; a later run knows from the stored document (same assignment, content hash and grader version)
what it need not grade again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader import __version__
from grader.results import write_atomic


class OutputNotWritable(Exception):
    """The results folder cannot be created or written."""


class ResultStore:
    """The results folder: one ``<id>.json`` per submission, written atomically."""

    def __init__(self, out: Path) -> None:
        """Create ``out`` if needed, prove it is writable, and clear temporary files of a killed run."""
        self.out = out
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / ".grader-write-test", "")
            (out / ".grader-write-test").unlink()
        except OSError as exc:
            raise OutputNotWritable(f"--out {out}: cannot write results there ({exc.strerror or exc})") from None
        for stale in out.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def path(self, sub_id: str) -> Path:
        """Where the result of ``sub_id`` lives."""
        return self.out / f"{sub_id}.json"

    def load(self, sub_id: str) -> dict[str, Any] | None:
        """The stored result of ``sub_id``, or None when there is none or it cannot be read."""
        try:
            doc = json.loads(self.path(sub_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def up_to_date(self, sub_id: str, sha256: str, assignment: str) -> bool:
        """Whether ``sub_id`` already has a result for exactly this content, assignment and grader."""
        doc = self.load(sub_id)
        return bool(
            doc
            and doc.get("assignment") == assignment
            and doc.get("grader_version") == __version__
            and doc.get("submission", {}).get("sha256") == sha256
            and doc.get("status") != "crashed"  # a grader failure is retried
        )

    def save(self, sub_id: str, document: dict[str, Any]) -> None:
        """Store a result atomically."""
        write_atomic(self.path(sub_id), json.dumps(document, indent=2) + "\n")

    def save_feedback(self, sub_id: str, document: dict[str, Any]) -> None:
        """Write the student's feedback page ``feedback/<id>.html`` beside the result."""
        from grader.feedback import render_feedback

        folder = self.out / "feedback"
        folder.mkdir(exist_ok=True)
        write_atomic(folder / f"{sub_id}.html", render_feedback(document))

    def save_gradescope(self, sub_id: str, gradescope: dict[str, Any]) -> None:
        """Write Gradescope's ``gradescope/<id>/results.json`` for one submission."""
        folder = self.out / "gradescope" / sub_id
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "results.json", json.dumps(gradescope, indent=2) + "\n")
