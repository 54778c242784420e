"""Feedback a student can read and a class report a TA can act on: causes, feedback pages, common mistakes.

A small class is graded once with the real CLI (`grader grade`): a correct submission, two with the bias
left out, and one whose file name and exception message are HTML. The results documents, the feedback
pages and the class report it writes are then checked as text and in a real headless Chromium.
"""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from browser import load

from conftest import ROOT, ZOO, check_by_id, run_grader
from grader.feedback import render_feedback
from grader.mistakes import common_mistakes
from grader.report import HIDDEN_NOTE, render_html, score_bins
from grader.results import validate_document

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
#: A file name that is HTML: its id is made safe by the intake, its path and the traceback keep it.
HOSTILE_FILE = '"><img src=x onerror=alert(3)>.py'
HOSTILE_ID = f"{SCRIPT}{IMG}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`grader grade my_linear` on four submissions: the results folder and each document by id."""
    base = tmp_path_factory.mktemp("class")
    folder, out = base / "submissions", base / "out"
    folder.mkdir()
    reference = (ROOT / "reference" / "my_linear.py").read_text()
    (folder / "alice.py").write_text(reference)
    for name in ("bob.py", "carol.py"):
        (folder / name).write_text((ZOO / "my_linear" / "bias_left_out.py").read_text())
    message = f"{SCRIPT} {IMG}"
    raising = reference.replace("        out = x @ self.weights\n", f"        raise ValueError({message!r})\n")
    assert raising != reference
    (folder / HOSTILE_FILE).write_text(raising)
    run = run_grader("grade", "my_linear", folder, "--out", out, "--seed", "7", "--device", "cpu", "--jobs", "2",
                     env={"CUDA_VISIBLE_DEVICES": ""})
    assert run.returncode in (0, 1), run.stderr
    documents = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json") if not p.name.startswith("summary")}
    hostile = next(i for i, d in documents.items() if d["submission"]["path"].endswith(HOSTILE_FILE))
    return {"out": out, "documents": documents, "hostile": hostile,
            "summary": json.loads((out / "summary.json").read_text())}


def _hostile_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with HTML in every string a student or a check controls: id, name, messages, hints."""
    doc = copy.deepcopy(document)
    doc["submission"]["id"] = HOSTILE_ID
    doc["submission"]["lms"] = {"layout": "canvas", "user_id": "340934", "name": f"bob{IMG}", "late": True,
                                "attachment_id": "208490284", "file": f"{SCRIPT}.py"}
    doc["errors"] = [{"kind": "import_error", "message": f"cell 2: {SCRIPT}\n  {IMG}", "line": 3}]
    doc["notes"] = [f"note {IMG}"]
    failed = next(c for c in doc["checks"] if c["status"] == "failed")
    failed["message"] += f"\n{SCRIPT}"
    failed["hint"] = f"hint {IMG}"
    failed["name"] = f"name {SCRIPT}"
    return doc


def _no_markup_from_input(page: str) -> None:
    """No element but the page's own: no script, image, frame, link or event handler, no external URL."""
    lowered = page.lower()
    for tag in ("<script", "<img", "<iframe", "<object", "<embed", "<link", "<base", "@import", "url("):
        assert tag not in lowered, tag
    assert not re.search(r"<[^>]*\son\w+\s*=", page, re.IGNORECASE)  # no event handler attribute in a tag
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|javascript:|data:)", page, re.IGNORECASE)


# --- the cause of each failure, in the results document ---------------------------------------------------


def test_a_failed_check_names_its_cause_and_the_documents_validate(graded: dict[str, Any],
                                                                   schema: dict[str, Any]) -> None:
    docs = graded["documents"]
    for doc in docs.values():
        jsonschema.validate(doc, schema)
        validate_document(doc)
        for entry in doc["checks"]:
            assert entry["hidden"] is (entry["id"] == "follows_to[cpu]") and "cause" in entry  # my_linear's hidden one
            assert (entry["cause"] is None) == (entry["status"] in ("passed", "skipped")), entry
    bob = docs["bob"]
    assert check_by_id(bob, "forward[cpu]")["cause"] == "no_bias"  # the declared mistake matched
    assert check_by_id(bob, "gradients[cpu]")["cause"] == "no_bias"  # the hand-written failure says so too
    assert check_by_id(bob, "optimizer")["cause"] == "unchanged"
    assert check_by_id(docs[graded["hostile"]], "forward[cpu]")["cause"] == "raised"
    old = copy.deepcopy(bob)  # documents written before `cause` and `hidden` existed still validate
    for entry in old["checks"]:
        del entry["cause"], entry["hidden"]
    jsonschema.validate(old, schema)
    bad = copy.deepcopy(bob)
    bad["checks"][0]["cause"] = "Not An Identifier"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_expect_close_gives_the_mistake_name_else_the_diagnosis() -> None:
    import torch

    from grader.check import CheckFailed
    from grader.compare import expect_close

    expected = torch.tensor([[0.5, -1.0], [2.0, 0.25], [1.5, -3.0]], dtype=torch.float64)

    def cause_of(found: torch.Tensor, **kwargs: Any) -> str | None:
        obs = {"tensor": found, "dtype": str(found.dtype).replace("torch.", ""), "device": "cpu",
               "shape": list(found.shape), "type": "Tensor"}
        with pytest.raises(CheckFailed) as failed:
            expect_close(obs, expected, "x", **kwargs)
        return failed.value.cause

    assert cause_of(expected - 1, mistakes={"no_bias": (expected - 1, "bias!")}) == "no_bias"
    assert cause_of(expected * 8, batch=8) == "missing_mean"
    assert cause_of(expected * 3) == "scale"
    assert cause_of(-expected) == "sign"
    assert cause_of(expected.T.contiguous()) == "transpose"
    assert cause_of(expected + torch.tensor([[0.3, 0.0], [0.0, -0.2], [0.0, 0.0]], dtype=torch.float64)) is None
    assert cause_of(expected.float(), dtype="float64") == "dtype"
    assert CheckFailed("a", "b").cause is None


