"""Student stubs, derived from the reference solutions (one source of truth).

In ``reference/<name>.py`` each part the student writes sits between ``# BEGIN SOLUTION`` and
``# END SOLUTION``; the stub replaces it with ``raise NotImplementedError``. The notebook stub carries
the statement as Markdown and the stub code as a code cell. ``grader validate`` fails when the committed
stubs differ from what this module generates; ``python -m grader.stubs`` rewrites them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, assignment_names, load_assignment

_BLOCK = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\n.*?^[ \t]*# END SOLUTION\n", re.S | re.M)


def stub_source(reference: str) -> str:
    """The stub text of a reference solution."""
    if "# BEGIN SOLUTION" not in reference:
        raise ValueError("the reference marks no solution block (# BEGIN SOLUTION ... # END SOLUTION)")

    def replace(match: re.Match[str]) -> str:
        indent = match.group("indent")
        return f'{indent}# TODO: write this part.\n{indent}raise NotImplementedError("write this part")\n'

    return _BLOCK.sub(replace, reference)


def stub_notebook(assignment: Assignment, source: str) -> str:
    """The notebook stub: the statement as Markdown, the code to complete, then a cell that checks it.

    Its metadata names the assignment (``{"grader": {"assignment": NAME}}``), so ``grader.check()`` needs no name.
    """
    statement = assignment.statement.read_text(encoding="utf-8")
    cells = [_cell("markdown", "statement", statement), _cell("code", "solution", source),
             _cell("markdown", "check", "Check your work: save the notebook, then run the cell below (or, from a "
                                        f"terminal, `grader check {assignment.name} {assignment.name}.ipynb`)."),
             # Inside the grader's sandbox this call does nothing, so the cell costs a graded notebook nothing.
             _cell("code", "check-your-work", f'import grader\n\ngrader.check("{assignment.name}")')]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                             "grader": {"assignment": assignment.name}}}
    # nbformat's own layout (nbformat.v4.nbjson.JSONWriter), without importing nbformat: it imports jsonschema,
    # which beside Jupyter (jsonschema[format-nongpl]) builds an IRI grammar at import, about 2 s of CPU.
    return json.dumps(notebook, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def _cell(kind: str, cell_id: str, text: str) -> dict[str, Any]:
    """An nbformat 4.5 cell as nbformat writes it: its source split into lines, a code cell with no outputs."""
    cell: dict[str, Any] = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": text.splitlines(True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def expected_stubs(assignment: Assignment) -> dict[Path, str]:
    """The stub files an assignment should have, with their generated content."""
    source = stub_source(assignment.reference.read_text(encoding="utf-8"))
    return {assignment.stub("py"): source, assignment.stub("ipynb"): stub_notebook(assignment, source)}


def stale_stubs(assignment: Assignment) -> dict[Path, str]:
    """Stub files that are missing or differ from what the reference generates, with their content."""
    return {
        path: text for path, text in expected_stubs(assignment).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    }


def write_stubs(names: list[str] | None = None) -> list[Path]:
    """Regenerate the stale stubs of ``names`` (default: all assignments); returns the files written."""
    written = []
    for name in names or assignment_names():
        for path, text in stale_stubs(load_assignment(name)).items():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_stubs(sys.argv[1:] or None):
        print(f"wrote {path}")
