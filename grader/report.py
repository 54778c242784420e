"""The readable report a student sees from ``grader check``, and the class report a TA reads after ``grader grade``."""

from __future__ import annotations

import math
from typing import Any

from grader.results import Result

#: The mark of each check status, in every report.
MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skipped": "SKIP"}
#: What happened to the submission, in words: "<file> could not be loaded".
STATUS_WORDS = {
    "graded": "graded",
    "load_error": "could not be loaded",
    "timeout": "ran out of time while loading",
    "crashed": "crashed the sandbox while loading",
    "rejected": "was rejected",
}


#: What a student reads instead of a hidden check's failure until grades are published.
HIDDEN_NOTE = "(hidden check: details are shown when grades are published)"


def format_points(value: float) -> str:
    """Points as people write them: 2, 0.5, 10.25 (no trailing zeros)."""
    return f"{value:g}"


def hides_details(hidden: bool, status: str) -> bool:
    """Whether a student must not see the details of a check: a hidden check that did not pass (or skip)."""
    return hidden and status in ("failed", "error", "timeout")


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_text(result: Result, *, show_log: bool = False) -> str:
    """One line per check (mark, points, name), details under each failure, then the total."""
    sub = result.submission
    lines = [f"{result.assignment}: {sub['path']} {STATUS_WORDS.get(result.status, result.status)}"]
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
        earned = f"{format_points(c.score)}/{format_points(c.max_score)}"
        lines.append(f"  {MARKS[c.status]:<7} {c.id:<{width}}  {earned:>7}  {c.name}")
        if c.status == "passed":
            continue
        if hides_details(c.hidden, c.status):
            lines.append("      " + HIDDEN_NOTE)
            continue
        if c.message:
            lines.append(_indent(c.message))
        if c.hint:
            lines.append(_indent(f"Hint: {c.hint}"))
    lines.append("")
    verdict = "full marks" if result.full_marks else "not full marks yet"
    lines.append(f"Score: {format_points(result.score)}/{format_points(result.max_score)} ({verdict})")
    isolation = result.environment.get("isolation") or []
    if isolation:
        lines.append(f"Sandbox: {', '.join(isolation)}")
    if show_log and result.log.strip():
        lines.append("")
        lines.append("What your code printed:")
        lines.append(_indent(result.log.rstrip(), "  | "))
    return "\n".join(lines) + "\n"


#: Content-Security-Policy of every page the grader writes: inline styles only; no script, font, image or
#: connection of any kind, so even a mistake in escaping could neither run code nor fetch anything.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def href(path: str) -> str:
    """A relative link to ``path`` (``feedback/<id>.html``), each part percent-encoded, then HTML-escaped."""
    from html import escape
    from urllib.parse import quote

    return escape("/".join(quote(part, safe="") for part in path.split("/")), quote=True)


def _round(value: float) -> str:
    """A statistic as shown: at most 2 decimals."""
    return f"{round(float(value), 2):g}"


def score_bins(scores: list[float], max_score: float) -> list[int]:
    """How many scores fall on each whole point 0, 1, ..., floor(max_score) (a fractional score is floored)."""
    bins = [0] * (math.floor(max_score) + 1 if max_score > 0 else 1)
    for score in scores:
        bins[min(len(bins) - 1, max(0, math.floor(round(score, 6))))] += 1
    return bins


def _histogram(scores: list[float], max_score: float) -> str:
    """An inline SVG bar chart with one bar per whole point; it scales down to the width of the screen."""
    counts = score_bins(scores, max_score)
    tallest = max(counts) or 1
    bar, height = 32, 180
    width = len(counts) * bar + 8
    bars = []
    for whole, count in enumerate(counts):
        h = round(count / tallest * (height - 40))
        x, y = whole * bar + 4, height - 20 - h
        last = whole == len(counts) - 1 and max_score > whole
        span = f"{whole}-{format_points(max_score)}" if last else f"{whole}"
        bars.append(
            f'<rect x="{x}" y="{y}" width="{bar - 6}" height="{h}" fill="#4a7ebb">'
            f"<title>{span} points: {count} submission{'' if count == 1 else 's'}</title></rect>"
            f'<text x="{x + (bar - 6) / 2}" y="{y - 3}" font-size="11" text-anchor="middle">{count or ""}</text>'
            f'<text x="{x + (bar - 6) / 2}" y="{height - 5}" font-size="10" text-anchor="middle">{whole}</text>'
        )
    return (f'<svg class="histogram" viewBox="0 0 {width} {height}" style="max-width:{width}px" role="img" '
            f'aria-label="scores, one bar per whole point from 0 to {format_points(max_score)}">'
            + "".join(bars) + "</svg>")


