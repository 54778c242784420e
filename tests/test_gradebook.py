"""Gradebook files (Canvas, Moodle worksheet, generic CSV) and the spreadsheet-safe CSV cells under them.

The result documents are real: `grader check my_linear` on the reference and on a buggy copy, run as a
TA would run it, with the LMS identity the intake would attach (``document["submission"]["lms"]``) added
afterwards. Every file is written to disk and read back with ``csv.reader``, as an LMS or a spreadsheet
would read it.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT, ZOO
from grader.gradebook import CANVAS_POINTS_POSSIBLE, GENERIC_COLUMNS, MOODLE_COLUMNS, write_gradebook
from grader.results import write_atomic
from grader.spreadsheet import looks_like_formula, number_cell, safe_cell, write_csv

REFERENCE = ROOT / "reference" / "my_linear.py"
BUGGY = ZOO / "my_linear" / "transposed_weights.py"
TITLE = "My Linear"
MAX = 11.0
NOW = datetime(2026, 8, 21, 10, 15, 0, tzinfo=timezone.utc)

Rows = list[tuple[str, dict[str, Any]]]


# ---- spreadsheet cells -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (10.5, "10.5"), (11.0, "11"), (11, "11"), (0, "0"), (0.0, "0"), (-0.0, "0"), (2.25, "2.25"),
    (1e-7, "0.0000001"), (1e20, "100000000000000000000"), (123456789.5, "123456789.5"),
    (0.1 + 0.2, "0.30000000000000004"), (2 / 3, "0.6666666666666666"), (-1.5, "-1.5"),
])
def test_number_cell_is_a_plain_decimal(value: float, expected: str) -> None:
    assert number_cell(value) == expected
    assert float(expected) == value
    assert "e" not in expected.lower()


@pytest.mark.parametrize("value", [True, False, "1", None])
def test_number_cell_refuses_what_is_not_a_number(value: object) -> None:
    with pytest.raises(TypeError):
        number_cell(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_number_cell_refuses_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        number_cell(value)


@pytest.mark.parametrize("text", [
    "=1+2", '=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx", "\nx", "\t",
    "  =1+2", " \t@x", "\u00a0-1", "＝1+2", "＋1", "－1", "＠SUM(1)", "-", "=",
])
def test_safe_cell_neutralises_formulas(text: str) -> None:
    assert looks_like_formula(text)
    assert safe_cell(text) == "'" + text
    assert not looks_like_formula(safe_cell(text))


@pytest.mark.parametrize("text", [
    "alice", "340934", "anon_ab12c", "Participant 1234567", CANVAS_POINTS_POSSIBLE, "", "O'Brien", "a=b",
    "smith-bob", "Jane Doe", "hw1-alice", "x@example.org", "'=already quoted", " leading space",
])
def test_safe_cell_leaves_ordinary_text_alone(text: str) -> None:
    assert not looks_like_formula(text)
    assert safe_cell(text) == text


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""), (True, "true"), (False, "false"), (10.5, "10.5"), (-1.5, "-1.5"), (11.0, "11"),
    ("a\0b", "ab"), ("\0=1", "'=1"), (Path("=x"), "'=x"),
])
def test_safe_cell_of_other_values(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n"])
def test_a_line_break_in_a_name_cannot_forge_a_row(breaker: str) -> None:
    """A bare CR would end the row for csv readers if it were written unquoted (it is, with ``\\n`` endings)."""
    name = f"smithbob{breaker}340999,,,11{breaker}=1+2"
    text = write_csv([["Student", "ID", "Section", "Score"], [name, "340934", "", 3.5]])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["Student", "ID", "Section", "Score"],
                                                              [name, "340934", "", "3.5"]]


def test_write_csv_follows_owasp_example() -> None:
    """OWASP's example: ``=1+2";=1+2`` is written ``"'=1+2"";=1+2"`` (prefixed, quoted, quotes doubled)."""
    text = write_csv([["name", "score"], ['=1+2";=1+2', -1.5], ["a,b", 11.0]])
    assert text == 'name,score\r\n"\'=1+2"";=1+2",-1.5\r\n"a,b",11\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["name", "score"], ['\'=1+2";=1+2', "-1.5"], ["a,b", "11"]]


