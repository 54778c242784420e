"""The feedback page a student reads: one self-contained HTML page per results document.

It says what :func:`grader.report.render_text` says (what happened to the file, problems while loading,
notes, each check with its mark, points and name, and for a failure what was expected, what was found,
the hint and the student's line), for a student who opens it on a phone from an LMS or an e-mail.

Everything in it that came from a submission or a check is escaped with :func:`html.escape`; the page has
no script and loads nothing (inline CSS, a Content-Security-Policy that forbids everything else), so a
hostile file name, id or exception message is shown as text and nothing more. Hidden checks that did not
pass show only that they are hidden; a failure's ``cause`` (for the course staff) is never shown.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from html import escape
from typing import Any

from grader.mistakes import base_check_id
from grader.report import CSP, HIDDEN_NOTE, MARKS, STATUS_WORDS, format_points, hides_details

#: Where a message points into the student's file: a traceback's "  at lr.py, line 17, in forward:", else
#: "lr.py, line 17" or "hw.ipynb [cell 3], line 13" anywhere in it.
_WHERE = (re.compile(r"^\s*at (.+?\.(?:py|ipynb)(?: \[cell \d+\])?), line (\d+)", re.MULTILINE),
          re.compile(r"([^\s,:`'\"]+\.(?:py|ipynb)(?: \[cell \d+\])?), line (\d+)"))

#: Names of the identity fields of each LMS layout (``submission.lms``), in the order they are shown.
_LMS_FIELDS = {
    "canvas": (("user_id", "Canvas user id"), ("attachment_id", "attachment"), ("file", "uploaded file")),
    "moodle": (("participant_id", "Moodle participant id"),),
    "gradescope": (("submission_id", "Gradescope submission"), ("created_at", "submitted at")),
    "repositories": (("repository", "repository"), ("username", "account")),
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1em;
       max-width: 52em; color: #1d1d1d; background: #fff; line-height: 1.45; overflow-wrap: anywhere; }
h1 { font-size: 1.4em; margin: 0.2em 0; }
h2 { font-size: 1.15em; margin-top: 1.5em; }
.who, .muted { color: #555; }
.score { font-size: 1.3em; font-weight: bold; margin: 0.6em 0; }
.full { color: #17692e; } .partial { color: #8a4b00; }
.check { border: 1px solid #ddd; border-left-width: 6px; border-radius: 4px; padding: 0.5em 0.8em; margin: 0.6em 0; }
.check.passed { border-left-color: #2e8b57; }
.check.failed, .check.error, .check.timeout { border-left-color: #c0392b; }
.check.skipped { border-left-color: #999; }
.head { display: flex; flex-wrap: wrap; gap: 0.3em 0.8em; align-items: baseline; }
.mark { font-weight: bold; font-size: 0.85em; letter-spacing: 0.03em; }
.passed .mark { color: #2e8b57; } .failed .mark, .error .mark, .timeout .mark { color: #c0392b; }
.skipped .mark { color: #777; }
.pts { font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; border-radius: 4px; padding: 0.6em;
      margin: 0.5em 0; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
.hint { background: #eef5ff; border-radius: 4px; padding: 0.5em 0.7em; margin: 0.5em 0; }
.where { margin: 0.4em 0; }
ul { padding-left: 1.2em; }
footer { margin-top: 2em; font-size: 0.85em; color: #666; }
"""


def render_feedback(document: Mapping[str, Any], *, hidden_ids: Collection[str] = ()) -> str:
    """The student's feedback page for one results document (``Result.to_document()``, SPEC section 5).

    A check is hidden when its entry says ``"hidden": true`` or its id (with or without the device) is in
    ``hidden_ids`` (for documents written before entries carried ``hidden``). The identity shown comes
    from ``document["submission"]``: its id and, when the LMS named the student, ``submission.lms``.
    """
    submission = document.get("submission") or {}
    assignment = str(document.get("assignment", ""))
    status = str(document.get("status", ""))
    score, max_score = float(document.get("score", 0)), float(document.get("max_score", 0))
    full = status == "graded" and score >= max_score
    parts = [
        f"<header><h1>{escape(assignment)}: feedback</h1>",
        _identity(submission),
        f'<p>{escape(_file_name(submission))} {escape(STATUS_WORDS.get(status, status))}.</p>',
        f'<p class="score {"full" if full else "partial"}">Score: {escape(format_points(score))}/'
        f'{escape(format_points(max_score))} ({"full marks" if full else "not full marks yet"})</p></header>',
    ]
    errors = document.get("errors") or []
    if errors:
        parts.append("<section><h2>Problems found while reading and loading your file</h2><ul>")
        for error in errors:
            first, *rest = str(error.get("message", "")).splitlines() or [""]
            detail = f"<pre>{escape(chr(10).join(rest))}</pre>" if any(line.strip() for line in rest) else ""
            parts.append(f"<li>{escape(first)}{detail}</li>")
        parts.append("</ul></section>")
    notes = document.get("notes") or []
    if notes:
        parts.append("<section><h2>Notes</h2><ul>")
        parts.extend(f"<li>{escape(str(note))}</li>" for note in notes)
        parts.append("</ul></section>")
    checks = document.get("checks") or []
    if checks:
        passed = sum(1 for c in checks if c.get("status") == "passed")
        parts.append(f'<section><h2>Checks</h2><p class="muted">{passed} of {len(checks)} passed.</p>')
        parts.extend(_check(entry, hidden_ids) for entry in checks)
        parts.append("</section>")
    isolation = (document.get("environment") or {}).get("isolation") or []
    footer = [f"grader {escape(str(document.get('grader_version', '')))}"]
    if isolation:
        footer.append("sandbox: " + escape(", ".join(str(i) for i in isolation)))
    parts.append(f"<footer>{' · '.join(footer)}</footer>")
    title = f"{assignment}: feedback for {_student(submission) or submission.get('id', '')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>{escape(title)}</title>
