"""``grader.check("my_linear")`` from inside a running notebook (Jupyter, VS Code, Colab).

It grades the notebook as it stands, with the same sandbox and checks as ``grader check``:

- the saved file, when this kernel's notebook can be found: ``__vsc_ipynb_file__`` (VS Code),
  ``JPY_SESSION_NAME`` / ``__session__`` (Jupyter Server 2), the kernel's connection file matched against a
  running Jupyter server's sessions, or Colab's live notebook;
- else the cells this kernel has executed, in order (IPython's input history).

It says which of the two it graded, and warns when the kernel ran code that the saved file does not hold
(the notebook was not saved since). The verdict comes from the warm check server (:mod:`grader.server`),
started by the first check of the session; torch is never imported into the student's kernel by this module.
The result is a :class:`Verdict`, shown as HTML in the notebook and as ``grader check``'s text elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.report import HIDDEN_NOTE, MARKS, STATUS_WORDS, format_points, hides_details

#: The file name given to a kernel's executed cells when they are graded (cell N is ``In [N]``).
HISTORY_NAME = "executed_cells.ipynb"
#: The notebook metadata key of the stubs' marker: ``{"grader": {"assignment": "my_linear"}}``.
METADATA_KEY = "grader"

if TYPE_CHECKING:
    from grader.server import CheckRequest

_COLOURS = {"passed": "#17692e", "failed": "#b42318", "error": "#b42318", "timeout": "#b42318", "skipped": "#6b6b6b"}


class NotebookNotFound(Exception):
    """Nothing to grade: no notebook file, no history (not in a kernel)."""


@dataclass
class Source:
    """What is graded: a saved notebook file, or a notebook built from the kernel's executed cells."""

    kind: str  # "file" | "history" | "colab"
    path: Path  # the file; for history and Colab, the name the cells are graded under
    how: str  # how the notebook was found, in words
    data: bytes | None = None  # the notebook's bytes when they are not read from ``path``
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One sentence for the student: what was graded."""
        if self.kind == "file":
            return f"Graded the saved file {self.path} ({self.how})."
        if self.kind == "colab":
            return f"Graded the notebook {self.path.name} as Colab holds it now."
        return (f"Graded the cells this kernel ran, in the order they ran ({self.how}); "
                f"the notebook file itself could not be found. Cell N below is In [N].")


# ---- finding the notebook -----------------------------------------------------------------------------------


def in_sandbox() -> bool:
    """Whether this code runs inside a grading sandbox (a notebook's own check cell, being graded)."""
    loader = sys.modules.get("grader.sandbox.loader")
    return bool(getattr(loader, "LOADED", None)) or sys.argv[:1] == ["grader-sandbox"]


def _ipython() -> Any:
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return None
    try:
        return ipython_module.get_ipython()
    except Exception:
        return None


def locate(ip: Any, path: str | os.PathLike[str] | None = None) -> Source:
    """Find what to grade in the kernel ``ip`` (an IPython shell, or None): see the module's docstring."""
    if path is not None:
        return _file_source(Path(path), "the file you named")
    user_ns: dict[str, Any] = getattr(ip, "user_ns", None) or {}
    vscode = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and Path(vscode).is_file():
        return _file_source(Path(vscode), "found through VS Code")
    for session in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__session__")):
        if isinstance(session, str) and session.endswith(".ipynb"):
            candidate = Path(session) if os.path.isabs(session) else Path.cwd() / session
            if candidate.is_file():
                return _file_source(candidate, "found through Jupyter's session")
    served = _from_jupyter_server()
    if served is not None:
        return _file_source(served, "found through the Jupyter server")
    colab = _from_colab(ip)
    if colab is not None:
        return colab
    if ip is not None and getattr(ip, "history_manager", None) is not None:
        return _history_source(ip)
    raise NotebookNotFound(
        "there is no notebook to grade here: run it inside a Jupyter, VS Code or Colab notebook, or name the "
        "file: grader.check(\"my_linear\", \"my_linear.ipynb\")."
    )


def _file_source(path: Path, how: str) -> Source:
    with contextlib.suppress(ValueError):  # quoted as `grader check` in this folder would quote it
        path = path.resolve().relative_to(Path.cwd().resolve())
    source = Source(kind="file", path=path, how=how)
    try:
        notebook = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return source  # the grader says what is wrong with it
    if isinstance(notebook, dict):
        metadata = notebook.get("metadata")
        source.metadata = metadata if isinstance(metadata, dict) else {}
        source.warnings.extend(_unsaved_cells(notebook))
    return source


def _unsaved_cells(notebook: dict[str, Any]) -> list[str]:
    """A warning when this kernel ran code that the saved notebook does not hold (it was not saved since)."""
    ip = _ipython()
    history = _executed_cells(ip) if ip is not None else []
    saved = set()
    for cell in notebook.get("cells") or []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            text = cell.get("source", "")
            saved.add(("".join(text) if isinstance(text, list) else str(text)).strip())
    unsaved = [n for n, text in enumerate(history, start=1)
               if text.strip() and text.strip() not in saved and not _is_check_call(text)]
    if not unsaved:
        return []
    cells = ", ".join(f"In [{n}]" for n in unsaved[:3]) + (" and more" if len(unsaved) > 3 else "")
    return [f"This kernel ran code that is not in the saved file ({cells}): the grader graded the file as it was "
            "last saved. Save the notebook (Ctrl+S, or Cmd+S on a Mac) and check again."]


def _is_check_call(text: str) -> bool:
    return bool(re.search(r"\bgrader\s*\.\s*check\s*\(", text))


def _executed_cells(ip: Any) -> list[str]:
    """The raw source of every cell this kernel ran, in order (In [1], In [2], ...)."""
    manager = getattr(ip, "history_manager", None)
    raw = list(getattr(manager, "input_hist_raw", None) or [])
    return [str(text) for text in raw[1:]]


def _history_source(ip: Any) -> Source:
    cells = _executed_cells(ip)
    notebook = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        # A cell that calls grader.check is the check itself, not the work: it is left empty (numbers stay In [N]).
        "cells": [{"cell_type": "code", "id": f"in-{n}", "metadata": {}, "execution_count": n, "outputs": [],
                   "source": "" if _is_check_call(text) else text} for n, text in enumerate(cells, start=1)],
    }
    how = f"In [1] to In [{len(cells)}]" if cells else "none yet"
    return Source(kind="history", path=Path(HISTORY_NAME), how=how, data=json.dumps(notebook).encode())


