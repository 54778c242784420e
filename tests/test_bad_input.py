"""SPEC section 7, bad input: each case gets a results document whose messages name the file, the line (.py)
or the cell (.ipynb), and say what to do.

The ``.py`` cases are files in ``tests/zoo/bad_input`` (each a correct ``my_linear`` solution with one
mistake); byte-level cases and notebooks are written by this module with nbformat. All of them are graded
in one ``grader grade`` run (the same documents as ``grader check --format json``); one case also goes
through ``grader check``'s text report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import ROOT, ZOO, check_by_id, failed_ids, run_grader

BAD = ZOO / "bad_input"
FULL = 11.0
REFERENCE = (ROOT / "reference" / "my_linear.py").read_text()
IMPORTS = "import torch\nfrom torch import nn"
CLASS = REFERENCE[REFERENCE.index("class MyLinear"):]
CLASS_FORWARD_LINE = CLASS.splitlines().index("    def forward(self, x: torch.Tensor) -> torch.Tensor:") + 1


def _notebook(*sources: str, version: int = 4) -> bytes:
    nb = new_notebook(cells=[new_markdown_cell("# MyLinear")] + [new_code_cell(s) for s in sources])
    return nbformat.writes(nb, version=version).encode()


def _edited(data: bytes, **keys: Any) -> bytes:
    doc = json.loads(data)
    doc.update(keys)
    return json.dumps(doc).encode()


GOOD_NOTEBOOK = _notebook(IMPORTS, CLASS)
MAGICS_NOTEBOOK = _notebook("%matplotlib inline\n" + IMPORTS, "!pip install d2l", CLASS, "%%bash\nls -l",
                            "files = !ls\nprint(files)")

#: Inputs written by the test: bytes no editor would keep in a zoo file, and notebooks made with nbformat.
GENERATED: dict[str, bytes] = {
    "empty.py": b"",
    "utf16.py": REFERENCE.encode("utf-16"),
    "latin1.py": (IMPORTS + "\n# \u00dcbung 3: lineare Schicht\n" + CLASS).encode("latin-1"),
    "nul_byte.py": (IMPORTS + "\nx = 1\x00\n" + CLASS).encode(),
    # PEP 263: a declared encoding is how Python reads the file (Windows editors in Korea write cp949)
    "cp949_declared.py": ("# -*- coding: cp949 -*-\n# 김민준: 선형 레이어\n" + IMPORTS + "\n" + CLASS).encode("cp949"),
    "declared_wrongly.py": ("# -*- coding: ascii -*-\n" + IMPORTS + "\n# Übung\n" + CLASS).encode("latin-1"),
    "deeply_nested.py": b"x = " + b"-" * 200_000 + b"1\n",  # the parser's own limit: a MemoryError before the fix
    "python_as_notebook.ipynb": REFERENCE.encode(),
    "nb_not_json.ipynb": b"MyLinear notebook, see attached\n",
    "nb_truncated.ipynb": MAGICS_NOTEBOOK[: len(MAGICS_NOTEBOOK) * 3 // 5],
    "nb_json_list.ipynb": b"[1, 2, 3]",
    "nb_json_object.ipynb": b'{"name": "my_linear", "version": "1.0"}',
    "nb_version_5.ipynb": _edited(GOOD_NOTEBOOK, nbformat=5, nbformat_minor=0),
    "nb_version_99.ipynb": _edited(GOOD_NOTEBOOK, nbformat=99),
    "nb_version_text.ipynb": _edited(GOOD_NOTEBOOK, nbformat="4"),
    "nb_version_3_bogus_minor.ipynb": _edited(GOOD_NOTEBOOK, nbformat=3, nbformat_minor="x"),
    "nb_version_4_minor_99.ipynb": _edited(GOOD_NOTEBOOK, nbformat_minor=99),
    "nb_version_3.ipynb": _notebook(IMPORTS, CLASS, version=3),
    "nb_magics.ipynb": MAGICS_NOTEBOOK,
    "nb_only_magics.ipynb": _notebook("!pip install torch", "%matplotlib inline"),
    "nb_no_code.ipynb": nbformat.writes(new_notebook(cells=[new_markdown_cell("I will do it later")])).encode(),
    "nb_syntax_error_scratch.ipynb": _notebook(IMPORTS, CLASS, "layer = MyLinear(5, 3\nprint(layer)"),
    "nb_syntax_error_class.ipynb": _notebook(IMPORTS, CLASS.replace("x: torch.Tensor) -> torch.Tensor:", "x)")),
    "nb_import_error.ipynb": _notebook(IMPORTS, "import sklearn", CLASS),
    "nb_raises.ipynb": _notebook(IMPORTS, CLASS, "layer = MyLinear(4, 2)\nlayer(torch.randn(3, 2))"),
    "nb_nul_cell.ipynb": _notebook(IMPORTS, CLASS, "x = 1\x00"),
    "nb_deeply_nested_cell.ipynb": _notebook(IMPORTS, CLASS, "x = " + "-" * 200_000 + "1"),
}


@dataclass(frozen=True)
class Err:
    """An entry the results' ``errors`` must hold: its kind, texts in its message, its line and cell."""

    kind: str
    says: tuple[str, ...]
    line: int | None = None
    cell: int | None = None


