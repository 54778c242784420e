"""Student stubs, derived from the reference solutions (one source of truth).

In ``reference/<name>.py`` each part the student writes sits between ``# BEGIN SOLUTION`` and
``# END SOLUTION``; the stub replaces it with ``raise NotImplementedError``. The notebook stub carries
the statement as Markdown and the stub code as a code cell. ``grader validate`` fails when the committed
stubs differ from what this module generates; ``python -m grader.stubs`` rewrites them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

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
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    statement = assignment.statement.read_text(encoding="utf-8")
    cells = [new_markdown_cell(statement, id="statement"), new_code_cell(source, id="solution")]
    cells.append(
        new_markdown_cell(
            "Check your work: save the notebook, then run the cell below (or, from a terminal, "
            f"`grader check {assignment.name} {assignment.name}.ipynb`).",
            id="check",
        )
    )
    # Inside the grader's sandbox this call does nothing, so the cell costs a graded notebook nothing.
    cells.append(new_code_cell(f'import grader\n\ngrader.check("{assignment.name}")', id="check-your-work"))
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                   "language": "python"},
                                                    "grader": {"assignment": assignment.name}})
    return str(nbformat.writes(notebook)) + "\n"


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
