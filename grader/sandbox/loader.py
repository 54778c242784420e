"""Inside the sandbox: execute a submission's code cells into a fresh module.

A ``.py`` file is one cell; a notebook is one cell per code cell (magics and shell lines were already
removed by :mod:`grader.submission`). Each cell runs under a time budget; a cell that raises, exits or
runs out of time is recorded and skipped, and loading goes on with the next one, so a notebook whose
training cell fails still gets its class definitions graded.
"""

from __future__ import annotations

import linecache
import signal
import sys
import traceback
import types
from typing import Any


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
    """The innermost traceback frame that lies in the student's code, if any."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename in filenames]
    return frames[-1] if frames else None


def short_traceback(exc: BaseException, filenames: set[str], limit: int = 6) -> str:
    """A traceback of the student's own frames only: the grader's internals are noise to a student."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in filenames][-limit:]
    lines = [f'  {f.filename}, line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}' for f in frames]
    text = "\n".join(lines)
    return text


def run_cells(module: types.ModuleType, cells: list[dict[str, Any]], cell_seconds: float) -> list[dict[str, Any]]:
    """Execute each cell in ``module``; return the problems met, each with its cell and line."""
    errors: list[dict[str, Any]] = []
    filenames = {cell["filename"] for cell in cells}
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for cell in cells:
            source, filename = cell["source"], cell["filename"]
            where = f"cell {cell['cell']}" if cell.get("cell") is not None else filename
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                code = compile(source, filename, "exec", dont_inherit=True)
            except SyntaxError as exc:
                errors.append(
                    {
                        "kind": "syntax_error",
                        "message": f"{where}: syntax error at line {exc.lineno}: {exc.msg}. "
                        "This cell was skipped; fix the line and run the cell again.",
                        "line": exc.lineno,
                        "cell": cell.get("cell"),
                    }
                )
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
    finally:
        signal.signal(signal.SIGALRM, previous)
    return errors


def _describe_load_error(exc: BaseException, where: str, filenames: set[str], cell: int | None) -> dict[str, Any]:
    frame = student_frame(exc.__traceback__, filenames)
    line = frame.lineno if frame else None
    at = f" at line {line}" if line else ""
    if isinstance(exc, SystemExit):
        kind = "exit"
        message = (
            f"{where}: your code called sys.exit(){at}; what follows it was not run. "
            "Remove the call: graded code must not exit."
        )
    elif isinstance(exc, ModuleNotFoundError):
        kind = "import_error"
        message = (
            f"{where}: `import {exc.name}` failed{at}: the package `{exc.name}` is not available to the "
            "grader. Use only torch, numpy and the standard library."
        )
    elif isinstance(exc, ImportError):
        kind = "import_error"
        message = f"{where}: an import failed{at}: {exc}."
    else:
        kind = "runtime_error"
        rest = "this cell" if cell is not None else "the file"
        message = f"{where}: {type(exc).__name__}: {exc}{at}. The rest of {rest} was not run."
    trace = short_traceback(exc, filenames)
    if trace and not isinstance(exc, SystemExit | ImportError):
        message += "\n" + trace
    return {"kind": kind, "message": message, "line": line, "cell": cell}
