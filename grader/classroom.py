"""What the student release's GitHub Actions workflow runs: check every assignment, report, give points.

``python -m grader.classroom`` runs in a student's repository (a copy of ``grader release``'s student folder).
For each assignment under ``assignments/`` it grades the student's ``.py`` and ``.ipynb`` with the same
checks and sandbox as ``grader check`` and keeps the better of the two (a student works in one of them;
the other is still the stub). It writes:

- a Markdown report to ``$GITHUB_STEP_SUMMARY`` (the job's summary page): per assignment the file graded,
  the points, and each failed check with what was expected, what was found and the hint; every text from
  the student's code is HTML-escaped and fenced, so it renders as text;
- ``result=<base64 JSON>`` to ``$GITHUB_OUTPUT``, in the form GitHub Classroom's grading reporter
  (``classroom-resources/autograding-grading-reporter``) reads: ``{"version": 1, "status", "max_score",
  "tests": [{"name", "status", "score", "message", ...}]}``, one test per check;
- the same points on standard output, for a terminal.

Its points are ``grader check``'s. The exit status is 0 whatever the score (a workflow that fails on
every push until the end of term helps nobody); the points are in the summary and the output. A student
can edit this workflow in their own repository, so course staff grade with ``grader grade`` over the
cloned repositories, never from these numbers.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader.results import Result


def grade_repository(root: Path) -> list[tuple[str, Path, Result]]:
    """Grade each assignment's ``.py`` and ``.ipynb`` in ``root``; the better result of each, in name order."""
    os.environ["GRADER_COURSE"] = str(root)
    from grader.assignment import assignment_names, load_assignment
    from grader.grading import Grader, Options

    chosen = []
    with Grader(Options(device="cpu")) as grader:
        for name in assignment_names(root):
            assignment = load_assignment(name, root)
            results = [(path, grader.grade(assignment, path)) for path in
                       (root / "assignments" / name / f"{name}.py", root / "assignments" / name / f"{name}.ipynb")
                       if path.is_file()]
            if results:
                path, result = max(results, key=lambda item: item[1].score)
                chosen.append((name, path, result))
    return chosen


def classroom_result(graded: list[tuple[str, Path, Result]]) -> dict[str, Any]:
    """The document GitHub Classroom's grading reporter reads (one test per check)."""
    tests = []
    for name, _, result in graded:
        for check in result.checks:
            tests.append({
                "name": f"{name}: {check.id}",
                "status": "pass" if check.status == "passed" else "fail",
                "score": check.score,
                "max_score": check.max_score,
                "message": "" if check.status == "passed" else _said(check.message, check.hint),
                "test_code": f"grader check {name}",
                "filename": "",
                "line_no": 0,
                "duration": round(check.duration_s, 3),
            })
    total = sum(r.max_score for _, _, r in graded)
    earned = sum(r.score for _, _, r in graded)
    return {"version": 1, "status": "pass" if earned == total else "fail", "max_score": total, "tests": tests}


def _said(message: str, hint: str | None) -> str:
    return message + (f"\nHint: {hint}" if hint else "")


def summary_markdown(graded: list[tuple[str, Path, Result]], root: Path) -> str:
    """The job summary: a table of points, then each failed check's expected, found and hint."""
    earned = sum(r.score for _, _, r in graded)
    total = sum(r.max_score for _, _, r in graded)
    lines = [f"## Grader: {earned:g}/{total:g} points", "",
             "| Assignment | File graded | Points |", "| --- | --- | --- |"]
    for name, path, result in graded:
        shown = html.escape(str(path.relative_to(root)))
        lines.append(f"| `{name}` | `{shown}` | {result.score:g}/{result.max_score:g} |")
    for name, _, result in graded:
        failed = [c for c in result.checks if c.status != "passed"]
        if not failed and not result.errors:
            continue
        lines += ["", f"### {name}: {result.score:g}/{result.max_score:g}", ""]
        for error in result.errors:
            lines += ["<pre>" + html.escape(error["message"]) + "</pre>", ""]
        for check in failed:
            lines += [f"**{html.escape(check.id)}** ({check.score:g}/{check.max_score:g}): {html.escape(check.name)}",
                      "", "<pre>" + html.escape(_said(check.message, check.hint)) + "</pre>", ""]
    hidden = [(name, r) for name, _, r in graded if any("hidden checks worth" in n for n in r.notes)]
    if hidden:
        lines += ["", "The final grading adds hidden checks: " + "; ".join(
            next(n for n in r.notes if "hidden checks worth" in n) for _, r in hidden)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Grade the repository in the current folder (or ``--root``) and write the summary, output and points."""
    parser = argparse.ArgumentParser(prog="python -m grader.classroom")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    root = args.root.resolve()
    graded = grade_repository(root)
    result = classroom_result(graded)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(graded, root))
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        encoded = base64.b64encode(json.dumps(result).encode()).decode()
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"result={encoded}\n")
    for name, path, graded_result in graded:
        print(f"{name}: {graded_result.score:g}/{graded_result.max_score:g} ({path.relative_to(root)})")
    earned = sum(t["score"] for t in result["tests"])
    print(f"Points {earned:g}/{result['max_score']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
