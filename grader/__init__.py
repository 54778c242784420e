"""A grading harness for PyTorch courses.

The pipeline, one module per stage: :mod:`grader.submission` reads a file, :mod:`grader.sandbox`
runs it in an isolated process (the only place student code runs), :mod:`grader.grading` and the
assignments' checks judge what came back, and :mod:`grader.results` / :mod:`grader.report` say it.

In a notebook, ``import grader; grader.check("my_linear")`` grades the notebook as it stands (see
:mod:`grader.notebook`); importing this package imports neither torch nor the grading pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The submodule that declares checks is also named `check`. It is imported first so that the import system has
# already bound `grader.check` to it; the function below then takes the name, and `from grader.check import
# CheckFailed` keeps working (it reads the submodule from sys.modules).
from grader import check as _check_declarations  # noqa: F401

if TYPE_CHECKING:
    import os

    from grader.notebook import Verdict

__version__ = "0.1.0"


def check(assignment: str | None = None, path: str | os.PathLike[str] | None = None, **options: Any) -> Verdict | None:
    """Grade the running notebook (or ``path``) for ``assignment`` and show the verdict, as ``grader check`` would.

    ``assignment`` defaults to the one the notebook is for. Options: ``seed``, ``device``, ``timeout``,
    ``memory``, ``show_output`` (those of ``grader check``). See :func:`grader.notebook.check`.
    """
    import sys

    # In the grader's own sandbox (a notebook's check cell, being graded) this does nothing: the sandbox cannot
    # see this package's files, and the cell must cost the graded notebook nothing.
    loader = sys.modules.get("grader.sandbox.loader")
    if getattr(loader, "LOADED", None) or sys.argv[:1] == ["grader-sandbox"]:
        return None
    from grader.notebook import check as check_notebook

    return check_notebook(assignment, path, **options)
