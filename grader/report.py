"""The readable report a student sees from ``grader check``."""

from __future__ import annotations

from typing import Any

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
            first, *rest = error["message"].splitlines() or [""]
            lines.append(f"  - {first}")
            lines.extend(_indent("\n".join(rest), "    ").splitlines())
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


def render_html(summary: dict[str, Any]) -> str:
    """A self-contained HTML page of a batch: score histogram, pass rate per check, links to each result.

    No scripts, no external files: it opens from the results folder without a server.
    """
    from html import escape

    max_score = float(summary["max_score"]) or 1.0
    scores = [float(r["score"]) for r in summary["results"]]
    bins = 10
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, int(score / max_score * bins))] += 1
    tallest = max(counts) or 1
    width, height, bar = 520, 180, 52
    bars = []
    for i, count in enumerate(counts):
        h = round(count / tallest * (height - 30))
        x, y = i * bar + 4, height - 20 - h
        low, high = max_score * i / bins, max_score * (i + 1) / bins
        bars.append(
            f'<rect x="{x}" y="{y}" width="{bar - 8}" height="{h}" fill="#4a7ebb">'
            f"<title>{low:g}-{high:g} points: {count}</title></rect>"
            f'<text x="{x + (bar - 8) / 2}" y="{y - 3}" font-size="11" text-anchor="middle">{count or ""}</text>'
            f'<text x="{x + (bar - 8) / 2}" y="{height - 5}" font-size="10" text-anchor="middle">{low:g}</text>'
        )
    histogram = (f'<svg width="{width}" height="{height}" role="img" aria-label="score histogram">'
                 + "".join(bars) + "</svg>")
    check_rows = "".join(
        f"<tr><td>{escape(c['id'])}</td><td>{escape(c['name'])}</td><td>{c['max_score']:g}</td>"
        f"<td>{c['passed']}/{c['graded']}</td>"
        f'<td><div class="bar"><div style="width:{(c["pass_rate"] or 0) * 100:.1f}%"></div></div>'
        f"{_percent(c['pass_rate'])}</td></tr>"
        for c in summary["checks"]
    )
    result_rows = "".join(
        f'<tr><td><a href="{escape(r["file"])}">{escape(r["id"])}</a></td><td>{escape(r["status"])}</td>'
        f"<td>{r['score']:g} / {r['max_score']:g}</td><td>{escape(r['path'])}</td></tr>"
        for r in summary["results"]
    )
    dist = summary["scores"]
    stats = (f"min {dist['min']:g} · median {dist['median']:g} · mean {dist['mean']:g} · max {dist['max']:g} · "
             f"full marks {dist['full_marks']} · zero {dist['zero']}") if dist["count"] else "no results"
    problems = "".join(f"<li>{escape(p)}</li>" for p in summary["problems"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(summary['assignment'])}: grading report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
.bar {{ display: inline-block; width: 120px; height: 10px; background: #eee; margin-right: 6px; }}
.bar div {{ height: 10px; background: #4a7ebb; }}
</style></head><body>
<h1>{escape(summary['assignment'])}: {escape(summary['title'])}</h1>
<p>{summary['submissions']} submissions, {max_score:g} points each. {stats}.</p>
<h2>Scores</h2>
{histogram}
<h2>Pass rate per check</h2>
<table><tr><th>check</th><th>what it checks</th><th>points</th><th>passed</th><th>rate</th></tr>
{check_rows}</table>
<h2>Submissions</h2>
<table><tr><th>id</th><th>status</th><th>score</th><th>file</th></tr>
{result_rows}</table>
{f'<h2>Problems with the input</h2><ul>{problems}</ul>' if problems else ''}
<p><small>grader {escape(summary['grader_version'])}</small></p>
</body></html>
"""


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"