# --- the feedback page ----------------------------------------------------------------------------------


def test_feedback_page_has_expected_found_in_full_the_hint_and_the_line(graded: dict[str, Any]) -> None:
    bob = graded["documents"]["bob"]
    written = (graded["out"] / "feedback" / "bob.html").read_text()
    bob = copy.deepcopy(bob)
    forward = check_by_id(bob, "forward[cpu]")
    forward["cause"] = "staff_only_cause"
    page = render_feedback(bob)
    assert "Expected: [[" in forward["message"] and "Found: [[" in forward["message"]
    for text in (page, written):
        assert html.escape(forward["message"]) in text  # every value, not cut short
        assert html.escape(forward["hint"]) in text and "The bias is left out" in text
        assert "Score: 6/11" in text and "bob" in text and "not full marks yet" in text
        for entry in bob["checks"]:
            assert html.escape(entry["name"]) in text
    assert "staff_only_cause" not in page  # the cause is for the course staff
    assert 'name="viewport"' in page and "white-space: pre-wrap" in page
    hostile = graded["documents"][graded["hostile"]]
    page = render_feedback(hostile)
    assert f"Look at <strong>{html.escape(HOSTILE_FILE)}, line " in page  # the student's line, from the traceback
    _no_markup_from_input(page)


def test_feedback_escapes_every_string_it_shows(graded: dict[str, Any]) -> None:
    page = render_feedback(_hostile_document(graded["documents"]["bob"]))
    _no_markup_from_input(page)
    assert html.escape(SCRIPT) in page and html.escape(IMG) in page
    assert f"bob{html.escape(IMG)}" in page and "submitted late" in page and "340934" in page


def test_hidden_check_failures_show_no_details_and_no_cause(graded: dict[str, Any]) -> None:
    doc = copy.deepcopy(graded["documents"]["bob"])
    forward = check_by_id(doc, "forward[cpu]")
    forward["hidden"], forward["cause"] = True, "staff_only_cause"
    page = render_feedback(doc)
    assert HIDDEN_NOTE in page and html.escape(forward["hint"]) not in page
    assert html.escape(forward["message"].splitlines()[0]) not in page and "staff_only_cause" not in page
    old = copy.deepcopy(graded["documents"]["bob"])  # a document without `hidden`: the caller says which
    for entry in old["checks"]:
        del entry["hidden"]
    page = render_feedback(old, hidden_ids={"forward"})
    assert HIDDEN_NOTE in page and "The bias is left out" not in page


@pytest.mark.parametrize(("lms", "shown"), [
    (None, ()),
    ({"layout": "canvas", "user_id": "340934", "name": "smithbob", "late": True}, ("smithbob", "340934", "late")),
    ({"layout": "moodle", "participant_id": "7777", "name": "Jane Doe"}, ("Jane Doe", "7777")),
    ({"layout": "gradescope", "submission_id": "123", "submitters": [{"name": "Ann", "sid": "S1", "email": None}]},
     ("Ann", "S1", "123")),
    ({"layout": "repositories", "repository": "hw1-alice", "username": "alice"}, ("hw1-alice", "alice")),
])
def test_feedback_names_the_student_when_the_lms_does(graded: dict[str, Any], lms: dict[str, Any] | None,
                                                      shown: tuple[str, ...]) -> None:
    doc = copy.deepcopy(graded["documents"]["alice"])
    if lms is not None:
        doc["submission"]["lms"] = lms
    page = render_feedback(doc)
    assert "Score: 11/11 (full marks)" in page and "<code>alice</code>" in page
    for text in shown:
        assert text in page


# --- the class's most common mistakes, and the class report -------------------------------------------------


