"""The command line as users run it: exit codes, formats, schema, list, validate (passing: test_mutants.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch

from conftest import ASSIGNMENTS, ROOT, check_json, in_parallel, run_grader, stable


def test_check_gives_references_full_marks_and_stub_notebooks_zero(schema: dict) -> None:
    """`grader check` on each assignment's reference and on its stub notebook, through the warm check server.

    (The `.py` stubs' zero, and both stubs being up to date, are `grader validate`'s job: test_mutants.py runs
    it on the course.)
    """
    names = sorted(ASSIGNMENTS)
    references = in_parallel([lambda n=n: check_json(n, ROOT / "reference" / f"{n}.py", warm=True) for n in names])
    stubs = in_parallel([lambda n=n: check_json(n, ROOT / "assignments" / n / f"{n}.ipynb", warm=True) for n in names])
    for name, (run, doc) in zip(names, references, strict=True):
        assert run.returncode == 0, name
        assert doc["status"] == "graded", name
        assert doc["score"] == doc["max_score"] == ASSIGNMENTS[name], name
        jsonschema.validate(doc, schema)
    for name, (run, doc) in zip(names, stubs, strict=True):
        assert run.returncode == 1, name
        assert doc["status"] == "graded", name
        assert doc["score"] == 0 and doc["max_score"] == ASSIGNMENTS[name], name
        assert doc["submission"]["kind"] == "ipynb", name
        jsonschema.validate(doc, schema)


def test_text_report_lists_every_check_with_hints() -> None:
    run = run_grader("check", "manual_lr", "assignments/manual_lr/manual_lr.py")
    assert run.returncode == 1
    assert "FAIL    builds" in run.stdout
    assert "NotImplementedError" in run.stdout and "line 15" in run.stdout
    assert "Hint:" in run.stdout
    assert "Score: 0/12 (not full marks yet)" in run.stdout
    full = run_grader("check", "manual_lr", "reference/manual_lr.py")
    assert full.returncode == 0 and "Score: 12/12 (full marks)" in full.stdout
    assert full.stdout.count("PASS") == 8


def test_schema_is_a_valid_json_schema(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["status"]["enum"] == ["graded", "load_error", "timeout", "crashed", "rejected"]


def test_gradescope_format_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = run_grader("check", "my_linear", "reference/my_linear.py", "--format", "gradescope", "--output", out)
    assert run.returncode == 0 and run.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["score"] == 11.0
    assert isinstance(doc["execution_time"], float)
    assert {t["status"] for t in doc["tests"]} == {"passed"}
    assert sum(t["max_score"] for t in doc["tests"]) == 11.0
    assert all({"name", "score", "max_score", "status", "output", "visibility"} <= set(t) for t in doc["tests"])


def test_list_json() -> None:
    run = run_grader("list", "--json")
    assert run.returncode == 0
    rows = {row["name"]: row for row in json.loads(run.stdout)["assignments"]}
    assert {name: row["max_score"] for name, row in rows.items()} == ASSIGNMENTS


def test_validate_fails_when_a_stub_is_stale(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for part in ("assignments/my_linear", "reference"):
        (course / part).mkdir(parents=True)
    for f in (ROOT / "assignments" / "my_linear").iterdir():
        if f.is_file():
            (course / "assignments" / "my_linear" / f.name).write_bytes(f.read_bytes())
    (course / "reference" / "my_linear.py").write_bytes((ROOT / "reference" / "my_linear.py").read_bytes())
    stub = course / "assignments" / "my_linear" / "my_linear.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    run = run_grader("validate", cwd=course)
    assert run.returncode == 1
    assert "stub my_linear.py is out of date" in run.stdout


def test_validate_fails_when_the_reference_loses_points(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "reference").mkdir(parents=True)
    (course / "assignments").mkdir()
    src = ROOT / "assignments" / "my_linear"
    dst = course / "assignments" / "my_linear"
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    broken = (ROOT / "reference" / "my_linear.py").read_text().replace("out = out + self.bias", "out = out")
    (course / "reference" / "my_linear.py").write_text(broken)
    run = run_grader("validate", cwd=course)
    assert run.returncode == 1
    assert "reference scored" in run.stdout and "forward[cpu]" in run.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "my_linear", "no/such/file.py"), "no such file"),
        (("check", "my_linea", "reference/my_linear.py"), "Did you mean 'my_linear'?"),
        (("check", "my_linear", "reference"), "is a folder"),
        (("check", "my_linear", "reference/my_linear.py", "--timeout", "-3"), "more than 0"),
        (("check", "my_linear", "reference/my_linear.py", "--format", "xml"), "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    run = run_grader(*args)
    assert run.returncode == 2
    assert message in run.stderr
    assert run.stdout == ""


def test_device_cuda_without_gpu_exits_2_and_all_lists_cuda_as_skipped() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: tests/test_cuda.py covers it")
    run = run_grader("check", "my_linear", "reference/my_linear.py", "--device", "cuda")
    assert run.returncode == 2 and "no usable CUDA device" in run.stderr
    run, doc = check_json("my_linear", ROOT / "reference" / "my_linear.py", "--device", "all")
    assert run.returncode == 0
    cuda = [c for c in doc["checks"] if c["device"] == "cuda"]
    assert cuda and all(c["status"] == "skipped" and c["max_score"] == 0 for c in cuda)
    assert doc["max_score"] == 11.0


def test_seed_makes_messages_reproducible() -> None:
    buggy = ROOT / "tests" / "zoo" / "my_linear" / "bias_left_out.py"

    def messages(seed: str) -> list[str]:
        run = run_grader("check", "my_linear", buggy, "--format", "json", "--seed", seed, warm=True)
        return [c["message"] for c in run.json()["checks"]]

    first, again, other = in_parallel([lambda: messages("11"), lambda: messages("11"), lambda: messages("12")])
    assert first == again
    assert first != other  # the inputs, and so the values quoted, come from the seed



def test_a_command_answers_alike_forked_or_in_a_new_python() -> None:
    """The suite's forked commands (tests/forked_cli.py) and a new `python -m grader` give the same document,
    exit status and messages, in the working folder and environment each was given."""
    import forked_cli

    import conftest

    buggy = ROOT / "tests" / "zoo" / "my_linear" / "bias_left_out.py"
    runs = {}
    for fresh in (False, True):
        conftest._FRESH_PYTHON = fresh  # what the fresh_python marker sets before a test
        try:
            runs[fresh] = (
                run_grader("check", "my_linear", buggy, "--format", "json", "--seed", "5", "--no-server"),
                run_grader("check", "my_linear", "no/such/file.py"),
                run_grader("list", "--json", cwd=ROOT / "tests", env={"GRADER_COURSE": str(ROOT)}),
            )
        finally:
            conftest._FRESH_PYTHON = False
        assert fresh or forked_cli._HELPER, "the forked commands did not go through the helper"
    (forked, forked_usage, forked_list), (fresh_run, fresh_usage, fresh_list) = runs[False], runs[True]
    assert forked.returncode == fresh_run.returncode == 1
    assert stable(forked.json()) == stable(fresh_run.json())
    assert (forked_usage.returncode, forked_usage.stdout, forked_usage.stderr) == \
        (fresh_usage.returncode, fresh_usage.stdout, fresh_usage.stderr) == \
        (2, "", "grader: error: no/such/file.py: no such file\n")
    assert forked_list.returncode == fresh_list.returncode == 0
    assert forked_list.json() == fresh_list.json() and forked_list.json()["course"] == str(ROOT)


def test_cell_timeout_sets_the_budget_of_one_notebook_cell() -> None:
    """`--cell-timeout` stops a never-ending cell after that many seconds, in a check cold or served, and in a
    batch (the zoo's batches run with it: `conftest.zoo_results`); the later cells still run."""
    notebook = ROOT / "tests" / "zoo" / "manual_lr" / "nb_while_true.ipynb"
    cold = run_grader("check", "manual_lr", notebook, "--format", "json", "--cell-timeout", "1.5", "--no-server")
    served = run_grader("check", "manual_lr", notebook, "--format", "json", "--cell-timeout", "1", warm=True)
    for run, seconds in ((cold, "1.5"), (served, "1")):
        doc = run.json()
        assert run.returncode == 0 and doc["score"] == doc["max_score"], run.stderr  # the definitions loaded
        [error] = doc["errors"]
        assert error["kind"] == "cell_timeout" and f"stopped after {seconds} s and skipped" in error["message"], error
    refused = run_grader("check", "manual_lr", notebook, "--cell-timeout", "0")
    assert refused.returncode == 2 and "--cell-timeout" in refused.stderr, refused.stderr