def _from_jupyter_server() -> Path | None:
    """The notebook of this kernel: asked of the running Jupyter servers (``/api/sessions``), by kernel id."""
    kernel_id = _kernel_id()
    if kernel_id is None:
        return None
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime = Path(jupyter_runtime_dir())
    except Exception:
        return None
    for info_file in sorted(runtime.glob("jpserver-*.json")) + sorted(runtime.glob("nbserver-*.json")):
        try:
            info = json.loads(info_file.read_text())
            url = str(info["url"]).rstrip("/") + "/api/sessions"
            if urllib.parse.urlparse(url).hostname not in ("localhost", "127.0.0.1", "::1"):
                continue  # only servers on this machine: the token must not travel
            request = urllib.request.Request(url, headers={"Authorization": f"token {info.get('token', '')}"})
            with urllib.request.urlopen(request, timeout=2) as reply:
                sessions = json.loads(reply.read())
            root = Path(info.get("root_dir") or info.get("notebook_dir") or ".")
        except Exception:
            continue
        for session in sessions if isinstance(sessions, list) else []:
            if (session.get("kernel") or {}).get("id") == kernel_id and session.get("path"):
                candidate = root / str(session["path"])
                if candidate.is_file():
                    return candidate
    return None


def _kernel_id() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:
        return None
    match = re.fullmatch(r"kernel-(.+)\.json", name)
    return match.group(1) if match else None


def _from_colab(ip: Any) -> Source | None:
    if "google.colab" not in str(type(ip)):
        return None
    try:
        from google.colab import _message  # type: ignore[import-not-found]

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=10)
        notebook = reply["ipynb"]
    except Exception:
        return None
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    name = str(((metadata or {}).get("colab") or {}).get("name") or "notebook.ipynb")
    return Source(kind="colab", path=Path(Path(name).name), how="Colab", data=json.dumps(notebook).encode(),
                  metadata=metadata or {})


def assignment_for(source: Source, known: list[str]) -> str | None:
    """The assignment a notebook is for: the stubs' metadata marker, else its file name."""
    marker = source.metadata.get(METADATA_KEY)
    if isinstance(marker, dict) and marker.get("assignment") in known:
        return str(marker["assignment"])
    if source.kind == "history":
        return None
    stem = source.path.stem.lower()
    if stem in known:
        return stem
    inside = [name for name in known if name in stem]  # "Copy of my_linear (1)", "my_linear-alice"
    return max(inside, key=len) if inside else None


