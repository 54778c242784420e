"""Reading a submission, in the judge: bytes, hash, kind, and the code cells the sandbox will run.

Nothing here executes student code. A ``.py`` file becomes one cell after a syntax check; a notebook
becomes one cell per code cell, with IPython magics and ``!shell`` lines blanked out (they are not
Python, and they are not run) and recorded. Problems that make a file ungradable raise
:class:`Unloadable` with the status the results should carry (``rejected`` or ``load_error``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Largest accepted submission files: notebooks carry outputs, so they get more room.
MAX_BYTES = {"py": 2 << 20, "ipynb": 32 << 20}
#: The most bytes read of any submission file (one more tells that a file is over its limit).
READ_LIMIT = max(MAX_BYTES.values())

#: Cell magics whose body is still Python and is run without the magic line.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}

_MAGIC_ASSIGN = re.compile(r"^(\s*[\w.,\s\[\]]+?\s*=\s*)[!%].*$")

#: Notebook format versions nbformat can read (4 is what Jupyter, Colab and VS Code have saved since 2015).
NOTEBOOK_VERSIONS = (1, 2, 3, 4)

_RESAVE = "Open it in Jupyter (or Colab, or VS Code) and save it again, or submit your code as a .py file."
_INSTALLERS = ("!pip", "%pip", "!conda", "%conda", "!apt", "!sudo")


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
    unreadable_kind: str = "unreadable"
    name: str = ""  # the file's name; ``path``'s last part unless the submission came from elsewhere

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name


def read_submission(path: Path, submission_id: str | None = None, *, data: bytes | None = None,
                    name: str | None = None) -> Submission:
    """Read ``path`` (or take ``data``, already read from it); never follows a link.

    A file that cannot be read (a link, a hard link, a device or FIFO, permissions, vanished, a folder) is
    kept as ``unreadable``, with a message that names it and quotes nothing of what it points to.
    """
    from grader.intake.files import Refused, read_regular

    name = name or path.name
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    unreadable, unreadable_kind = None, "unreadable"
    if data is None:
        try:
            data = read_regular(path, READ_LIMIT, display=name)
        except Refused as exc:
            data, unreadable, unreadable_kind = b"", exc.message, exc.kind
        except OSError as exc:
            data = b""
            unreadable = (f"{name} could not be read ({exc.strerror or type(exc).__name__}). Check that the "
                          "file exists and that the grader may read it, then grade it again.")
    return Submission(
        id=submission_id or (name.rsplit(".", 1)[0] if "." in name else name),
        path=path,
        kind=suffix if suffix in MAX_BYTES else "py",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        unreadable=unreadable,
        unreadable_kind=unreadable_kind,
        name=name,
    )


def prepare(sub: Submission) -> None:
    """Turn the submission into code cells (``sub.cells``) and notices; raises :class:`Unloadable`."""
    suffix = sub.name.rsplit(".", 1)[-1].lower() if "." in sub.name else ""
    if sub.unreadable:
        raise Unloadable("rejected", sub.unreadable, kind=sub.unreadable_kind)
    if suffix not in MAX_BYTES:
        raise Unloadable(
            "rejected",
            f"{sub.name}: the grader accepts .py and .ipynb files, not .{suffix or '(no extension)'}. "
            "Submit your Python file or notebook.",
            kind="rejected",
        )
    if len(sub.data) > MAX_BYTES[suffix]:
        raise Unloadable(
            "rejected",
            f"{sub.name} is {'more than ' if len(sub.data) > READ_LIMIT else ''}"
            f"{len(sub.data) / (1 << 20):.1f} MiB; the limit for .{suffix} files is "
            f"{MAX_BYTES[suffix] >> 20} MiB. Clear the notebook's outputs or remove large data.",
            kind="rejected",
        )
    text = _decode(sub)
    if suffix == "py":
        _prepare_python(sub, text)
    else:
        _prepare_notebook(sub, text)


def _decode(sub: Submission) -> str:
    if sub.data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unloadable(
            "load_error",
            f"{sub.name} is saved as UTF-16 text (Notepad calls it 'Unicode'), which Python does not read. "
            "Save the file with UTF-8 encoding (most editors: 'Save with encoding' > UTF-8).",
            kind="encoding_error",
        )
    declared = _declared_encoding(sub) if sub.kind == "py" else None
    if declared is not None:  # PEP 263: Python reads such a file, so the grader does too
        try:
            text = sub.data.decode(declared)
        except (UnicodeDecodeError, LookupError) as exc:
            line = sub.data[: getattr(exc, "start", 0)].count(b"\n") + 1
            raise Unloadable(
                "load_error",
                f"{sub.name} declares its encoding as {declared} (a `coding:` line at the top), but line {line} is "
                f"not valid {declared} text, so Python could not read it either. Save the file with UTF-8 encoding "
                "and delete the `coding:` line.",
                line=line,
                kind="encoding_error",
            ) from None
        return _not_empty(sub, text)
    try:
        text = sub.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = sub.data[: exc.start].count(b"\n") + 1
        start = sub.data.rfind(b"\n", 0, exc.start) + 1
        end = sub.data.find(b"\n", exc.start)
        shown = _printable(sub.data[start: end if end >= 0 else None].decode("utf-8", "replace").strip(), 80)
        raise Unloadable(
            "load_error",
            f"{sub.name} is not UTF-8 text: byte {exc.start} (line {line}) cannot be decoded"
            + (f" (shown as \ufffd here):\n    {shown}\n" if shown else ". ")
            + "Save the file with UTF-8 encoding (most editors: 'Save with encoding' > UTF-8).",
            line=line,
            kind="encoding_error",
        ) from None
    return _not_empty(sub, text)


def _declared_encoding(sub: Submission) -> str | None:
    """The encoding a ``.py`` file declares (``# -*- coding: cp949 -*-``, PEP 263), when it is not UTF-8."""
    import codecs
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(sub.data).readline)
    except SyntaxError:  # a declaration of a codec Python does not know: reported as not UTF-8 below
        return None
    name = codecs.lookup(encoding).name
    return None if name in ("utf-8", "utf-8-sig") else encoding


