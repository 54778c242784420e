"""The gradebook files an LMS imports: Canvas's gradebook CSV, Moodle's grading worksheet, a generic CSV.

Each is built from ``(submission id, results document)`` pairs. The student's identity is the ``lms``
object the intake put in ``document["submission"]`` (Canvas user id, Moodle participant id, Gradescope
submitters, repository owner); without it a submission can only appear in the generic CSV.

What is written, and what is left out with a warning:

* a ``crashed`` result (the grader failed, not the student) is never written as a score: 0 would be a
  verdict the grader did not reach. Rejected, unloadable and timed-out submissions are verdicts and get
  their score (0 when nothing ran).
* Canvas and Moodle rows need that LMS's identity; one row per student (intake guarantees one submission
  per student; a second one is left out with a warning).

Every cell goes through :func:`grader.spreadsheet.write_csv`: text that a spreadsheet would evaluate is
prefixed with ``'``; scores are plain ``.``-decimal numbers, never prefixed. See ``FORMATS.md`` sections 2
and 3 for the formats.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from grader.spreadsheet import write_csv

KINDS = ("canvas", "moodle", "csv")

#: Canvas parses an assignment column header with ``/\A(.*)\s\((\d+)\)\z/`` (lib/gradebook_importer.rb).
CANVAS_COLUMN = re.compile(r"(.*)\s\((\d+)\)", re.DOTALL)
#: The row under Canvas's header that gives each assignment's points (Canvas writes the leading spaces).
CANVAS_POINTS_POSSIBLE = "    Points Possible"

#: The columns of Moodle's grading worksheet that its importer reads, as an English Moodle writes them.
#: ``Identifier`` (get_string('recordid', 'assign')), ``Grade`` (get_string('gradenoun'), ``'grade'`` before
#: Moodle 4.0) and ``Last modified (grade)`` (get_string('lastmodifiedgrade', 'assign')) are required;
#: ``Full name`` and ``Maximum Grade`` (get_string('maxgrade', 'assign')) are there for the person reading
#: the file and are ignored by the import.
MOODLE_COLUMNS = ("Identifier", "Full name", "Grade", "Maximum Grade", "Last modified (grade)")
#: get_string('hiddenuser', 'assign') in English: the importer strips this many characters off the front of
#: the identifier and looks the rest up as the per-assignment participant id.
MOODLE_PARTICIPANT = "Participant "

GENERIC_COLUMNS = ("id", "layout", "student", "lms_id", "email", "score", "max_score", "status", "late")

Rows = list[tuple[str, dict[str, Any]]]
Table = list[list[object]]


class _LeftOut:
    """Submissions left out of a gradebook, grouped by reason, so a class of 500 gives a few warnings."""

    def __init__(self) -> None:
        self.reasons: dict[str, list[str]] = {}

    def add(self, reason: str, sub_id: str) -> None:
        self.reasons.setdefault(reason, []).append(sub_id)

    def warnings(self) -> list[str]:
        return [f"left out {len(ids)} submission{'s' if len(ids) != 1 else ''} ({', '.join(ids)}): {reason}"
                for reason, ids in self.reasons.items()]


def _one_row_per_student(rows: Rows, left_out: _LeftOut, layout: str, key: str, lms_name: str, id_words: str,
                         importer: str, person: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The (LMS id, name, document) of each student an LMS import can match, one per id, in ``rows``' order.

    The others are added to ``left_out`` with the reason: no identity of this LMS, an anonymous (Canvas
    ``anon_``) or non-numeric id, a ``crashed`` result (no verdict to write), a second submission for an id.
    """
    kept: list[tuple[str, str, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for sub_id, doc in rows:
        lms = _lms(doc)
        lms_id = str(lms.get(key) or "") if lms is not None and lms.get("layout") == layout else ""
        if not lms_id:
            left_out.add(f"they have no {lms_name} identity (they were not read from a {lms_name} download), and "
                         f"{importer}; enter these grades by hand", sub_id)
        elif layout == "canvas" and lms_id.startswith("anon_"):
            left_out.add("Canvas anonymised these students (anon_… ids), and a gradebook import cannot match an "
                         "anonymous id; enter these grades in SpeedGrader, or download the submissions again once "
                         "the assignment is no longer anonymous", sub_id)
        elif not (lms_id.isascii() and lms_id.isdigit()):
            left_out.add(f"their {lms_name} {id_words} is not a number, so {lms_name} cannot match it", sub_id)
        elif doc.get("status") == "crashed":
            left_out.add(CRASHED, sub_id)
        elif lms_id in seen:
            left_out.add(f"a second submission for a {lms_name} {person} already written (one row per student; "
                         f"the first one, {seen[lms_id]}, is kept)", sub_id)
        else:
            seen[lms_id] = sub_id
            name = lms.get("name") if lms is not None else None
            kept.append((lms_id, name if isinstance(name, str) else "", doc))
    return kept


def write_gradebook(kind: str, rows: list[tuple[str, dict[str, Any]]], *, title: str, max_score: float,
                    column: str | None = None, now: datetime | None = None) -> tuple[str, list[str]]:
    """The gradebook file of ``kind`` (``canvas``, ``moodle`` or ``csv``) for ``rows``, and its warnings.

    ``rows`` are ``(submission id, results document)`` pairs in the order to write them. ``title`` and
    ``max_score`` are the assignment's. ``column`` is Canvas's exact assignment column, e.g.
    ``"My Linear (12345)"``, copied from a Canvas gradebook export; without it the Canvas file is headed by
    ``title`` and Canvas creates a new assignment. ``now`` is the moment written into Moodle's
    ``Last modified (grade)`` column (default: the current time).
    Warnings say which submissions were left out and why, and what the TA must do for the import to apply.
    """
    builders: dict[str, Callable[[], tuple[Table, list[str]]]] = {
        "canvas": lambda: _canvas(rows, title, max_score, column),
        "moodle": lambda: _moodle(rows, max_score, now or datetime.now(timezone.utc)),
        "csv": lambda: _generic(rows, max_score),
    }
    if kind not in builders:
        raise ValueError(f"unknown gradebook kind {kind!r} (one of {', '.join(KINDS)})")
    table, warnings = builders[kind]()
    return write_csv(table), warnings


def _lms(document: dict[str, Any]) -> dict[str, Any] | None:
    lms = document.get("submission", {}).get("lms")
    return lms if isinstance(lms, dict) else None


def _max(document: dict[str, Any], max_score: float) -> float:
    value = document.get("max_score")
    return value if isinstance(value, int | float) and not isinstance(value, bool) else max_score


CRASHED = ("the grader failed on them (status crashed), which is no verdict on the student's code, so no score is "
           "written; run the same command again to retry them")


# ---- Canvas ----------------------------------------------------------------------------------------


def _canvas(rows: Rows, title: str, max_score: float, column: str | None) -> tuple[Table, list[str]]:
    """Canvas's gradebook import: ``Student,ID,Section,<column>``, the Points Possible row, one row per user.

    The minimal header Canvas accepts (lib/gradebook_importer.rb: ``Student`` and ``ID`` first, ``Section``
    the last student-information column). Canvas matches rows by ``ID``, the Canvas user id, so no SIS
    column is needed; ``Student`` is only for the reader and ``Section`` is not read.
    """
    warnings: list[str] = []
    column = column.strip() if column is not None and column.strip() else None  # "" is no column given
    header = column if column is not None else title
    if column is None:
        warnings.append(f"Canvas will create a NEW assignment column named {title!r}: to fill in the existing "
                        f"assignment instead, pass --gradebook-column \"{title} (id)\" with the column header copied "
                        "exactly from your Canvas gradebook export")
    elif CANVAS_COLUMN.fullmatch(column) is None:
        warnings.append(f"the gradebook column {column!r} has no \"(assignment id)\" at its end: Canvas matches it "
                        "by exact title and creates a NEW assignment if none has that title; copy the header from "
                        "your Canvas gradebook export, e.g. \"My Linear (12345)\"")
    table: Table = [["Student", "ID", "Section", header], [CANVAS_POINTS_POSSIBLE, "", "", max_score]]
    left_out = _LeftOut()
    for user_id, name, doc in _one_row_per_student(rows, left_out, "canvas", "user_id", "Canvas", "user id",
                                                   "a Canvas import matches students by their Canvas user id", "user"):
        table.append([name, user_id, "", doc["score"]])
    return table, warnings + left_out.warnings()


# ---- Moodle ----------------------------------------------------------------------------------------


def _moodle(rows: Rows, max_score: float, now: datetime) -> tuple[Table, list[str]]:
    """Moodle's assignment "offline grading worksheet", keyed by ``Identifier`` = ``Participant <id>``.

    The number in a Moodle download's folder names is the per-assignment participant id, not the user id,
    so the gradebook CSV import (mapped on userid, username, idnumber or e-mail) cannot use it; the
    worksheet import (Assignment → "Upload grading worksheet") is the one that matches it.
    """
    # What the importer does with "Last modified (grade)" (moodle/moodle
    # mod/assign/feedback/offline/importgradeslib.php, next(): `$result->modified = strtotime(<cell>)`;
    # mod/assign/feedback/offline/locallib.php, process_import_grades(): a row is skipped, unless the TA ticks
    # "Ignore last modified date", when `$usergrade->timemodified > $modified + 60`, i.e. when Moodle's grade
    # changed after the worksheet was made). Moodle's own export writes userdate(timemarked)
    # (mod/assign/gradingtable.php, col_timemarked). An empty or unparsable cell gives strtotime() false, i.e.
    # 0, which would skip every student who already has a grade record. So we write the moment this file is
    # made, as ISO 8601 with an explicit UTC offset, which strtotime() parses: a fresh import applies, and a
    # grade a marker changed in Moodle after that moment is kept, as with Moodle's own worksheet.
    stamp = now.astimezone(timezone.utc).isoformat(timespec="seconds")
    warnings = [
        f"Moodle imports the Grade column as points: the assignment's \"Maximum grade\" in Moodle must be "
        f"{max_score:g} (Moodle's default is 100), and Moodle skips a grade above its maximum; the worksheet's "
        "headers are Moodle's English ones, so upload it (Assignment → View all submissions → Upload grading "
        "worksheet) with your Moodle language set to English"
    ]
    table: Table = [list(MOODLE_COLUMNS)]
    left_out = _LeftOut()
    for pid, name, doc in _one_row_per_student(rows, left_out, "moodle", "participant_id", "Moodle",
                                               "participant id",
                                               "the grading worksheet matches students by their participant id",
                                               "participant"):
        table.append([MOODLE_PARTICIPANT + pid, name, doc["score"], _max(doc, max_score), stamp])
    return table, warnings + left_out.warnings()


# ---- generic ---------------------------------------------------------------------------------------


def _generic(rows: Rows, max_score: float) -> tuple[Table, list[str]]:
    """One row per student: ``id,layout,student,lms_id,email,score,max_score,status,late``.

    ``id`` is the submission id; ``layout`` is ``canvas``, ``moodle``, ``gradescope``, ``repositories`` or
    ``files``; ``student`` is the name the LMS gives (Canvas's name slug, Moodle's full name, the Gradescope
    submitter's name, the repository owner); ``lms_id`` is the LMS's key for the student (Canvas user id,
    Moodle participant id, Gradescope SID, GitHub username; the submission id for plain files); ``email`` is
    the Gradescope submitter's; ``late`` is Canvas's ``true``/``false`` (empty elsewhere). A Gradescope group
    submission gives one row per submitter, each with the group's score. A ``crashed`` result keeps its row
    with an empty score.
    """
    table: Table = [list(GENERIC_COLUMNS)]
    crashed: list[str] = []
    for sub_id, doc in rows:
        lms = _lms(doc) or {}
        layout = lms.get("layout") if isinstance(lms.get("layout"), str) else "files"
        status = doc.get("status", "")
        if status == "crashed":
            crashed.append(sub_id)
            score: object = None
        else:
            score = doc["score"]
        tail = [score, _max(doc, max_score), status]
        people: list[tuple[object, object, object]]  # student, lms_id, email
        late: object = None
        if layout == "canvas":
            people = [(lms.get("name"), lms.get("user_id"), None)]
            late = lms.get("late") if isinstance(lms.get("late"), bool) else None
        elif layout == "moodle":
            people = [(lms.get("name"), lms.get("participant_id"), None)]
        elif layout == "gradescope":
            submitters = [p for p in lms.get("submitters") or [] if isinstance(p, dict)]
            people = [(p.get("name"), p.get("sid"), p.get("email")) for p in submitters] or [(None, None, None)]
        elif layout == "repositories":
            people = [(lms.get("username"), lms.get("username"), None)]
        else:
            people = [(None, sub_id, None)]
        for student, lms_id, email in people:
            table.append([sub_id, layout, _text(student), _text(lms_id), _text(email), *tail, late])
    warnings = []
    if crashed:
        many = len(crashed) != 1
        warnings.append(f"{len(crashed)} submission{'s' if many else ''} ({', '.join(crashed)}) "
                        f"{'have' if many else 'has'} an empty score: {CRASHED}")
    return table, warnings


def _text(value: object) -> str:
    """A name or id from the ``lms`` object as text (missing or null: empty)."""
    return value if isinstance(value, str) else "" if value is None else str(value)