# ---- the verdict --------------------------------------------------------------------------------------------


class Verdict:
    """The result of ``grader.check``: shown as HTML in a notebook, as ``grader check``'s report as text."""

    def __init__(self, document: dict[str, Any] | None, text: str, *, source: Source | None = None,
                 problem: str | None = None) -> None:
        """``document`` is the results document (None when nothing could be graded, with ``problem`` saying why)."""
        self.document = document
        self.text = text
        self.source = source
        self.problem = problem

    @property
    def score(self) -> float | None:
        """Points earned (None when nothing was graded)."""
        return None if self.document is None else float(self.document["score"])

    @property
    def max_score(self) -> float | None:
        """Points available (None when nothing was graded)."""
        return None if self.document is None else float(self.document["max_score"])

    @property
    def full_marks(self) -> bool:
        """Whether every point was earned."""
        doc = self.document
        return doc is not None and doc["status"] == "graded" and doc["score"] >= doc["max_score"]

    def _preamble(self) -> list[str]:
        lines = []
        if self.source is not None:
            lines.append(self.source.describe())
            lines.extend(f"Warning: {w}" for w in self.source.warnings)
        return lines

    def __str__(self) -> str:
        """The plain-text verdict: what was graded, then ``grader check``'s report."""
        if self.problem is not None:
            return f"grader.check: {self.problem}\n"
        preamble = self._preamble()
        return ("\n".join(preamble) + "\n\n" if preamble else "") + self.text

    def __repr__(self) -> str:
        """The same as ``str``: a terminal or a plain-text output shows the report."""
        return str(self).rstrip("\n")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        """The verdict as HTML; every string from the submission or a check is escaped."""
        box = "font-family: system-ui, sans-serif; line-height: 1.4; max-width: 60em"
        if self.problem is not None or self.document is None:
            return (f'<div style="{box}"><p style="color: #b42318"><strong>grader.check:</strong> '
                    f"{escape(self.problem or 'nothing was graded')}</p></div>")
        doc = self.document
        score, max_score = float(doc["score"]), float(doc["max_score"])
        verdict = "full marks" if self.full_marks else "not full marks yet"
        colour = _COLOURS["passed"] if self.full_marks else _COLOURS["failed"]
        status = str(doc.get("status", ""))
        parts = [f'<div class="grader-verdict" style="{box}">',
                 f"<p><strong>{escape(str(doc.get('assignment', '')))}</strong>: "
                 f"{escape(str(doc['submission'].get('path', '')))} {escape(STATUS_WORDS.get(status, status))}. "
                 f'<strong style="color: {colour}">Score: {escape(format_points(score))}/'
                 f"{escape(format_points(max_score))} ({verdict})</strong></p>"]
        if self.source is not None:
            parts.append(f'<p style="color: #555">{escape(self.source.describe())}</p>')
            parts.extend(f'<p style="background: #fff4e5; padding: 0.4em 0.6em"><strong>Warning:</strong> '
                         f"{escape(w)}</p>" for w in self.source.warnings)
        if doc.get("errors"):
            parts.append("<p>Problems found while reading and loading your notebook:</p><ul>")
            parts.extend(f'<li><pre style="white-space: pre-wrap; margin: 0">{escape(str(e.get("message", "")))}'
                         "</pre></li>" for e in doc["errors"])
            parts.append("</ul>")
        parts.extend(f"<p>Note: {escape(str(note))}</p>" for note in doc.get("notes") or [])
        parts.append('<table style="border-collapse: collapse; text-align: left">')
        parts.append("<tr><th>check</th><th>points</th><th>what it checks</th></tr>")
        for entry in doc.get("checks") or []:
            parts.append(_check_row(entry))
        parts.append("</table></div>")
        return "\n".join(parts)