@dataclass(frozen=True)
class Case:
    file: str
    status: str
    score: float
    errors: tuple[Err, ...] = ()  # exactly these entries, in any order
    checks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # check id -> texts in its message + hint


RESAVE = "save it again"
NOT_A_NOTEBOOK = "is not a readable Jupyter notebook"
CASES = [
    # ---- Python that does not parse: nothing runs ----
    Case("syntax_missing_colon.py", "load_error", 0, (
        Err("syntax_error", ("syntax_missing_colon.py, line 16", "expected ':'", "Fix this line"), 16),)),
    Case("indentation_error.py", "load_error", 0, (
        Err("syntax_error", ("indentation_error.py, line 17", "expected an indented block", "Indent every line"),
            17),)),
    Case("deeply_nested.py", "load_error", 0, (Err("syntax_error", ("deeply_nested.py", "nested too deeply")),)),
    # ---- imports: the package is named, and the checks say why the class is missing ----
    Case("import_sklearn.py", "graded", 0, (
        Err("import_error", ("import_sklearn.py", "line 3", "the package `sklearn` is not available in the grader",
                             "Use only torch, numpy and the standard library"), 3),),
         {"builds": ("import_sklearn.py, line 6", "never defined", "Fix this first", "`sklearn`")}),
    Case("from_import_typo.py", "graded", 0, (
        Err("import_error", ("from_import_typo.py", "line 3", "`torch.nn` has no `Linaer`", "Check the spelling"),
            3),),
         {"builds": ("never defined", "line 3")}),
    # ---- names: missing, misspelled, outside their class, __init__ typos ----
    Case("no_class.py", "graded", 0, checks={"builds": ("does not define `MyLinear`", "Define `MyLinear`")}),
    Case("class_misspelled.py", "graded", 0,
         checks={"builds": ("does not define `MyLinear`", "Did you mean `MyLinaer` (class_misspelled.py, line 5)")}),
    # A function whose name is closer is not suggested where a class is wanted.
    Case("class_misspelled_beside_helper.py", "graded", 0,
         checks={"builds": ("does not define `MyLinear`", "Did you mean `MyLayer` (class_misspelled_beside_helper.py, "
                                                          "line 13)")}),
    Case("forward_misspelled.py", "graded", 4,
         checks={"forward[cpu]": ("no method `forward`", "Did you mean `froward` (forward_misspelled.py, line 16)")}),
    Case("forward_outside_class.py", "graded", 4,
         checks={"forward[cpu]": ("`forward` (forward_outside_class.py, line 17)", "outside class `MyLinear`",
                                  "Indent `def forward(self, ...)`")}),
    Case("init_outside_class.py", "graded", 0,
         checks={"builds": ("`__init__` (init_outside_class.py, line 9)", "Indent `def __init__(self, ...)`")}),
    Case("init_typo_dunder.py", "graded", 0,
         checks={"builds": ("`__init` (init_typo_dunder.py, line 6)", "Rename it to `__init__`")}),
    Case("init_typo_int.py", "graded", 0,
         checks={"builds": ("`__int__` (init_typo_int.py, line 6)", "Rename it to `__init__`")}),
    Case("class_inside_main_guard.py", "graded", 0,
         checks={"builds": ("at the top level", "class_inside_main_guard.py, line 6", "Move it to the top level")}),
    Case("base_class_typo.py", "graded", 0, (
        Err("runtime_error", ("base_class_typo.py", "has no attribute 'Modul'", "line 5"), 5),),
         {"builds": ("base_class_typo.py, line 5", "never defined", "Fix this first")}),
    # ---- wrong signatures: the student's def line, not the grader's call ----
    Case("init_without_out_features.py", "graded", 0,
         checks={"builds": ("MyLinear.__init__() takes 2 positional arguments but 3 were given",
                            "init_without_out_features.py, line 6", "def __init__(self, in_features):",
                            "Compare your `def` line with the signature in the statement")}),
    Case("forward_without_x.py", "graded", 4,
         checks={"forward[cpu]": ("MyLinear.forward() takes 1 positional argument but 2 were given",
                                  "forward_without_x.py, line 16", "def forward(self):",
                                  "Python could not call your `forward`")}),
    # ---- exceptions: the student's line and code ----
    Case("raises_in_init.py", "graded", 0,
         checks={"builds": ("RuntimeError", "raises_in_init.py, line 9",
                            "self.scale = torch.ones(in_features) / torch.ones(out_features)")}),
    Case("raises_at_top_level.py", "graded", FULL, (
        Err("runtime_error", ("raises_at_top_level.py", "mat1 and mat2 shapes cannot be multiplied", "at line 17",
                              "raises_at_top_level.py, line 24", "print(layer(torch.randn(3, 2)))",
                              'if __name__ == "__main__":'), 17),)),
    # ---- bytes that are not UTF-8 Python ----
    Case("empty.py", "load_error", 0, (Err("empty_file", ("empty.py is empty", "save")),)),
    Case("utf16.py", "load_error", 0, (Err("encoding_error", ("utf16.py", "UTF-16", "UTF-8")),)),
    Case("latin1.py", "load_error", 0, (
        Err("encoding_error", ("latin1.py is not UTF-8", "line 3", "bung 3: lineare Schicht", "Save the file with "
                               "UTF-8"), 3),)),
    Case("nul_byte.py", "load_error", 0, (Err("encoding_error", ("nul_byte.py, line 3", "NUL character"), 3),)),
    Case("cp949_declared.py", "graded", FULL, ()),
    Case("declared_wrongly.py", "load_error", 0, (
        Err("encoding_error", ("declared_wrongly.py declares its encoding as ascii", "line 4", "UTF-8"), 4),)),
    # ---- files that are not notebooks ----
    Case("python_as_notebook.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("python_as_notebook.ipynb", "holds Python code", "ends in .py")),)),
    Case("nb_not_json.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_not_json.ipynb", NOT_A_NOTEBOOK, "not valid JSON", RESAVE)),)),
    Case("nb_truncated.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_truncated.ipynb", NOT_A_NOTEBOOK, "cut short", RESAVE)),)),
    Case("nb_json_list.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_json_list.ipynb", "holds a list", "did you submit the right file")),)),
    Case("nb_json_object.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_json_object.ipynb", "no `nbformat` version number")),)),
    # ---- notebook format versions ----
    Case("nb_version_5.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_version_5.ipynb", "version 5 notebook", "versions 1 to 4", RESAVE)),)),
    Case("nb_version_99.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_version_99.ipynb", "version 99 notebook", RESAVE)),)),
    Case("nb_version_text.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_version_text.ipynb", 'version is "4", not a whole number')),)),
    Case("nb_version_3_bogus_minor.ipynb", "load_error", 0, (
        Err("malformed_notebook", ("nb_version_3_bogus_minor.ipynb", "old version 3 notebook", RESAVE)),)),
    Case("nb_version_4_minor_99.ipynb", "graded", FULL),  # a newer minor version of format 4 reads the same
    Case("nb_version_3.ipynb", "graded", FULL),  # converted like Jupyter converts it
    # ---- notebook contents ----
    Case("nb_magics.ipynb", "graded", FULL, (
        Err("skipped_magic", ("nb_magics.ipynb [cell 2], line 1", "`%matplotlib inline` is IPython"), 1, 2),
        Err("skipped_magic", ("nb_magics.ipynb [cell 3], line 1", "`!pip install d2l`",
                              "cannot install packages"), 1, 3),
        Err("skipped_magic", ("nb_magics.ipynb [cell 5], line 1", "`%%bash`", "the whole cell was not run"), 1, 5),
        Err("skipped_magic", ("nb_magics.ipynb [cell 6], line 1", "`files = !ls`"), 1, 6),
    )),
    Case("nb_only_magics.ipynb", "load_error", 0, (
        Err("empty_file", ("nb_only_magics.ipynb", "no Python code", "shell commands")),)),
    Case("nb_no_code.ipynb", "load_error", 0, (Err("empty_file", ("nb_no_code.ipynb has no code cells",)),)),
    Case("nb_syntax_error_scratch.ipynb", "graded", FULL, (
        Err("syntax_error", ("nb_syntax_error_scratch.ipynb [cell 4]", "line 1", "was never closed",
                             "This cell was skipped"), 1, 4),)),
    Case("nb_syntax_error_class.ipynb", "graded", 0, (
        Err("syntax_error", ("nb_syntax_error_class.ipynb [cell 3]", f"line {CLASS_FORWARD_LINE}"),
            CLASS_FORWARD_LINE, 3),),
         {"builds": ("nb_syntax_error_class.ipynb [cell 3], line 1", "never defined", "Fix this first")}),
    Case("nb_import_error.ipynb", "graded", FULL, (
        Err("import_error", ("nb_import_error.ipynb [cell 3]", "line 1", "`sklearn` is not available"), 1, 3),)),
    Case("nb_raises.ipynb", "graded", FULL, (
        Err("runtime_error", ("nb_raises.ipynb [cell 4]", "at line 2", "(in nb_raises.ipynb [cell 3], line",
                              "what the other cells define is still graded"), 2, 4),)),
    Case("nb_nul_cell.ipynb", "graded", FULL, (
        Err("malformed_cell", ("nb_nul_cell.ipynb [cell 4]", "NUL character", "Retype the cell"), None, 4),)),
    Case("nb_deeply_nested_cell.ipynb", "graded", FULL, (  # the compiler's MemoryError is this cell's problem only
        Err("syntax_error", ("nb_deeply_nested_cell.ipynb [cell 4]", "nested too deeply", "skipped"), None, 4),)),
]