@given(st.lists(st.lists(st.one_of(st.text(), st.none(), st.booleans(), st.integers(),
                                   st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=4),
                min_size=1, max_size=4))
def test_any_table_reads_back_cell_for_cell_with_no_formula(rows: list[list[object]]) -> None:
    back = list(csv.reader(io.StringIO(write_csv(rows), newline="")))
    assert len(back) == len(rows)
    for row, read in zip(rows, back, strict=True):
        assert len(read) == len(row)
        for value, cell in zip(row, read, strict=True):
            assert cell == safe_cell(value)
            if isinstance(value, bool) or not isinstance(value, int | float):
                assert not looks_like_formula(cell)
            elif isinstance(value, int):
                assert int(cell) == value
            else:
                assert float(cell) == value


# ---- real result documents -------------------------------------------------------------------------


def _grader_check(path: Path) -> dict[str, Any]:
    """`grader check my_linear PATH --format json` with the console script beside this Python, as a TA runs it."""
    script = Path(sys.executable).with_name("grader")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "grader"]
    proc = subprocess.run([*command, "check", "my_linear", str(path), "--format", "json", "--seed", "7"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The results documents of the reference (full marks) and of a buggy copy (fewer points)."""
    folder = tmp_path_factory.mktemp("class")
    buggy = folder / "my_linear.py"
    shutil.copyfile(BUGGY, buggy)
    good, bad = _grader_check(REFERENCE), _grader_check(buggy)
    assert (good["status"], good["score"], good["max_score"]) == ("graded", MAX, MAX)
    assert bad["status"] == "graded" and 0 < bad["score"] < MAX
    return good, bad


def _as(document: dict[str, Any], sub_id: str, lms: dict[str, Any] | None, *, status: str | None = None,
        ) -> tuple[str, dict[str, Any]]:
    """A copy of ``document`` for submission ``sub_id`` with the intake's LMS identity attached."""
    doc = copy.deepcopy(document)
    doc["submission"]["id"] = sub_id
    if lms is not None:
        doc["submission"]["lms"] = lms
    if status is not None:  # what the batch writes for a rejected file or a grader failure: nothing earned
        doc["status"] = status
        doc["score"] = 0.0
        for entry in doc["checks"]:
            entry.update(status="skipped", score=0.0)
    return sub_id, doc


def _canvas(user_id: str, name: str, *, late: bool = False) -> dict[str, Any]:
    return {"layout": "canvas", "user_id": user_id, "name": name, "attachment_id": "208490284", "late": late,
            "file": "hw1-1.ipynb"}


def _moodle(participant_id: str, name: str) -> dict[str, Any]:
    return {"layout": "moodle", "participant_id": participant_id, "name": name}


HOSTILE_NAME = '=HYPERLINK("http://x")'
HOSTILE_ID = "@SUM(1)"
HOSTILE_SUBMITTER = "+cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def canvas_class(graded: tuple[dict[str, Any], dict[str, Any]]) -> Rows:
    good, bad = graded
    return [
        _as(good, "340934", _canvas("340934", "smithalice")),
        _as(bad, "340935", _canvas("340935", HOSTILE_NAME, late=True)),
        _as(good, "340936", _canvas("340936", "-2+3"), status="rejected"),   # a verdict: 0
        _as(good, "340937", _canvas("340937", "doejohn"), status="crashed"),  # no verdict: left out
        _as(good, "anon_ab12c", _canvas("anon_ab12c", "")),
        _as(bad, "340934-again", _canvas("340934", "smithalice")),           # intake broke its promise
        _as(good, HOSTILE_ID, None),                                         # a plain file
        _as(bad, "1234567", _moodle("1234567", "Jane Doe")),
        _as(good, "340938", _canvas("340938", "\tleetab")),
    ]


@pytest.fixture(scope="module")
def moodle_class(graded: tuple[dict[str, Any], dict[str, Any]]) -> Rows:
    good, bad = graded
    return [
        _as(good, "1234567", _moodle("1234567", "Jane Doe")),
        _as(bad, "1234568", _moodle("1234568", "-2+3")),
        _as(good, "1234569", _moodle("1234569", "@admin"), status="load_error"),
        _as(good, "1234570", _moodle("1234570", "Crash Test"), status="crashed"),
        _as(bad, "1234567-again", _moodle("1234567", "Jane Doe")),
        _as(good, "340934", _canvas("340934", "smithalice")),
        _as(good, HOSTILE_ID, None),
    ]


@pytest.fixture(scope="module")
def mixed_class(graded: tuple[dict[str, Any], dict[str, Any]]) -> Rows:
    good, bad = graded
    return [
        _as(good, "340934", _canvas("340934", HOSTILE_NAME, late=True)),
        _as(bad, "1234568", _moodle("1234568", "-2+3")),
        _as(bad, "123456", {"layout": "gradescope", "submission_id": "123456", "created_at": None, "submitters": [
            {"name": HOSTILE_SUBMITTER, "sid": "0012", "email": "=1+2@example.org"},
            {"name": "Ann Lee", "sid": "0013", "email": "ann@example.org"}]}),
        _as(good, "123457", {"layout": "gradescope", "submission_id": "123457", "submitters": [],
                             "created_at": "2023-12-02 02:52:07.938335000 Z"}),
        _as(good, "alice", {"layout": "repositories", "repository": "hw1-alice", "username": "-alice"}),
        _as(good, HOSTILE_ID, None),
        _as(good, "bob", None, status="rejected"),
        _as(good, "carol", None, status="crashed"),
    ]


def test_the_documents_follow_the_results_schema(canvas_class: Rows, moodle_class: Rows, mixed_class: Rows,
                                                 schema: dict[str, Any]) -> None:
    """The hand-attached identities are the ones the intake writes: the results schema accepts them."""
    for _, doc in [*canvas_class, *moodle_class, *mixed_class]:
        jsonschema.validate(doc, schema)


def _read_back(tmp_path: Path, kind: str, text: str) -> list[list[str]]:
    path = tmp_path / f"gradebook-{kind}.csv"
    write_atomic(path, text)
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _score(rows: Rows, sub_id: str) -> float:
    return next(doc["score"] for i, doc in rows if i == sub_id)


# ---- Canvas ----------------------------------------------------------------------------------------


def test_canvas_gradebook_has_canvas_header_points_and_one_row_per_student(canvas_class: Rows,
                                                                           tmp_path: Path) -> None:
    text, warnings = write_gradebook("canvas", canvas_class, title=TITLE, max_score=MAX,
                                     column="My Linear (12345)")
    table = _read_back(tmp_path, "canvas", text)
    # Canvas's minimal valid header: Student, ID, then Section as the last student-information column.
    assert table[0] == ["Student", "ID", "Section", "My Linear (12345)"]
    assert table[1] == [CANVAS_POINTS_POSSIBLE, "", "", "11"]
    students = table[2:]
    assert [row[1] for row in students] == ["340934", "340935", "340936", "340938"]
    assert len({row[1] for row in students}) == len(students)
    assert {row[1]: float(row[3]) for row in students} == {
        "340934": MAX, "340935": _score(canvas_class, "340935"), "340936": 0.0, "340938": MAX}
    assert students[1][0] == "'" + HOSTILE_NAME and students[2][0] == "'-2+3" and students[3][0] == "'\tleetab"
    assert all(row[2] == "" for row in students)
    joined = "\n".join(warnings)
    assert "NEW" not in joined
    for left_out in ("340937", "anon_ab12c", "340934-again", HOSTILE_ID, "1234567"):
        assert left_out in joined, left_out
    assert any("crashed" in w and "340937" in w for w in warnings)
    assert any("anon_ab12c" in w and "anonym" in w for w in warnings)
    assert any("340934-again" in w and "340934" in w and "kept" in w for w in warnings)


def test_canvas_without_a_column_warns_that_canvas_makes_a_new_assignment(canvas_class: Rows) -> None:
    text, warnings = write_gradebook("canvas", canvas_class, title=TITLE, max_score=MAX)
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header == ["Student", "ID", "Section", TITLE]
    assert any("NEW" in w and "--gradebook-column" in w and f"{TITLE} (id)" in w for w in warnings)


def test_canvas_column_without_an_id_is_warned_about(canvas_class: Rows) -> None:
    _, warnings = write_gradebook("canvas", canvas_class, title=TITLE, max_score=MAX, column="My Linear")
    assert any("(assignment id)" in w and "NEW" in w for w in warnings)


def test_canvas_with_nobody_from_canvas_is_only_the_header(graded: tuple[dict[str, Any], dict[str, Any]]) -> None:
    text, warnings = write_gradebook("canvas", [_as(graded[0], "alice", None)], title=TITLE, max_score=10.5,
                                     column="My Linear (12345)")
    assert text == f"Student,ID,Section,My Linear (12345)\r\n{CANVAS_POINTS_POSSIBLE},,,10.5\r\n"
    assert any("alice" in w and "Canvas identity" in w for w in warnings)


# ---- Moodle ----------------------------------------------------------------------------------------


def test_moodle_worksheet_has_the_columns_its_importer_reads(moodle_class: Rows, tmp_path: Path) -> None:
    text, warnings = write_gradebook("moodle", moodle_class, title=TITLE, max_score=MAX, now=NOW)
    table = _read_back(tmp_path, "moodle", text)
    header = table[0]
    assert header == list(MOODLE_COLUMNS)
    # assignfeedback_offline_grade_importer::init() needs these three headers (English strings), exactly.
    for required in ("Identifier", "Grade", "Last modified (grade)"):
        assert header.count(required) == 1
    rows = [dict(zip(header, row, strict=True)) for row in table[1:]]
    assert [row["Identifier"] for row in rows] == ["Participant 1234567", "Participant 1234568",
                                                   "Participant 1234569"]
    for row in rows:  # the importer strips "Participant " and looks the digits up
        assert row["Identifier"].removeprefix("Participant ").isdigit()
        assert float(row["Maximum Grade"]) == MAX
        assert datetime.fromisoformat(row["Last modified (grade)"]) == NOW
    assert [float(row["Grade"]) for row in rows] == [MAX, _score(moodle_class, "1234568"), 0.0]
    assert [row["Full name"] for row in rows] == ["Jane Doe", "'-2+3", "'@admin"]
    joined = "\n".join(warnings)
    for left_out in ("1234570", "1234567-again", "340934", HOSTILE_ID):
        assert left_out in joined, left_out
    assert any("Maximum grade" in w and "11" in w and "English" in w for w in warnings)


def test_moodle_last_modified_defaults_to_now_so_a_fresh_import_applies(moodle_class: Rows) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    text, _ = write_gradebook("moodle", moodle_class[:1], title=TITLE, max_score=MAX)
    after = datetime.now(timezone.utc)
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    stamp = datetime.fromisoformat(row[header.index("Last modified (grade)")])
    assert stamp.utcoffset() is not None and before <= stamp <= after


# ---- generic CSV -----------------------------------------------------------------------------------


def test_generic_csv_has_one_row_per_student(mixed_class: Rows, tmp_path: Path) -> None:
    text, warnings = write_gradebook("csv", mixed_class, title=TITLE, max_score=MAX)
    table = _read_back(tmp_path, "csv", text)
    assert table[0] == list(GENERIC_COLUMNS)
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [(r["id"], r["layout"], r["student"], r["lms_id"], r["email"]) for r in rows] == [
        ("340934", "canvas", "'" + HOSTILE_NAME, "340934", ""),
        ("1234568", "moodle", "'-2+3", "1234568", ""),
        ("123456", "gradescope", "'" + HOSTILE_SUBMITTER, "0012", "'=1+2@example.org"),
        ("123456", "gradescope", "Ann Lee", "0013", "ann@example.org"),
        ("123457", "gradescope", "", "", ""),
        ("alice", "repositories", "'-alice", "'-alice", ""),
        ("'" + HOSTILE_ID, "files", "", "'" + HOSTILE_ID, ""),
        ("bob", "files", "", "bob", ""),
        ("carol", "files", "", "carol", ""),
    ]
    assert [r["late"] for r in rows] == ["true", "", "", "", "", "", "", "", ""]
    assert [r["status"] for r in rows] == ["graded"] * 7 + ["rejected", "crashed"]
    group = _score(mixed_class, "123456")
    assert [float(r["score"]) if r["score"] else None for r in rows] == [
        MAX, _score(mixed_class, "1234568"), group, group, MAX, MAX, MAX, 0.0, None]
    assert all(float(r["max_score"]) == MAX for r in rows)
    assert len(warnings) == 1 and "carol" in warnings[0] and "crashed" in warnings[0]


def test_an_unknown_kind_is_refused(mixed_class: Rows) -> None:
    with pytest.raises(ValueError, match="unknown gradebook kind"):
        write_gradebook("blackboard", mixed_class, title=TITLE, max_score=MAX)


# ---- every cell of every file ----------------------------------------------------------------------

#: The columns that hold numbers in each file (from the second row on; Canvas's points row included).
NUMERIC = {"canvas": {"My Linear (12345)"}, "moodle": {"Grade", "Maximum Grade"}, "csv": {"score", "max_score"}}


def test_no_cell_of_any_gradebook_is_a_formula(canvas_class: Rows, moodle_class: Rows, mixed_class: Rows,
                                               tmp_path: Path) -> None:
    """Every text cell reads back neutralised; every score cell reads back as a number (or empty)."""
    everyone = [*canvas_class, *moodle_class, *mixed_class]
    seen_prefixed = 0
    for kind in ("canvas", "moodle", "csv"):
        text, _ = write_gradebook(kind, everyone, title=TITLE, max_score=MAX, column="My Linear (12345)", now=NOW)
        table = _read_back(tmp_path, kind, text)
        header, body = table[0], table[1:]
        assert body, kind
        for cell in header:
            assert not looks_like_formula(cell)
        for row in body:
            assert len(row) == len(header)
            for name, cell in zip(header, row, strict=True):
                if name in NUMERIC[kind] and cell:
                    float(cell)  # parses: a plain number, never prefixed
                    assert not cell.startswith("'")
                else:
                    assert not looks_like_formula(cell), (kind, name, cell)
                    seen_prefixed += cell.startswith("'")
    assert seen_prefixed >= 8  # the hostile names, ids and e-mails were there, and came back neutralised
