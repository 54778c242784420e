"""Reading a submission, in the judge: bytes, hash, kind, and the code cells the sandbox will run.

Nothing here executes student code. A ``.py`` file becomes one cell after a syntax check; a notebook
becomes one cell per code cell, with IPython magics and ``!shell`` lines blanked out (they are not
Python, and they are not run) and recorded. Problems that make a file ungradable raise
:class:`Unloadable` with the status the results should carry (``rejected`` or ``load_error``).
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Largest accepted submission files: notebooks carry outputs, so they get more room.
MAX_BYTES = {"py": 2 << 20, "ipynb": 32 << 20}

#: Cell magics whose body is still Python and is run without the magic line.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}

_MAGIC_ASSIGN = re.compile(r"^(\s*[\w.,\s\[\]]+?\s*=\s*)[!%].*$")


class Unloadable(Exception):
    """The submission cannot be graded at all; ``status`` is ``rejected`` or ``load_error``."""

    def __init__(self, status: str, message: str, line: int | None = None, kind: str = "load_error") -> None:
        """Record the results status, a message for the student, and the line when there is one."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.line = line
        self.kind = kind


@dataclass
class Submission:
    """A submission file as read from disk, before any of it runs."""

    id: str
    path: Path
    kind: str
    data: bytes
    sha256: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    unreadable: str | None = None  # why the file could not be read (it then grades as ``rejected``)


def read_submission(path: Path, submission_id: str | None = None) -> Submission:
    """Read ``path``; a file that cannot be read (permissions, vanished, a folder) is kept as ``unreadable``."""
    unreadable = None
    try:
        data = path.read_bytes()
    except OSError as exc:
        data = b""
        unreadable = (f"{path.name} could not be read ({exc.strerror or type(exc).__name__}). Check that the "
                      "file exists and that the grader may read it, then grade it again.")
    suffix = path.suffix.lower().lstrip(".")
    return Submission(
        id=submission_id or path.stem,
        path=path,
        kind=suffix if suffix in MAX_BYTES else "py",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        unreadable=unreadable,
    )


def prepare(sub: Submission) -> None:
    """Turn the submission into code cells (``sub.cells``) and notices; raises :class:`Unloadable`."""
    suffix = sub.path.suffix.lower().lstrip(".")
    if sub.unreadable:
        raise Unloadable("rejected", sub.unreadable, kind="unreadable")
    if suffix not in MAX_BYTES:
        raise Unloadable(
            "rejected",
            f"{sub.path.name}: the grader accepts .py and .ipynb files, not .{suffix or '(no extension)'}. "
            "Submit your Python file or notebook.",
            kind="rejected",
        )
    if len(sub.data) > MAX_BYTES[suffix]:
        raise Unloadable(
            "rejected",
            f"{sub.path.name} is {len(sub.data) / (1 << 20):.1f} MiB; the limit for .{suffix} files is "
            f"{MAX_BYTES[suffix] >> 20} MiB. Clear the notebook's outputs or remove large data.",
            kind="rejected",
        )
    text = _decode(sub)
    if suffix == "py":
        _prepare_python(sub, text)
    else:
        _prepare_notebook(sub, text)


def _decode(sub: Submission) -> str:
    try:
        text = sub.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = sub.data[: exc.start].count(b"\n") + 1
        raise Unloadable(
            "load_error",
            f"{sub.path.name} is not UTF-8 text: byte {exc.start} (line {line}) cannot be decoded. "
            "Save the file with UTF-8 encoding (most editors: 'Save with encoding' > UTF-8).",
            line=line,
            kind="encoding_error",
        ) from None
    if not text.strip():
        raise Unloadable(
            "load_error",
            f"{sub.path.name} is empty. Did you save your work before submitting?",
            kind="empty_file",
        )
    return text.replace("\r\n", "\n")


def _prepare_python(sub: Submission, text: str) -> None:
    try:
        ast.parse(text, filename=sub.path.name)
    except SyntaxError as exc:
        code = (exc.text or "").rstrip("\n")
        pointer = ""
        if code and exc.offset:
            column = max(0, exc.offset - 1 - (len(code) - len(code.lstrip())))
            pointer = "\n    " + code.strip() + "\n    " + " " * column + "^"
        raise Unloadable(
            "load_error",
            f"{sub.path.name}, line {exc.lineno}: syntax error: {exc.msg}.{pointer}\n"
            "Python could not read the file, so nothing in it could be graded. Fix this line "
            "(and check the line above it for an unclosed bracket or quote).",
            line=exc.lineno,
            kind="syntax_error",
        ) from None
    sub.cells = [{"filename": sub.path.name, "source": text, "cell": None}]


def _prepare_notebook(sub: Submission, text: str) -> None:
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON and bad versions
        raise Unloadable(
            "load_error",
            f"{sub.path.name} is not a readable Jupyter notebook ({type(exc).__name__}: {str(exc)[:300]}). "
            "Open it in Jupyter and save it again, or submit a .py file.",
            kind="malformed_notebook",
        ) from None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise Unloadable("load_error", f"{sub.path.name} has no list of cells.", kind="malformed_notebook")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        if not isinstance(source, str):
            continue
        source = _strip_magics(source, number, sub.notices)
        if source is None or not source.strip():
            continue
        sub.cells.append({"filename": f"{sub.path.name} [cell {number}]", "source": source, "cell": number})
    if not sub.cells:
        raise Unloadable(
            "load_error", f"{sub.path.name} has no code cells. Did you save the notebook?", kind="empty_file"
        )


def _strip_magics(source: str, cell: int, notices: list[dict[str, Any]]) -> str | None:
    """Blank out IPython magics and shell lines (keeping line numbers), recording each one."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split()[0] if lines[first].strip()[2:] else ""
        if magic not in PYTHON_CELL_MAGICS:
            notices.append(_notice(cell, first + 1, f"cell magic `%%{magic}`: the whole cell was not run"))
            return None
        notices.append(_notice(cell, first + 1, f"`%%{magic}` line ignored; the cell's code was run"))
        lines[first] = ""
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("%", "!")):
            out.append(indent + "pass")
            notices.append(_notice(cell, number, f"`{stripped[:60]}` is IPython, not Python: not run"))
            continue
        match = _MAGIC_ASSIGN.match(line)
        if match and not stripped.startswith("#") and "!=" not in line:
            out.append(match.group(1) + "None")
            notices.append(_notice(cell, number, f"`{stripped[:60]}` is IPython, not Python: not run"))
            continue
        out.append(line)
    return "\n".join(out)


def _notice(cell: int, line: int, what: str) -> dict[str, Any]:
    return {"kind": "skipped_magic", "message": f"cell {cell}, line {line}: {what}.", "line": line, "cell": cell}