def _not_empty(sub: Submission, text: str) -> str:
    if not text.strip():
        raise Unloadable(
            "load_error",
            f"{sub.name} is empty. Did you save your work before submitting?",
            kind="empty_file",
        )
    return text.replace("\r\n", "\n")


def _prepare_python(sub: Submission, text: str) -> None:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise Unloadable(
            "load_error",
            f"{sub.name}, line {line}: the file contains a NUL character (a zero byte), which Python cannot "
            "read: the file is damaged or not a text file. Delete that character (retype the line) and save the "
            "file as plain UTF-8 text.",
            line=line,
            kind="encoding_error",
        )
    try:
        with warnings.catch_warnings():  # SyntaxWarnings are the sandbox's to show, in its log
            warnings.simplefilter("ignore")
            ast.parse(text, filename=sub.name)
    except SyntaxError as exc:
        raise Unloadable("load_error", _syntax_message(sub.name, exc), line=exc.lineno,
                         kind="syntax_error") from None
    except (MemoryError, RecursionError, ValueError):  # the parser's own limits: absurdly deep nesting
        raise Unloadable(
            "load_error",
            f"{sub.name}: Python could not read the file: an expression is nested too deeply (too many "
            "brackets or operators inside each other). Split it into simpler statements.",
            kind="syntax_error",
        ) from None
    sub.cells = [{"filename": sub.name, "source": text, "cell": None}]


def _syntax_message(name: str, exc: SyntaxError) -> str:
    code = _printable((exc.text or "").rstrip("\n"), 200)
    pointer = ""
    if code.strip() and exc.offset:
        column = min(len(code.strip()), max(0, exc.offset - 1 - (len(code) - len(code.lstrip()))))
        pointer = "\n    " + code.strip() + "\n    " + " " * column + "^"
    where = f", line {exc.lineno}" if exc.lineno else ""
    if isinstance(exc, IndentationError):
        advice = ("Indent every line of a block by the same amount (4 spaces per level; do not mix tabs and "
                  "spaces), and indent the body of each `def`, `class`, `if` and `for`.")
    else:
        advice = "Fix this line (and check the line above it for an unclosed bracket or quote)."
    return (f"{name}{where}: syntax error: {_printable(str(exc.msg), 200)}.{pointer}\n"
            f"Python could not read the file, so nothing in it could be graded. {advice}")


def _prepare_notebook(sub: Submission, text: str) -> None:
    name = sub.name
    cells = _notebook_cells(name, text)
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str) or "\x00" in source:
            what = "contains a NUL character (a zero byte)" if isinstance(source, str) else "is not text"
            sub.notices.append({
                "kind": "malformed_cell",
                "message": f"{name} [cell {number}]: the cell's code {what}, so the cell was skipped. "
                           "Retype the cell, or open the notebook in Jupyter and save it again.",
                "line": None,
                "cell": number,
            })
            continue
        source = _strip_magics(source, name, number, sub.notices)
        if source is None or not source.strip():
            continue
        sub.cells.append({"filename": f"{name} [cell {number}]", "source": source, "cell": number})
    if not sub.cells:
        malformed = [n["message"] for n in sub.notices if n["kind"] == "malformed_cell"]
        if malformed:
            message = f"{name} has no code cell that the grader could read. {malformed[0]}"
        elif any(n["kind"] == "skipped_magic" for n in sub.notices):
            message = (f"{name} has no Python code to grade: its code cells hold only IPython magics (`%`) or shell "
                       "commands (`!`), which the grader does not run. Put your code in code cells.")
        else:
            message = f"{name} has no code cells. Did you save the notebook?"
        raise Unloadable("load_error", message, kind="empty_file")