#: Words that mean the message shows the grader's internals rather than the student's code.
INTERNALS = ("site-packages", "/grader/", "grader/sandbox", "Traceback (most recent call last)", str(ROOT))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case graded in one `grader grade` run: submission id -> results document."""
    folder = tmp_path_factory.mktemp("generated")
    for name, data in GENERATED.items():
        (folder / name).write_bytes(data)
    out = tmp_path_factory.mktemp("results")
    run = run_grader("grade", "my_linear", BAD, folder, "--out", out, "--device", "cpu", "--seed", "7",
                     "--jobs", "2", timeout=600, env={"CUDA_VISIBLE_DEVICES": ""})
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json") if p.stem not in ("summary",)}


def test_every_case_is_listed() -> None:
    on_disk = {p.name for p in BAD.iterdir()}
    assert on_disk | set(GENERATED) == {c.file for c in CASES}
    assert not on_disk & set(GENERATED)


def _entry_problems(expected: Err, entry: dict[str, Any]) -> list[str]:
    problems = [f"{text!r} missing" for text in expected.says if text not in entry["message"]]
    if entry["line"] != expected.line:
        problems.append(f"line {entry['line']}, expected {expected.line}")
    if entry.get("cell") != expected.cell:
        problems.append(f"cell {entry.get('cell')}, expected {expected.cell}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_bad_input(case: Case, graded: dict[str, dict[str, Any]], schema: dict) -> None:
    doc = graded[Path(case.file).stem]
    jsonschema.validate(doc, schema)
    assert doc["submission"]["kind"] == Path(case.file).suffix.lstrip(".")
    assert (doc["status"], doc["score"], doc["max_score"]) == (case.status, case.score, FULL), doc["errors"]
    if case.status != "graded":  # nothing ran: every check says why, in the words of the first problem
        assert {c["status"] for c in doc["checks"]} == {"skipped"}
        first = doc["errors"][0]["message"].splitlines()[0]
        assert all(c["message"] == f"Not run: {first}" for c in doc["checks"])
    assert len(doc["errors"]) == len(case.errors), doc["errors"]
    for expected in case.errors:
        candidates = [e for e in doc["errors"] if e["kind"] == expected.kind]
        assert candidates, f"no {expected.kind} entry in {doc['errors']}"
        reports = [_entry_problems(expected, entry) for entry in candidates]
        assert any(not r for r in reports), f"{expected}:\n{reports}\n{candidates}"
    for check_id, texts in case.checks.items():
        entry = check_by_id(doc, check_id)
        assert check_id in failed_ids(doc)
        said = entry["message"] + "\n" + (entry["hint"] or "")
        for text in texts:
            assert text in said, f"{check_id}: {text!r} missing from:\n{said}"


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_messages_name_the_file_and_hide_the_grader(case: Case, graded: dict[str, dict[str, Any]]) -> None:
    """Every error names the file (and its cell and line); no message shows the grader's own files."""
    doc = graded[Path(case.file).stem]
    for entry in doc["errors"]:
        assert entry["message"].startswith(case.file), entry
        if entry.get("cell") is not None:
            assert f"{case.file} [cell {entry['cell']}]" in entry["message"], entry
        if entry["line"] is not None:
            assert f"line {entry['line']}" in entry["message"], entry
    texts = [e["message"] for e in doc["errors"]] + [c["message"] + (c["hint"] or "") for c in doc["checks"]]
    for text in texts:
        assert not any(word in text for word in INTERNALS), text
        assert text.strip() and all(ch.isprintable() or ch == "\n" for ch in text), repr(text)
    for c in doc["checks"]:
        if c["message"].startswith("Your code raised"):  # blamed code is shown where it is
            assert f"{case.file}, line " in c["message"] or f"{case.file} [cell " in c["message"], c["message"]


def test_text_report_shows_a_multi_line_problem_as_one_item() -> None:
    run = run_grader("check", "my_linear", BAD / "raises_at_top_level.py", "--device", "cpu", "--seed", "7")
    assert run.returncode == 0, run.stderr  # the definitions loaded before the demo code failed: full marks
    lines = run.stdout.splitlines()
    start = lines.index("Problems found while reading and loading your file:")
    item = lines[start + 1: lines.index("", start)]
    assert item[0].startswith("  - raises_at_top_level.py: RuntimeError: mat1 and mat2 shapes")
    assert item[1:] == [
        "      raises_at_top_level.py, line 24, in <module>",
        "        print(layer(torch.randn(3, 2)))",
        "      raises_at_top_level.py, line 17, in forward",
        "        out = x @ self.weights",
    ]
    assert "Score: 11/11 (full marks)" in run.stdout