def _mistakes_section(summary: dict[str, Any]) -> str:
    """The "Most common mistakes" table: how many students made each, with links to their feedback pages."""
    from html import escape

    if "mistakes" not in summary:
        return ""
    mistakes = summary["mistakes"]
    if not mistakes:
        return "<h2>Most common mistakes</h2>\n<p>No check failed.</p>\n"
    students = {r["id"]: r.get("student") for r in summary.get("results", [])}
    total = int(summary.get("submissions") or 0)
    rows = []
    for m in mistakes:
        links = ", ".join(
            f'<a href="{href(f"feedback/{sub_id}.html")}">{escape(students.get(sub_id) or sub_id)}</a>'
            for sub_id in m["ids"]
        )
        share = f' <span class="muted">({m["count"] / total * 100:.0f}%)</span>' if total else ""
        cause = f' <code class="cause">{escape(m["cause"])}</code>' if m.get("cause") else ""
        hidden = ' <span class="muted">(hidden check)</span>' if m.get("hidden") else ""
        rows.append(
            f'<tr><td class="num">{int(m["count"])}{share}</td>'
            f'<td>{escape(m["label"])}{cause}</td>'
            f'<td><code>{escape(m["check"])}</code>{hidden}<br><span class="muted">{escape(m["name"])}</span></td>'
            f'<td><details><summary>{int(m["count"])} feedback page{"" if m["count"] == 1 else "s"}</summary>'
            f"{links}</details></td></tr>"
        )
    return ("<h2>Most common mistakes</h2>\n<div class=\"scroll\"><table class=\"mistakes\">"
            "<tr><th>students</th><th>mistake</th><th>check</th><th>who</th></tr>\n"
            + "\n".join(rows) + "</table></div>\n")


def render_html(summary: dict[str, Any]) -> str:
    """The class report ``report.html``: scores, most common mistakes, pass rate per check, every submission.

    ``summary`` is :func:`grader.summaries.summarize`'s, with ``summary["mistakes"]`` from
    :func:`grader.mistakes.common_mistakes` (the section is left out when that key is absent). Each
    submission links to its feedback page ``feedback/<id>.html`` (and its ``<id>.json``). The score
    histogram has one bar per whole point; statistics show at most 2 decimals. No scripts, no external
    files: it opens from the results folder without a server, on a phone too.
    """
    from html import escape

    max_score = float(summary["max_score"])
    results = summary["results"]
    histogram = _histogram([float(r["score"]) for r in results], max_score)
    check_rows = "".join(
        f"<tr><td><code>{escape(c['id'])}</code></td><td>{escape(c['name'])}</td><td>{format_points(c['max_score'])}</td>"
        f"<td>{c['passed']}/{c['graded']}</td>"
        f'<td><div class="bar"><div style="width:{(c["pass_rate"] or 0) * 100:.1f}%"></div></div>'
        f"{_percent(c['pass_rate'])}</td></tr>"
        for c in summary["checks"]
    )
    result_rows = "".join(_result_row(r) for r in results)
    dist = summary["scores"]
    stats = (f"min {_round(dist['min'])} · median {_round(dist['median'])} · mean {_round(dist['mean'])} · "
             f"max {_round(dist['max'])} · full marks {dist['full_marks']} · zero {dist['zero']}"
             if dist["count"] else "no results")
    statuses = ", ".join(f"{escape(k)} {v}" for k, v in sorted(summary.get("statuses", {}).items()))
    problems = "".join(f"<li>{escape(p)}</li>" for p in summary["problems"])
    gradebook = summary.get("gradebook")
    gradebook_line = (f'<p>Gradebook for the LMS: <a href="{href(gradebook["file"])}">{escape(gradebook["file"])}</a>'
                      "</p>\n" if gradebook else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>{escape(summary['assignment'])}: grading report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em auto; padding: 0 1em; max-width: 70em; color: #222;
       line-height: 1.4; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }}
td.num {{ white-space: nowrap; font-weight: bold; }}
td.path {{ overflow-wrap: anywhere; }}
.scroll {{ overflow-x: auto; }}
.muted {{ color: #666; font-weight: normal; }}
.histogram {{ width: 100%; height: auto; }}
.bar {{ display: inline-block; width: 6em; height: 10px; background: #eee; margin-right: 6px; }}
.bar div {{ height: 10px; background: #4a7ebb; }}
code {{ overflow-wrap: anywhere; }}
details summary {{ cursor: pointer; }}
</style></head><body>
<h1>{escape(summary['assignment'])}: {escape(summary['title'])}</h1>
<p>{int(summary['submissions'])} submissions, {format_points(max_score)} points each. {stats}.</p>
{f'<p>Status: {statuses}.</p>' if statuses else ''}
<h2>Scores</h2>
{histogram}
{_mistakes_section(summary)}<h2>Pass rate per check</h2>
<div class="scroll"><table><tr><th>check</th><th>what it checks</th><th>points</th><th>passed</th><th>rate</th></tr>
{check_rows}</table></div>
<h2>Submissions</h2>
<p class="muted">Each id opens the feedback page the student reads; JSON is the full results document.</p>
<div class="scroll"><table><tr><th>id</th><th>student</th><th>status</th><th>score</th><th>file</th></tr>
{result_rows}</table></div>
{gradebook_line}{f'<h2>Problems with the input</h2><ul>{problems}</ul>' if problems else ''}
<p><small>grader {escape(summary['grader_version'])}</small></p>
</body></html>
"""


def _result_row(r: dict[str, Any]) -> str:
    """One submission in the report: its id linking to its feedback page, then its JSON, student, score, file."""
    from html import escape

    sub_id = str(r["id"])
    feedback = r.get("feedback") or f"feedback/{sub_id}.html"
    document = r.get("file") or f"{sub_id}.json"
    return (f'<tr><td><a href="{href(feedback)}">{escape(sub_id)}</a> '
            f'<small>(<a href="{href(document)}">JSON</a>)</small></td>'
            f"<td>{escape(r.get('student') or '')}</td><td>{escape(r['status'])}</td>"
            f"<td>{format_points(r['score'])} / {format_points(r['max_score'])}</td>"
            f'<td class="path">{escape(r["path"])}</td></tr>')


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"
