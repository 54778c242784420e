"""Broken input files: each still gets a valid results document (SPEC sections 4, 5 and 7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from conftest import ZOO, check_json, run_grader

FILES = ZOO / "files"
FULL = 11.0
LATIN1 = "import torch\nimport torch.nn as nn\n# Übung 3: lineare Schicht (caf\u00e9)\n".encode("latin-1")


@dataclass(frozen=True)
class FileCase:
    file: str
    status: str
    kind: str | None = None  # the kind of an entry the "errors" list must hold
    says: tuple[str, ...] = ()  # texts that entry's message must contain
    line: int | None = None  # the line that entry must name
    content: bytes | None = None  # written to a temporary folder by the test instead of read from the zoo


CASES = [
    FileCase("syntax_error.py", "load_error", "syntax_error", ("syntax_error.py", "line 6"), line=6),
    FileCase("empty.py", "load_error", says=("empty",)),
    FileCase("whitespace_only.py", "load_error", says=("empty",)),
    FileCase("latin1.py", "load_error", says=("UTF-8", "line 3"), line=3, content=LATIN1),
    FileCase("truncated.ipynb", "load_error", says=("truncated.ipynb", "notebook")),
    FileCase("not_a_notebook.ipynb", "load_error", says=("not_a_notebook.ipynb", "notebook")),
    FileCase("json_list.ipynb", "load_error", says=("json_list.ipynb", "notebook")),
    FileCase("my_linear.txt", "rejected", says=(".txt", ".py", ".ipynb")),
    FileCase("exit_at_top.py", "graded", "exit", ("sys.exit", "line 8"), line=8),
    FileCase("missing_package.py", "graded", "import_error", ("d2l", "line 3"), line=3),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_broken_file(case: FileCase, schema: dict, tmp_path: Path) -> None:
    path = FILES / case.file
    if case.content is not None:
        path = tmp_path / case.file
        path.write_bytes(case.content)
    run, doc = check_json("my_linear", path, "--device", "cpu", warm=True)
    jsonschema.validate(doc, schema)
    assert run.returncode == 1
    assert doc["status"] == case.status, doc["errors"]
    assert doc["max_score"] == FULL
    assert doc["score"] == 0
    assert doc["submission"]["kind"] == ("ipynb" if case.file.endswith(".ipynb") else "py")
    assert doc["errors"], "a broken file must say what is wrong with it"
    if case.status != "graded":  # nothing could run: every check is reported, skipped, with the reason
        assert {c["status"] for c in doc["checks"]} == {"skipped"}
        assert all(c["message"] for c in doc["checks"])
    entries = [e for e in doc["errors"] if case.kind is None or e["kind"] == case.kind]
    assert entries, f"no {case.kind} entry in {doc['errors']}"
    entry = entries[0]
    for text in case.says:
        assert text in entry["message"], entry
    if case.line is not None:
        assert entry["line"] == case.line, entry


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_missing_file_exits_2() -> None:
    run = run_grader("check", "my_linear", FILES / "no_such_file.py", "--format", "json")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "no_such_file.py" in _one_line_error(run.stderr)


@pytest.mark.parametrize("name", ["my_linea", "MyLinear", "my_liner"])
def test_unknown_assignment_close_to_a_real_one(name: str) -> None:
    run = run_grader("check", name, FILES / "syntax_error.py", "--format", "json")
    assert run.returncode == 2
    assert run.stdout == ""
    line = _one_line_error(run.stderr)
    assert name in line
    assert "Did you mean 'my_linear'" in line


def test_unknown_assignment_far_from_any() -> None:
    run = run_grader("check", "fourier_transform", FILES / "syntax_error.py")
    assert run.returncode == 2
    line = _one_line_error(run.stderr)
    assert "fourier_transform" in line
    assert "Did you mean" not in line


def test_bad_option_exits_2_with_one_line() -> None:
    run = run_grader("check", "my_linear", FILES / "syntax_error.py", "--device", "tpu")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "tpu" in _one_line_error(run.stderr)
