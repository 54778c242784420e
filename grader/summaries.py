"""What the TA sees at the end of a batch: the summaries, the class report, the gradebook, the terminal.

The files are ``summary.csv``, ``summary.json``, ``report.html`` and the gradebook file for the LMS.

Everything here is rebuilt from the result files on disk, so a run that was killed and resumed ends
with exactly one row per submission. Every CSV cell goes through :mod:`grader.spreadsheet`, so no cell
that a student controls (an id, a name) is taken as a formula by a spreadsheet.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from grader import __version__
from grader.assignment import Assignment
from grader.results import write_atomic
from grader.store import ResultStore


def check_columns(documents: Iterable[dict[str, Any]], expected: Sequence[str]) -> list[str]:
    """The check columns: the assignment's ids in its order, then any other id found in the results."""
    columns = list(expected)
    for doc in documents:
        for entry in doc.get("checks", []):
            if entry["id"] not in columns:
                columns.append(entry["id"])
    return columns


def summarize(assignment: Assignment, rows: list[tuple[str, dict[str, Any]]], columns: list[str],
              problems: list[str]) -> dict[str, Any]:
    """The content of ``summary.json``: every result's score, the distribution, each check's pass rate."""
    scores = [float(doc["score"]) for _, doc in rows]
    max_score = assignment.max_score
    per_check = []
    for column in columns:
        entries = [e for _, doc in rows for e in doc.get("checks", []) if e["id"] == column]
        counted = [e for e in entries if e["max_score"] > 0]
        passed = sum(1 for e in counted if e["status"] == "passed")
        name = entries[0]["name"] if entries else column
        per_check.append({
            "id": column, "name": name, "max_score": counted[0]["max_score"] if counted else 0.0,
            "passed": passed, "graded": len(counted),
            "pass_rate": round(passed / len(counted), 4) if counted else None,
        })
    distribution: dict[str, Any] = {"count": len(scores)}
    if scores:
        distribution.update({
            "min": min(scores), "max": max(scores), "mean": round(statistics.fmean(scores), 4),
            "median": statistics.median(scores),
            "full_marks": sum(1 for s in scores if s >= max_score), "zero": sum(1 for s in scores if s == 0),
        })
    return {
        "assignment": assignment.name,
        "title": assignment.title,
        "grader_version": __version__,
        "max_score": max_score,
        "submissions": len(rows),
        "statuses": dict(Counter(doc["status"] for _, doc in rows)),
        "scores": distribution,
        "checks": per_check,
        "results": [
            {"id": sub_id, "status": doc["status"], "score": doc["score"], "max_score": doc["max_score"],
             "file": f"{sub_id}.json", "feedback": f"feedback/{sub_id}.html", "path": doc["submission"]["path"],
             "student": student_name(doc), "lms": doc["submission"].get("lms")}
            for sub_id, doc in rows
        ],
        "problems": problems,
    }


def student_name(document: dict[str, Any]) -> str | None:
    """The student's name as the LMS wrote it (all submitters of a group), or None for plain files."""
    lms = document.get("submission", {}).get("lms") or {}
    if lms.get("layout") == "gradescope":
        names = [p.get("name") or p.get("email") or p.get("sid") for p in lms.get("submitters", [])]
        return ", ".join(n for n in names if n) or None
    return lms.get("name") or lms.get("username") or None


def summary_csv(rows: list[tuple[str, dict[str, Any]]], columns: list[str]) -> str:
    """``summary.csv``: id, student (the LMS's name), status, score, max_score, then each check's points.

    Text cells are neutralised for spreadsheets (an id ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``);
    points stay plain numbers.
    """
    from grader.spreadsheet import write_csv

    table: list[list[object]] = [["id", "student", "status", "score", "max_score", *columns]]
    for sub_id, doc in rows:
        points = {e["id"]: e["score"] for e in doc.get("checks", [])}
        table.append([sub_id, student_name(doc) or "", doc["status"], doc["score"], doc["max_score"],
                      *(points[c] if c in points else "" for c in columns)])
    return write_csv(table)


def write_summaries(store: ResultStore, assignment: Assignment, ids: Sequence[str], expected_columns: Sequence[str],
                    problems: list[str], *, gradebook: str | None = None, gradebook_column: str | None = None,
                    errors: TextIO | None = None) -> dict[str, Any]:
    """Rebuild ``summary.csv``, ``summary.json``, ``report.html`` (and the gradebook) from the stored results."""
    from grader.mistakes import common_mistakes
    from grader.report import render_html

    rows = [(sub_id, doc) for sub_id in ids if (doc := store.load(sub_id)) is not None]
    columns = check_columns((doc for _, doc in rows), expected_columns)
    summary = summarize(assignment, rows, columns, problems)
    summary["mistakes"] = common_mistakes(rows)
    write_atomic(store.out / "summary.csv", summary_csv(rows, columns))
    if gradebook is not None:
        from grader.gradebook import write_gradebook

        text, warnings = write_gradebook(gradebook, rows, title=assignment.title, max_score=assignment.max_score,
                                         column=gradebook_column)
        name = gradebook_file(gradebook)
        write_atomic(store.out / name, text)
        summary["gradebook"] = {"kind": gradebook, "file": name, "warnings": warnings}
        for warning in warnings:
            print(f"grader: gradebook: {warning}", file=errors or sys.stderr)
    write_atomic(store.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_atomic(store.out / "report.html", render_html(summary))
    return summary


def gradebook_file(kind: str) -> str:
    """The name of the gradebook file of ``kind`` in the results folder."""
    return f"gradebook-{kind}.csv"


def print_summary(summary: dict[str, Any], out: Path, stream: TextIO) -> None:
    """The end-of-batch summary a TA reads on the terminal."""
    scores = summary["scores"]
    print(f"\n{summary['assignment']}: {summary['submissions']} submissions, max {summary['max_score']:g} points",
          file=stream)
    if scores["count"]:
        print(f"  scores: min {scores['min']:g}, median {scores['median']:g}, mean {scores['mean']:g}, "
              f"max {scores['max']:g}; full marks {scores['full_marks']}, zero {scores['zero']}", file=stream)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items()))
    print(f"  statuses: {statuses}", file=stream)
    print("  pass rate per check:", file=stream)
    for check in summary["checks"]:
        if check["pass_rate"] is not None:
            print(f"    {check['pass_rate'] * 100:5.1f}%  {check['id']}", file=stream)
    print(f"  results: {out}/ (summary.csv, summary.json, report.html)", file=stream)
