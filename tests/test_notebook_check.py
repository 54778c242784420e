"""``grader.check`` inside real Jupyter kernels (nbclient + ipykernel), against `grader check` on the saved file.

Three kernels share one check server: the first check starts it, the others reuse it, and it stops once the
last kernel that used it has exited. Each verdict is compared with `grader check --no-server` on the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from conftest import ROOT, run_grader, stable

# Kernels, servers and their processes are under test: each `grader` command starts a new Python.
pytestmark = pytest.mark.fresh_python

STUB = ROOT / "assignments" / "my_linear" / "my_linear.ipynb"
REFERENCE = (ROOT / "reference" / "my_linear.py").read_text()
#: Leaves the bias out of forward (loses 5 of 11 points).
BUGGY = REFERENCE.replace("out = out + self.bias", "out = out")
#: A cell that raises with HTML in its message (the kernel shows the error; the grader must escape it).
RAISES = 'raise ValueError("<script>alert(1)</script> & <b>bold</b>")'

#: The verdict of the cell before, as JSON: the test compares it with `grader check --format json`.
DOCUMENT_CELL = "import json\nprint(json.dumps(v.document))"


def _notebook(solution: str, *extra: str) -> Any:
    """The stub notebook with its solution cell filled in, then ``extra`` code cells."""
    nb = nbformat.read(STUB, as_version=4)
    next(c for c in nb.cells if c.get("id") == "solution").source = solution
    nb.cells.extend(new_code_cell(code) for code in extra)
    return nb


def _client(nb: Any, cwd: Path) -> NotebookClient:
    return NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def _rich(nb: Any, kind: str) -> list[dict[str, Any]]:
    """The ``text/html`` + ``text/plain`` bundles of every output of ``kind`` (execute_result, display_data)."""
    return [dict(o["data"]) for o in _outputs(nb) if o["output_type"] == kind and "text/html" in o["data"]]


def _printed(nb: Any) -> str:
    return "".join(o["text"] for o in _outputs(nb) if o["output_type"] == "stream" and o["name"] == "stdout")


def _document(nb: Any) -> dict[str, Any]:
    line = next(line for line in _printed(nb).splitlines() if line.startswith('{"schema_version"'))
    return dict(json.loads(line))


def _no_errors(nb: Any) -> None:
    """No cell failed, except those tagged ``raises-exception`` (nbclient lets them fail)."""
    errors = [o for cell in nb.cells if "raises-exception" not in cell.metadata.get("tags", [])
              for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gn-", dir="/tmp"))  # short: it holds the server's socket
    yield path
    with contextlib.suppress(Exception):
        subprocess.run([sys.executable, "-m", "grader.server", "stop"], cwd=ROOT, timeout=60, capture_output=True,
                       env={**os.environ, "GRADER_SERVER_DIR": str(path / "server")})
    shutil.rmtree(path, ignore_errors=True)


def test_check_in_real_kernels(folder: Path) -> None:
    """A correct and a buggy notebook, saved, then one graded from the kernel's history, through one server."""
    work = folder / "work"
    work.mkdir()
    env = {**os.environ, "GRADER_SERVER_DIR": str(folder / "server"), "GRADER_SERVER_IDLE": "300"}

    # A correct notebook, saved as good.ipynb, whose kernel knows its file (as Jupyter Server 2 tells it).
    check = "v = grader.check(seed=7)\ndisplay(v)"  # no name: the stub's metadata says my_linear
    good = _notebook(REFERENCE, check, DOCUMENT_CELL, "import sys\nprint('torch in kernel:', 'torch' in sys.modules)")
    first_cell = "import sys, grader\nprint('torch after import grader:', 'torch' in sys.modules)"
    good.cells.insert(0, new_code_cell(first_cell))
    nbformat.write(good, work / "good.ipynb")
    saved = (work / "good.ipynb").read_bytes()
    client = _client(good, work)
    started = time.monotonic()
    with client.setup_kernel(env={**env, "JPY_SESSION_NAME": str(work / "good.ipynb")}, cwd=str(work)):
        for index, cell in enumerate(good.cells):
            client.execute_cell(cell, index)
        first_check = time.monotonic() - started

        # A buggy notebook, saved, then run with one more cell that the saved file does not hold.
        bad = _notebook(BUGGY, 'grader.check("my_linear", seed=7)', 'v = grader.check("my_linear", seed=7)',
                        DOCUMENT_CELL)
        bad.cells.insert(2, new_code_cell(RAISES, metadata={"tags": ["raises-exception"]}))
        nbformat.write(bad, work / "bad.ipynb")
        bad.cells.insert(1, new_code_cell("unsaved = 'typed after the last save'"))
        _client(bad, work).execute(env={**env, "JPY_SESSION_NAME": str(work / "bad.ipynb")}, cwd=str(work))

        # A kernel that cannot tell its notebook's path (nbclient sets no JPY_SESSION_NAME): its executed cells.
        history = nbformat.v4.new_notebook(cells=[
            new_code_cell(REFERENCE), new_code_cell("import grader\ngrader.check()"),
            new_code_cell('v = grader.check("my_linear", seed=7)\nv'), new_code_cell(DOCUMENT_CELL),
            # What VS Code's Jupyter extension puts in the namespace: then the saved file is graded.
            new_code_cell(f"__vsc_ipynb_file__ = {str(work / 'good.ipynb')!r}\ngrader.check('my_linear')")])
        _client(history, work).execute(env=env, cwd=str(work))

        status = subprocess.run([sys.executable, "-m", "grader.server", "status"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert "7 checks served" in status.stdout, status.stdout + status.stderr  # one server for all three kernels

        # `grader check` on the saved files, from the command line (through the same server: that it gives what
        # `grader check --no-server` gives is test_check_server.py's business).
        cli = [run_grader("check", "my_linear", name, "--format", "json", "--seed", "7", cwd=work,
                          env={"GRADER_COURSE": str(ROOT), "GRADER_SERVER_DIR": env["GRADER_SERVER_DIR"]})
               for name in ("good.ipynb", "bad.ipynb")]

    for nb in (good, bad, history):
        _no_errors(nb)
    assert (work / "good.ipynb").read_bytes() == saved  # checking never writes the notebook
    assert "torch after import grader: False" in _printed(good)
    assert "torch in kernel: True" in _printed(good)  # the student's own `import torch`, not the grader's
    assert "Starting the grader in the background" in _printed(good)
    assert "Starting the grader" not in _printed(bad) + _printed(history)

    # The correct notebook: full marks, as HTML and as text, from the saved file (display() and the stub's cell).
    [shown] = _rich(good, "display_data")
    [stub_cell] = _rich(good, "execute_result")
    for bundle in (shown, stub_cell):
        assert "Score: 11/11 (full marks)" in bundle["text/html"]
        assert "Score: 11/11 (full marks)" in bundle["text/plain"]
        assert "Graded the saved file good.ipynb (found through Jupyter&#x27;s session)." in bundle["text/html"]
        assert bundle["text/plain"].startswith("Graded the saved file good.ipynb (found through Jupyter's session).")
    assert shown["text/html"].count('class="grader-check passed"') == 8

    # The buggy notebook: the failures with what was expected and found, a hint, escaped HTML, the stale-file warning.
    bad_html, bad_text = (_rich(bad, "execute_result")[0][kind] for kind in ("text/html", "text/plain"))
    assert "Score: 6/11 (not full marks yet)" in bad_html and "Score: 6/11 (not full marks yet)" in bad_text
    assert "FAIL    forward[cpu]" in bad_text and "Expected:" in bad_text and "Found:" in bad_text
    assert 'class="grader-check failed"' in bad_html and "Expected:" in bad_html and "Hint:" in bad_html
    assert "<script>" not in bad_html and "<b>bold</b>" not in bad_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in bad_html
    assert ("This kernel ran code that is not in the saved file (In [1]): the grader graded the file as it was last "
            "saved") in bad_text
    assert "Save the notebook" in bad_html

    # The history kernel: says what it graded; without a name it asks which assignment, in plain words.
    asked, history_verdict, vscode = _rich(history, "execute_result")
    assert vscode["text/plain"].startswith("Graded the saved file good.ipynb (found through VS Code).")
    assert "Score: 11/11 (full marks)" in vscode["text/plain"]
    assert 'which assignment is this? Name it, for example grader.check("my_linear")' in asked["text/plain"]
    assert history_verdict["text/plain"].startswith("Graded the cells this kernel ran, in the order they ran")
    assert "Score: 11/11 (full marks)" in history_verdict["text/html"]

    # Each verdict is the document `grader check` gives for the saved file (same seed), and the server is gone
    # soon after the last kernel that used it exited (the command line's checks do not keep it).
    assert stable(_document(good)) == stable(json.loads(cli[0].stdout))
    assert stable(_document(bad)) == stable(json.loads(cli[1].stdout))
    # Inside the sandbox grader.check does nothing and returns None: the stub's check cell (cell 5) loads cleanly;
    # this test's own cells 6 and 7 use the verdict (and `display`, which only a kernel has), so they fail there.
    assert sorted(e["cell"] for e in _document(good)["errors"]) == [6, 7]
    assert _document(history)["score"] == 11.0
    deadline = time.monotonic() + 15
    while list((folder / "server").glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list((folder / "server").glob("*.sock")), "the server outlived the kernels that used it"
    print(f"first check in a fresh kernel (kernel start included): {first_check:.2f} s")


def test_import_grader_is_light_and_check_submodule_still_imports() -> None:
    """``import grader`` pulls in neither torch nor the pipeline; ``grader.check`` is the function, and the
    assignments' ``from grader.check import CheckFailed`` still finds the submodule."""
    code = ("import sys, grader; heavy = sorted(m for m in ('torch', 'grader.grading', 'grader.server') "
            "if m in sys.modules); from grader.check import CheckFailed; "
            "print(heavy, callable(grader.check), CheckFailed.__module__); print(repr(grader.check('my_linear')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[0] == "[] True grader.check", proc.stdout + proc.stderr
    # Outside a notebook, with no file named, it says so in plain words (and still imports no torch to say it).
    assert proc.stdout.splitlines()[1].startswith("grader.check: there is no notebook to grade here")


def test_verdict_html_escapes_everything_and_hides_hidden_checks() -> None:
    """Every string that came from a submission or a check is escaped; a hidden failure shows no details."""
    from grader.notebook import Source, Verdict

    hostile = '<img src=x onerror="alert(1)">'
    document = {
        "assignment": hostile, "status": "graded", "score": 0, "max_score": 2, "submission": {"path": hostile},
        "errors": [{"message": hostile}], "notes": [hostile],
        "checks": [
            {"id": hostile, "name": hostile, "status": "failed", "score": 0, "max_score": 1, "message": hostile,
             "hint": hostile, "hidden": False},
            {"id": "secret", "name": "a hidden check", "status": "failed", "score": 0, "max_score": 1,
             "message": "the hidden expectation", "hint": "hidden hint", "hidden": True},
        ],
    }
    source = Source(kind="file", path=Path(hostile + ".ipynb"), how=hostile, warnings=[hostile])
    html = Verdict(document, "text", source=source)._repr_html_()
    assert "<img" not in html and re.search(r"onerror=\"", html) is None
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") >= 9
    assert "the hidden expectation" not in html and "hidden hint" not in html
    assert "details are shown when grades are published" in html
    problem = Verdict(None, "", problem=hostile)
    assert "<img" not in problem._repr_html_() and repr(problem) == f"grader.check: {hostile}"


def test_without_a_server_a_one_off_grader_gives_the_verdict(tmp_path: Path) -> None:
    """``GRADER_NO_SERVER=1``: the check runs in a fresh grader process and no server (nor socket) appears."""
    code = ("import grader; v = grader.check('manual_lr', 'reference/manual_lr.py', seed=7); "
            "print(v.score, v.max_score)")
    env = {**os.environ, "GRADER_NO_SERVER": "1", "GRADER_SERVER_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.stdout.splitlines()[-1] == "12.0 12.0", proc.stdout + proc.stderr
    assert "Starting the grader" not in proc.stdout
    assert not list(tmp_path.iterdir())


def test_a_kernel_finds_its_notebook_through_the_jupyter_server(tmp_path: Path) -> None:
    """A real Jupyter server starts the kernel; with JPY_SESSION_NAME and __session__ removed, the kernel's
    connection file, matched against the server's /api/sessions, still finds the saved notebook."""
    import socket
    import urllib.request

    from jupyter_client.blocking import BlockingKernelClient

    root, runtime = tmp_path / "root", tmp_path / "runtime"
    root.mkdir()
    nbformat.write(_notebook(REFERENCE), root / "good.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sockets = tempfile.mkdtemp(prefix="gj-", dir="/tmp")  # short: socket paths are limited to 107 bytes
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "GRADER_SERVER_DIR": sockets}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--IdentityProvider.token=secret", f"--ServerApp.root_dir={root}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    try:
        deadline = time.monotonic() + 60
        while not list(runtime.glob("jpserver-*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        body = json.dumps({"path": "good.ipynb", "name": "good.ipynb", "type": "notebook",
                           "kernel": {"name": "python3"}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", data=body, method="POST",
                                         headers={"Authorization": "token secret", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            kernel_id = json.loads(reply.read())["kernel"]["id"]
        client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        printed: list[str] = []
        code = ("import os\nos.environ.pop('JPY_SESSION_NAME', None)\nglobals().pop('__session__', None)\n"
                "import grader\nv = grader.check('my_linear', seed=7)\nprint(v.source.describe())\nprint(v.score)")
        client.execute_interactive(code, timeout=180, output_hook=lambda m: printed.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        lines = "".join(printed).splitlines()
        assert "Graded the saved file good.ipynb (found through the Jupyter server)." in lines, printed
        assert lines[-1] == "11.0", printed
    finally:
        if client is not None:
            client.stop_channels()
        server.terminate()
        server.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "grader.server", "stop"], cwd=ROOT, env=env, capture_output=True,
                       timeout=60)
        shutil.rmtree(sockets, ignore_errors=True)
