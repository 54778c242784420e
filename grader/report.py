"""The readable report a student sees from ``grader check``."""

from __future__ import annotations

from grader.results import Result

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skipped": "SKIP"}
_STATUS_WORDS = {
    "graded": "graded",
    "load_error": "could not be loaded",
    "timeout": "ran out of time while loading",
    "crashed": "crashed the sandbox while loading",
    "rejected": "was rejected",
}


def _points(value: float) -> str:
    return f"{value:g}"


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_text(result: Result, *, show_log: bool = False) -> str:
    """One line per check (mark, points, name), details under each failure, then the total."""
    sub = result.submission
    lines = [f"{result.assignment}: {sub['path']} {_STATUS_WORDS.get(result.status, result.status)}"]
    if result.errors:
        lines.append("")
        lines.append("Problems found while reading and loading your file:")
        for error in result.errors:
            lines.append(_indent(error["message"], "  - ").replace("  - ", "  - ", 1))
    if result.notes:
        lines.append("")
        lines.extend(f"Note: {note}" for note in result.notes)
    lines.append("")
    width = max((len(c.id) for c in result.checks), default=10)
    for c in result.checks:
        points = f"{_points(c.score)}/{_points(c.max_score)}"
        lines.append(f"  {_MARK[c.status]:<7} {c.id:<{width}}  {points:>7}  {c.name}")
        if c.status == "passed":
            continue
        if c.hidden and c.status in ("failed", "error"):
            lines.append("      (hidden check: details are shown when grades are published)")
            continue
        if c.message:
            lines.append(_indent(c.message))
        if c.hint:
            lines.append(_indent(f"Hint: {c.hint}"))
    lines.append("")
    verdict = "full marks" if result.full_marks else "not full marks yet"
    lines.append(f"Score: {_points(result.score)}/{_points(result.max_score)} ({verdict})")
    isolation = result.environment.get("isolation") or []
    if isolation:
        lines.append(f"Sandbox: {', '.join(isolation)}")
    if show_log and result.log.strip():
        lines.append("")
        lines.append("What your code printed:")
        lines.append(_indent(result.log.rstrip(), "  | "))
    return "\n".join(lines) + "\n"
