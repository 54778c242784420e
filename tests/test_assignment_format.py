"""A new assignment is a folder and a reference file: nothing in grader/ changes. Hidden checks stay hidden."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import check_by_id, run_grader

CHECKS = '''
"""Judge side of a tiny assignment."""

from __future__ import annotations

from dataclasses import dataclass

from grader.check import CheckFailed, Context, check
from grader.compare import expect_close

TITLE = "Double it"
ALIASES = {"double": ["twice"]}


@dataclass(frozen=True)
class Case:  # checks modules may use dataclasses (they need the module registered while it loads)
    size: int


@check(points=1, hint="Define double(x).")
def exists(ctx: Context) -> None:
    """double is defined."""
    ctx.probe("call", x=[1.0])


@check(points=2, depends=[exists], hint="Return 2 * x.")
def doubles(ctx: Context) -> None:
    """double(x) returns 2 * x."""
    x = ctx.randn(Case(4).size)
    expect_close(ctx.probe("call", x=x.tolist()), 2 * x.float().double(), "double(x)")


@check(points=3, hidden=True, depends=[exists], hint="secret hint")
def handles_empty(ctx: Context) -> None:
    """double works on an empty tensor."""
    obs = ctx.probe("call", x=[])
    if obs.get("shape") != [0]:
        raise CheckFailed("an empty tensor", str(obs.get("shape")), "secret hint")
'''

PROBES = '''
"""Sandbox side of the tiny assignment."""

import torch

from grader.sandbox.student import observe


def call(student, x):
    return observe(student.function("double")(torch.tensor(x)))
'''

SUBMISSION = '''
import torch


def twice(x):
    if x.numel() == 0:
        raise ValueError("empty")
    return x * 2
'''


def make_course(root: Path) -> Path:
    folder = root / "assignments" / "tiny"
    folder.mkdir(parents=True)
    (folder / "checks.py").write_text(CHECKS)
    (folder / "probes.py").write_text(PROBES)
    (folder / "statement.md").write_text("# Double it\n")
    (root / "reference").mkdir()
    reference = "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
    (root / "reference" / "tiny.py").write_text(reference)
    (root / "twice.py").write_text(SUBMISSION)
    return root


def test_new_assignment_from_a_folder_alias_and_hidden_check(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    listed = run_grader("list", "--json", cwd=course)
    assert [a["name"] for a in json.loads(listed.stdout)["assignments"]] == ["tiny"]

    run = run_grader("check", "tiny", "twice.py", "--format", "json", cwd=course, warm=True)
    assert run.returncode == 1
    doc = run.json()
    assert doc["max_score"] == 6 and doc["score"] == 3
    assert any("twice" in note for note in doc["notes"])  # the alias was accepted, and said so
    hidden = check_by_id(doc, "handles_empty")
    assert hidden["status"] == "failed" and "ValueError: empty" in hidden["message"]  # TAs see everything

    text = run_grader("check", "tiny", "twice.py", cwd=course, warm=True)
    assert "hidden check: details are shown when grades are published" in text.stdout
    assert "secret hint" not in text.stdout and "ValueError" not in text.stdout

    scope = run_grader("check", "tiny", "twice.py", "--format", "gradescope", cwd=course, warm=True)
    tests = {t["name"]: t for t in json.loads(scope.stdout)["tests"]}
    assert tests["double works on an empty tensor."]["visibility"] == "after_published"
    assert tests["double is defined."]["visibility"] == "visible"


def test_skipped_prerequisite_still_counts_in_max_score(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    (course / "nothing.py").write_text("x = 1\n")
    run = run_grader("check", "tiny", "nothing.py", "--format", "json", cwd=course, warm=True)
    doc = run.json()
    assert doc["max_score"] == 6 and doc["score"] == 0
    assert check_by_id(doc, "exists")["status"] == "failed"
    assert "does not define `double`" in check_by_id(doc, "exists")["message"]
    for dependent in ("doubles", "handles_empty"):
        entry = check_by_id(doc, dependent)
        assert entry["status"] == "skipped" and entry["max_score"] > 0
        assert "check `exists` did not pass" in entry["message"]
