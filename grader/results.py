"""The results document (SPEC section 5), its JSON Schema, and the Gradescope export."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"


@dataclass
class CheckResult:
    """The verdict of one check (on one device, for per-device checks)."""

    id: str
    name: str
    status: str  # passed | failed | error | timeout | skipped
    score: float
    max_score: float
    device: str | None
    message: str
    hint: str | None
    duration_s: float
    hidden: bool = False
    #: The diagnosed mistake (``CheckFailed.cause``), for the course staff: in the JSON, never in what students read.
    cause: str | None = None


@dataclass
class Result:
    """Everything the judge decided about one submission."""

    assignment: str
    submission: dict[str, str]
    status: str  # graded | load_error | timeout | crashed | rejected
    checks: list[CheckResult]
    errors: list[dict[str, Any]]
    environment: dict[str, Any]
    duration_s: float
    grader_version: str
    log: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned, summed over the checks."""
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        """Points available: the same for every submission of the assignment."""
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def full_marks(self) -> bool:
        """Whether every point was earned."""
        return self.status == "graded" and self.score >= self.max_score

    def to_document(self) -> dict[str, Any]:
        """The JSON document of SPEC section 5 (validates against :func:`schema`)."""
        checks = [asdict(c) for c in self.checks]
        return {
            "schema_version": SCHEMA_VERSION,
            "grader_version": self.grader_version,
            "assignment": self.assignment,
            "submission": self.submission,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "duration_s": round(self.duration_s, 4),
            "checks": checks,
            "errors": self.errors,
            "environment": self.environment,
            "notes": self.notes,
            "log": self.log,
        }


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the results document, shipped in the package."""
    text = resources.files("grader").joinpath("schema/results.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def validate_document(document: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` matches the schema."""
    import jsonschema

    jsonschema.validate(document, schema())


def to_gradescope(result: Result) -> dict[str, Any]:
    """Gradescope's ``results.json``: hidden checks stay hidden until grades are published."""
    tests = []
    for number, c in enumerate(result.checks, start=1):
        output = c.message + (f"\nHint: {c.hint}" if c.hint else "")
        tests.append(
            {
                "name": c.name + (f" [{c.device}]" if c.device else ""),
                "number": str(number),
                "score": c.score,
                "max_score": c.max_score,
                "status": "passed" if c.status == "passed" else "failed",
                "output": output,
                "visibility": "after_published" if c.hidden else "visible",
            }
        )
    summary = [e["message"] for e in result.errors] + result.notes
    return {
        "score": result.score,
        "execution_time": round(result.duration_s, 3),
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half of one.

    The file gets the permissions of a normally created file (0666 less the umask).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