def _check_row(entry: dict[str, Any]) -> str:
    status = str(entry.get("status", ""))
    colour = _COLOURS.get(status, "#6b6b6b")
    cell = 'style="padding: 0.2em 0.6em; vertical-align: top; border-top: 1px solid #ddd"'
    points = f"{format_points(float(entry['score']))}/{format_points(float(entry['max_score']))}"
    row = (f'<tr class="grader-check {escape(status)}"><td {cell}><strong style="color: {colour}">'
           f"{escape(MARKS.get(status, status))}</strong> {escape(str(entry.get('id', '')))}</td>"
           f"<td {cell}>{escape(points)}</td><td {cell}>{escape(str(entry.get('name', '')))}")
    if status != "passed":
        if hides_details(bool(entry.get("hidden")), status):
            row += f'<div style="color: #555">{escape(HIDDEN_NOTE)}</div>'
        else:
            if entry.get("message"):
                row += (f'<pre style="white-space: pre-wrap; margin: 0.3em 0">{escape(str(entry["message"]))}'
                        "</pre>")
            if entry.get("hint"):
                hint = escape(str(entry["hint"]))
                row += f'<div style="background: #eef5ff; padding: 0.3em 0.5em">Hint: {hint}</div>'
    return row + "</td></tr>"


# ---- the entry point --------------------------------------------------------------------------------------------


def check(assignment: str | None = None, path: str | os.PathLike[str] | None = None, *, seed: int | None = None,
          device: str = "auto", timeout: float | None = None, memory: int | None = None,
          show_output: bool = False) -> Verdict | None:
    """Grade this notebook (or ``path``) for ``assignment`` and return the :class:`Verdict` to show.

    ``assignment`` defaults to the one the notebook is for (its metadata marker, or its file name). The
    other options are those of ``grader check``. The first call of a session starts the check server
    (a few seconds); later calls reuse it. Inside the grader's own sandbox (the notebook being graded)
    this does nothing and returns None.
    """
    if in_sandbox():
        return None
    from grader.assignment import assignment_names, course_root

    ip = _ipython()
    try:
        source = locate(ip, path)
    except NotebookNotFound as exc:
        return Verdict(None, "", problem=str(exc))
    root = course_root()
    known = assignment_names(root)
    name = assignment or assignment_for(source, known)
    if name is None:
        return Verdict(None, "", source=source, problem=(
            "which assignment is this? Name it, for example grader.check(\"my_linear\") "
            f"(the assignments: {', '.join(known) or 'none found'})."))
    if name not in known:
        from difflib import get_close_matches

        close = get_close_matches(name, known, n=1)
        hint = f" Did you mean \"{close[0]}\"?" if close else f" The assignments: {', '.join(known) or 'none'}."
        return Verdict(None, "", source=source, problem=f"there is no assignment named \"{name}\".{hint}")
    from grader.server import CheckRequest

    request = CheckRequest(
        assignment=name, path=str(source.path), cwd=os.getcwd(), root=str(root), device=device,
        timeout=timeout, memory=memory, seed=seed, show_output=show_output, data=source.data,
        name=source.path.name if source.data is not None else None,
    )
    try:
        reply = _grade(request)
    except Exception as exc:  # the student reads this instead of a traceback
        return Verdict(None, "", source=source, problem=str(exc))
    return Verdict(reply["document"], str(reply["text"]), source=source)


def _grade(request: CheckRequest) -> dict[str, Any]:
    """The reply for ``request``: from the check server (started when needed), else from a one-off grader."""
    from grader.server import ServerLost, ServerRefused, ServerUnavailable, check_with_server

    if not os.environ.get("GRADER_NO_SERVER"):
        try:
            return check_with_server(request, watch=os.getpid(), on_start=_say_starting)
        except ServerRefused as exc:
            raise ValueError(str(exc)) from None
        except (ServerUnavailable, ServerLost) as exc:
            print(f"(The check server could not be used: {exc}. Checking without it, which takes longer.)")
    return _grade_once(request)


def _say_starting() -> None:
    print("Starting the grader in the background: the first check takes a few seconds, later ones are quick.",
          flush=True)


def _grade_once(request: CheckRequest) -> dict[str, Any]:
    """Grade in a fresh ``python -m grader.server once`` (torch stays out of this kernel)."""
    import subprocess

    import grader

    message = request.message(None)
    proc = subprocess.run(
        [sys.executable, "-m", "grader.server", "once"], input=json.dumps(message).encode(), capture_output=True,
        cwd=str(Path(grader.__file__).resolve().parents[1]), check=False,
    )
    try:
        reply = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError("the grader failed: " + proc.stderr.decode(errors="replace")[-500:]) from None
    if not reply.get("ok"):
        raise ValueError(str(reply.get("message")))
    return dict(reply)