<style>{_STYLE}</style></head><body>
{chr(10).join(parts)}
</body></html>
"""


def _check(entry: Mapping[str, Any], hidden_ids: Collection[str]) -> str:
    """One check: mark, name, points; for a failure the message, the student's line and the hint."""
    status = str(entry.get("status", ""))
    check_id = str(entry.get("id", ""))
    hidden = bool(entry.get("hidden")) or check_id in hidden_ids or base_check_id(entry) in hidden_ids
    earned = f"{format_points(float(entry.get('score', 0)))}/{format_points(float(entry.get('max_score', 0)))}"
    head = (f'<div class="head"><span class="mark">{escape(MARKS.get(status, status.upper()))}</span>'
            f"<strong>{escape(str(entry.get('name', '')))}</strong>"
            f'<span class="pts">{escape(earned)} points</span>'
            f'<code class="muted">{escape(check_id)}</code></div>')
    body = ""
    if hides_details(hidden, status):
        body = f'<p class="muted">{escape(HIDDEN_NOTE)}</p>'
    elif status != "passed":
        message = str(entry.get("message") or "")
        where = _WHERE[0].search(message) or _WHERE[1].search(message)
        if where:
            body += (f'<p class="where">Look at <strong>{escape(where.group(1))}, line {escape(where.group(2))}'
                     "</strong>.</p>")
        if message:
            body += f"<pre>{escape(message)}</pre>"
        hint = entry.get("hint")
        if hint:
            body += f'<p class="hint"><strong>Hint:</strong> {escape(str(hint))}</p>'
    css = status if status in MARKS else "error"
    return f'<article class="check {css}">{head}{body}</article>'


def _identity(submission: Mapping[str, Any]) -> str:
    """Who and what this is: the student's name when the LMS gave one, the submission id, the LMS's ids."""
    lines = []
    student = _student(submission)
    if student:
        lines.append(f"<strong>{escape(student)}</strong>")
    lines.append(f"submission <code>{escape(str(submission.get('id', '')))}</code>")
    lms = submission.get("lms")
    if isinstance(lms, Mapping):
        for key, label in _LMS_FIELDS.get(str(lms.get("layout")), ()):
            value = lms.get(key)
            if value not in (None, ""):
                lines.append(f"{escape(label)} <code>{escape(str(value))}</code>")
        for person in lms.get("submitters") or []:
            if isinstance(person, Mapping) and person.get("sid"):
                lines.append(f"student id <code>{escape(str(person['sid']))}</code>")
        if lms.get("late"):
            lines.append("<strong>submitted late</strong>")
    return f'<p class="who">{" · ".join(lines)}</p>'


def _student(submission: Mapping[str, Any]) -> str | None:
    """The student's name as the LMS wrote it (every submitter of a group), or None."""
    lms = submission.get("lms")
    if not isinstance(lms, Mapping):
        return None
    if lms.get("layout") == "gradescope":
        names = [p.get("name") or p.get("email") or p.get("sid") for p in lms.get("submitters") or []
                 if isinstance(p, Mapping)]
        return ", ".join(str(n) for n in names if n) or None
    name = lms.get("name") or lms.get("username")
    return str(name) if name else None


def _file_name(submission: Mapping[str, Any]) -> str:
    """The graded file as the student knows it: the name they uploaded, else the path's last part."""
    lms = submission.get("lms")
    if isinstance(lms, Mapping) and lms.get("file"):
        return str(lms["file"])
    path = str(submission.get("path", ""))
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path
