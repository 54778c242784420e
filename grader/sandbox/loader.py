"""Inside the sandbox: execute a submission's code cells into a fresh module.

A ``.py`` file is one cell; a notebook is one cell per code cell (magics and shell lines were already
removed by :mod:`grader.submission`). Each cell runs under a time budget; a cell that raises, exits or
runs out of time is recorded and skipped, and loading goes on with the next one, so a notebook whose
training cell fails still gets its class definitions graded.
"""

from __future__ import annotations

import inspect
import linecache
import re
import signal
import sys
import traceback
import types
from typing import Any

#: Per module name, the cells loaded into it and each problem that stopped one (cell, line, first line of the
#: message): :class:`grader.sandbox.student.Student` uses them to explain a name that loading never reached.
LOADED: dict[str, dict[str, Any]] = {}

# Python's words when it refuses to call a function with the arguments given (raised before any of its lines run).
_CALL_MISMATCH = re.compile(r"^([\w.]+)\(\) (?:takes|missing|got an unexpected keyword|got multiple values)")


class CellTimeout(BaseException):
    """Raised by the alarm when a cell runs past its budget (a BaseException so `except Exception` misses it)."""


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise CellTimeout()


def new_module(name: str, filename: str) -> types.ModuleType:
    """Create the module the submission's code runs in, registered as ``name`` in ``sys.modules``."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    return module


def student_frame(tb: types.TracebackType | None, filenames: set[str]) -> traceback.FrameSummary | None:
    """The innermost traceback frame that lies in the student's code, if any.

    When there is none because Python refused to call one of the student's functions (a wrong signature:
    ``MyLinear.__init__() missing 1 required positional argument``), the ``def`` line of that function.
    """
    frames = [f for f in traceback.extract_tb(tb) if f.filename in filenames]
    return frames[-1] if frames else _refused_call(tb, filenames)


def _refused_call(tb: types.TracebackType | None, filenames: set[str]) -> traceback.FrameSummary | None:
    exc = sys.exc_info()[1]  # called while the exception is handled; its message names the function
    match = _CALL_MISMATCH.match(str(exc)) if isinstance(exc, TypeError) and exc.__traceback__ is tb else None
    if not match:
        return None
    for name in LOADED:  # the student's module (one per sandbox)
        found: Any = sys.modules.get(name)
        for part in match.group(1).split("."):
            try:
                found = inspect.getattr_static(found, part)  # static: runs no student code
            except AttributeError:
                break
        code = getattr(found, "__code__", None)
        if isinstance(code, types.CodeType) and code.co_filename in filenames:
            line = linecache.getline(code.co_filename, code.co_firstlineno)
            return traceback.FrameSummary(code.co_filename, code.co_firstlineno, code.co_name, line=line)
    return None


def short_traceback(exc: BaseException, filenames: set[str], limit: int = 6) -> str:
    """A traceback of the student's own frames only: the grader's internals are noise to a student."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames][-limit:]
    lines = [f'  {f.filename}, line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}' for f in frames]
    text = "\n".join(lines)
    return text


def run_cells(module: types.ModuleType, cells: list[dict[str, Any]], cell_seconds: float) -> list[dict[str, Any]]:
    """Execute each cell in ``module``; return the problems met, each with its cell and line."""
    errors: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    LOADED[module.__name__] = {"cells": cells, "problems": problems}
    filenames = {cell["filename"] for cell in cells}
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for cell in cells:
            source, filename = cell["source"], cell["filename"]
            where = filename  # "my.py", or "my.ipynb [cell 3]"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            count = len(errors)
            try:
                code = compile(source, filename, "exec", dont_inherit=True)
            except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:  # the last three: NUL, deep nesting
                lineno = getattr(exc, "lineno", None)
                at = f" at line {lineno}" if lineno else ""
                what = getattr(exc, "msg", None) or "an expression is nested too deeply"
                errors.append(
                    {
                        "kind": "syntax_error",
                        "message": f"{where}: syntax error{at}: {what}. "
                        "This cell was skipped; fix the line and run the cell again.",
                        "line": lineno,
                        "cell": cell.get("cell"),
                    }
                )
                problems.append({**errors[-1], "filename": filename, "source": source})
                continue
            try:
                signal.setitimer(signal.ITIMER_REAL, cell_seconds)
                exec(code, vars(module))
            except CellTimeout:
                errors.append(
                    {
                        "kind": "cell_timeout",
                        "message": f"{where} was stopped after {cell_seconds:g} s and skipped: code that "
                        "trains or runs for long should not run when the file is imported. Keep only "
                        "definitions at the top level, or guard long runs with `if __name__ == '__main__':`.",
                        "line": None,
                        "cell": cell.get("cell"),
                    }
                )
            except BaseException as exc:  # student code may raise anything, SystemExit included
                errors.append(_describe_load_error(exc, where, filenames, cell.get("cell")))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if len(errors) > count:
                problems.append({**errors[-1], "filename": filename, "source": source})
    finally:
        signal.signal(signal.SIGALRM, previous)
    return errors


def _describe_load_error(exc: BaseException, where: str, filenames: set[str], cell: int | None) -> dict[str, Any]:
    frame = student_frame(exc.__traceback__, filenames)
    # The line is this cell's own (a notebook cell may fail inside a function that another cell defines).
    here = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == where]
    line = here[-1].lineno if here else None
    at = f" at line {line}" if line else ""
    if frame is not None and frame.filename != where:
        at += f" (in {frame.filename}, line {frame.lineno})"
    if isinstance(exc, SystemExit):
        kind = "exit"
        message = (
            f"{where}: your code called sys.exit(){at}; what follows it was not run. "
            "Remove the call: graded code must not exit."
        )
    elif isinstance(exc, ModuleNotFoundError):
        kind = "import_error"
        package = exc.name or str(exc)
        message = (
            f"{where}: `import {package}` failed{at}: the package `{package}` is not available in the "
            "grader. Use only torch, numpy and the standard library (and put code of your own in this file)."
        )
    elif isinstance(exc, ImportError):
        kind = "import_error"
        message = f"{where}: an import failed{at}: {_import_problem(exc)}"
    else:
        kind = "runtime_error"
        text = str(exc) if len(str(exc)) <= 500 else str(exc)[:500] + " ..."
        if cell is not None:
            rest = "The rest of this cell was not run; what the other cells define is still graded."
        else:
            rest = ("The rest of the file was not run. Fix the error, or move code that tries out your work "
                    "under `if __name__ == \"__main__\":` so that it does not run when the grader loads your file.")
        message = f"{where}: {type(exc).__name__}: {text}{at}. {rest}"
    trace = short_traceback(exc, filenames)
    if trace and not isinstance(exc, SystemExit | ImportError):
        message += "\n" + trace
    return {"kind": kind, "message": message, "line": line, "cell": cell}


def _import_problem(exc: ImportError) -> str:
    """``from torch import Linearr`` in plain words (a name the module lacks), without the grader's paths."""
    name = re.match(r"cannot import name '(\w+)'", str(exc))
    if name and exc.name:
        return (f"`{exc.name}` has no `{name.group(1)}`, so `from {exc.name} import {name.group(1)}` fails. Check the "
                "spelling, the capital letters and the module you import it from.")
    return re.sub(r" \(/[^)]*\)", "", str(exc)).rstrip(".") + "."