def _notebook_cells(name: str, text: str) -> list[Any]:
    """The notebook's list of cells (version 4 layout); raises :class:`Unloadable` with plain words."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise _not_a_notebook(name, "it is nested too deeply to be a notebook") from None
    except json.JSONDecodeError as exc:
        if not text.lstrip().startswith(("{", "[")) and _is_python(text):
            why = "it holds Python code, not a notebook. Rename the file so that it ends in .py and submit it again"
        elif _cut_short(text, exc):
            why = ("the file ends in the middle of the notebook: it was cut short (truncated), perhaps by an "
                   "interrupted save, download or upload")
        else:
            why = f"it is not valid JSON ({exc.msg.lower()} at line {exc.lineno}, column {exc.colno})"
        raise _not_a_notebook(name, why) from None
    if not isinstance(data, dict):
        raise _not_a_notebook(name, f"it holds {_json_kind(data)}, where a notebook holds a JSON object with a "
                                    "list of cells (did you submit the right file?)")
    version = data.get("nbformat")
    if "nbformat" not in data:
        raise _not_a_notebook(name, "it has no `nbformat` version number, so it is not a Jupyter notebook "
                                    "(or it was damaged)")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _not_a_notebook(name, f"its `nbformat` version is {_printable(json.dumps(version), 40)}, "
                                    "not a whole number")
    if version not in NOTEBOOK_VERSIONS:
        raise _not_a_notebook(name, f"it says it is a version {version} notebook, and the grader reads versions "
                                    f"{NOTEBOOK_VERSIONS[0]} to {NOTEBOOK_VERSIONS[-1]} (what Jupyter, Colab and "
                                    "VS Code save)")
    if version < 4:
        import nbformat

        try:
            with warnings.catch_warnings():  # nbformat warns about what conversion fixes (missing cell ids)
                warnings.simplefilter("ignore")
                data = nbformat.reads(text, as_version=4)
        except Exception:  # nbformat raises many types (its own, and KeyError, TypeError...) for broken ones
            raise _not_a_notebook(name, f"it says it is an old version {version} notebook, but its content is not "
                                        f"laid out like one, so it could not be converted") from None
    cells = data.get("cells")
    if not isinstance(cells, list):
        found = "no list of cells" if cells is None else f"{_json_kind(cells)} where its list of cells should be"
        raise _not_a_notebook(name, f"it has {found}")
    return cells


def _not_a_notebook(name: str, why: str) -> Unloadable:
    return Unloadable("load_error", f"{name} is not a readable Jupyter notebook: {why}. {_RESAVE}",
                      kind="malformed_notebook")


def _cut_short(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether the JSON parser ran out of ``text``: the file was truncated, not mistyped."""
    return exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")


def _is_python(text: str) -> bool:
    """Whether ``text`` is Python code with an import, a function or a class (a .py file renamed .ipynb)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, MemoryError, RecursionError, ValueError):
        return False
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return any(isinstance(node, kinds) for node in tree.body)


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "true or false", int: "a number",
             float: "a number", type(None): "null"}
    return kinds.get(type(value), "a value")


def _printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, control characters (other than newlines) shown as escapes."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _strip_magics(source: str, name: str, cell: int, notices: list[dict[str, Any]]) -> str | None:
    """Blank out IPython magics and shell lines (keeping line numbers), recording each one."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split()[0] if lines[first].strip()[2:] else ""
        shown = _printable(magic, 60)  # the student's text: a control character is shown as its escape
        if magic not in PYTHON_CELL_MAGICS:
            notices.append(_notice(name, cell, first + 1, f"cell magic `%%{shown}`: the whole cell was not run "
                                   "(the grader runs only Python)"))
            return None
        notices.append(_notice(name, cell, first + 1, f"`%%{shown}` line ignored; the cell's code was run"))
        lines[first] = ""
    out, python = [], False
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("%", "!")):
            out.append(indent + "pass")
            notices.append(_notice(name, cell, number, _not_python(stripped)))
            continue
        match = _MAGIC_ASSIGN.match(line)
        if match and not stripped.startswith("#") and "!=" not in line:
            out.append(match.group(1) + "None")
            notices.append(_notice(name, cell, number, _not_python(stripped)))
            continue
        out.append(line)
        python = python or (bool(stripped) and not stripped.startswith("#"))
    return "\n".join(out) if python else None  # a cell of magics only has nothing to run


def _not_python(line: str) -> str:
    shown = f"`{_printable(line[:60], 80)}` is IPython, not Python: not run"
    if line.split("=")[-1].lstrip().startswith(_INSTALLERS):
        return shown + " (the grader cannot install packages: use only torch, numpy and the standard library)"
    return shown + " (fine if your graded code does not depend on it)"


def _notice(name: str, cell: int, line: int, what: str) -> dict[str, Any]:
    return {"kind": "skipped_magic", "message": f"{name} [cell {cell}], line {line}: {what}.", "line": line,
            "cell": cell}