def test_common_mistakes_count_students_per_check_and_cause(graded: dict[str, Any]) -> None:
    rows = sorted(graded["documents"].items())
    mistakes = common_mistakes(rows)
    assert mistakes[0] == {"check": "forward", "name": check_by_id(graded["documents"]["bob"], "forward[cpu]")["name"],
                           "cause": "no_bias", "label": "the bias is left out", "count": 2, "ids": ["bob", "carol"],
                           "hidden": False}
    assert [(m["check"], m["cause"], m["count"]) for m in mistakes[:3]] == [
        ("forward", "no_bias", 2), ("gradients", "no_bias", 2), ("optimizer", "unchanged", 2)]
    raised = [m for m in mistakes if m["cause"] == "raised"]
    assert raised and all(m["ids"] == [graded["hostile"]] and m["label"].startswith("Your code raised ValueError: ")
                          and SCRIPT in m["label"] for m in raised)
    assert graded["summary"]["mistakes"] == common_mistakes(
        [(i, graded["documents"][i]) for i in (r["id"] for r in graded["summary"]["results"])])


def test_common_mistakes_merge_devices_and_group_undiagnosed_failures() -> None:
    def entry(check_id: str, status: str, cause: str | None, device: str | None = None) -> dict[str, Any]:
        return {"id": f"{check_id}[{device}]" if device else check_id, "name": check_id.title(), "status": status,
                "cause": cause, "hint": "Store the argument: self.n = n. Then more.",
                "message": "Expected: 1\nFound: 2", "device": device}

    rows = [
        ("s1", {"checks": [entry("a", "failed", None), entry("b", "failed", "x_y", "cpu"),
                           entry("b", "failed", "x_y", "cuda")]}),
        ("s2", {"checks": [entry("a", "failed", None), entry("b", "passed", None, "cpu"),
                           entry("c", "timeout", None)]}),
        ("s3", {"checks": [entry("a", "skipped", None), entry("b", "failed", "x_y", "cpu"),
                           entry("c", "failed", "z")]}),
    ]
    got = [(m["check"], m["cause"], m["count"], m["ids"], m["label"]) for m in common_mistakes(rows)]
    assert got == [
        ("a", None, 2, ["s1", "s2"], "no recognised cause: Expected: 1"),
        ("b", "x_y", 2, ["s1", "s3"], "store the argument"),  # a cause without a label: the hint's first words
        ("c", "z", 1, ["s3"], "store the argument"),
        ("c", None, 1, ["s2"], "no recognised cause: Expected: 1"),
    ]


def test_histogram_bins_are_whole_points() -> None:
    assert score_bins([0, 2.5, 2.9, 3, 11, 10.999999], 11) == [1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    assert score_bins([0, 10.5], 10.5) == [1] + [0] * 9 + [1]  # 0..10; 10.5 is in the last bin
    assert score_bins([], 0) == [0]


def test_report_lists_mistakes_with_counts_and_links_to_feedback(graded: dict[str, Any]) -> None:
    summary = copy.deepcopy(graded["summary"])
    summary["scores"]["mean"] = 6.123456
    page = render_html(summary)
    written = (graded["out"] / "report.html").read_text()
    for text in (page, written):
        assert "Most common mistakes" in text and "the bias is left out" in text
        assert '<a href="feedback/bob.html">bob</a>' in text and '<a href="feedback/carol.html">carol</a>' in text
        assert '<a href="bob.json">JSON</a>' in text
        assert re.search(r'<td class="num">2 <span class="muted">\(50%\)</span></td>\s*<td>the bias is left out', text)
        assert len(re.findall(r"<rect ", text)) == 12  # one bar per whole point, 0..11
        _no_markup_from_input(text)
    assert "mean 6.12 " in page and "6.123" not in page


# --- in a real browser ----------------------------------------------------------------------------------


def test_browser_harness_sees_a_page_that_fetches(tmp_path: Path) -> None:
    """The control: the proxy listener does receive what a page asks for, so its silence below means something."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example.com/a.css">'
                    '</head><body><img src="http://198.51.100.7:8080/x.png"></body></html>')
    loaded = load(page)
    assert any("fonts.example.com" in r for r in loaded.requests), loaded.requests
    assert any("198.51.100.7" in r for r in loaded.requests), loaded.requests


def test_feedback_and_report_in_a_real_browser(graded: dict[str, Any], tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.html"
    hostile = _hostile_document(graded["documents"]["bob"])
    feedback.write_text(render_feedback(hostile))
    loaded = load(feedback)
    assert loaded.requests == [], loaded.requests  # nothing fetched from anywhere
    dom = loaded.dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert html.escape(SCRIPT) in dom  # the hostile text is shown, as text
    assert "Score: 6/11" in dom and "Expected: [[" in dom and "No gradient reaches" in dom
    for entry in hostile["checks"]:
        assert html.escape(entry["name"], quote=False) in dom

    summary = copy.deepcopy(graded["summary"])
    summary["results"][0]["id"] = HOSTILE_ID
    summary["mistakes"][0]["ids"].append(HOSTILE_ID)
    report = graded["out"] / "report-hostile.html"
    report.write_text(render_html(summary))
    loaded = load(report)
    assert loaded.requests == [], loaded.requests
    dom = loaded.dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert html.escape(SCRIPT) in dom
    assert "Most common mistakes" in dom and "the bias is left out" in dom and "6 / 11" in dom
    assert ">2<" in dom.replace(" ", "") and 'href="feedback/bob.html"' in dom
    for check in summary["checks"]:
        assert html.escape(check["name"], quote=False) in dom
    assert loaded.dom.count("<rect") == 12
