"""Unit tests of the pieces the judge relies on: diagnosis, the wire, submission reading, stubs."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
import torch

from grader.check import CheckFailed
from grader.compare import expect_close, show
from grader.diagnose import diagnose, diagnose_observation
from grader.protocol import ProtocolError, decode_reply, encode_reply, to_plain
from grader.sandbox.student import observe
from grader.stubs import stub_source
from grader.submission import Submission, Unloadable, prepare, read_submission

# --- diagnosis -------------------------------------------------------------------------------------

EXPECTED = torch.tensor([[0.25, -0.5], [1.5, 0.75], [-2.0, 0.125]], dtype=torch.float64)


@pytest.mark.parametrize(
    ("found", "kind", "words"),
    [
        (EXPECTED * 8, "scale", "1/m factor"),
        (EXPECTED / 8, "scale", "divided by the number of samples"),
        (EXPECTED * 8 / 3, "scale", "m/n"),
        (EXPECTED * 2, "scale", "added twice"),
        (-EXPECTED, "sign", "sign is flipped"),
        (EXPECTED.T.contiguous(), "transpose", "transposed"),
        (torch.zeros(3, 2, dtype=torch.float64), "zeros", "zero"),
        (torch.full((3, 2), float("nan"), dtype=torch.float64), "not_finite", "NaN"),
        (EXPECTED.reshape(6), "reshape", "shape"),
    ],
)
def test_diagnose_names_the_mistake(found: torch.Tensor, kind: str, words: str) -> None:
    diagnosis = diagnose(found, EXPECTED, batch=8, features=3)
    assert diagnosis is not None and diagnosis.kind == kind
    assert words in diagnosis.hint


def test_diagnose_broadcast_and_nothing_for_noise() -> None:
    column = torch.arange(4, dtype=torch.float64).reshape(4, 1)
    broadcast = column - column.T  # (4, 1) - (1, 4) -> (4, 4)
    diagnosis = diagnose(broadcast, column)
    assert diagnosis is not None and diagnosis.kind == "broadcast" and "(n, 1) - (1, n)" in diagnosis.hint
    noise = EXPECTED + torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.3, 0.2]], dtype=torch.float64)
    assert diagnose(noise, EXPECTED) is None


@pytest.mark.parametrize(
    ("obs", "judged", "kind", "words"),
    [
        (None, {}, "missing", "no gradient reached"),
        ({"type": "None"}, {}, "missing", ".detach()"),
        (observe(3.5), {}, "not_a_tensor", "not a float"),
        (observe(EXPECTED), {"dtype": "float32"}, "dtype", "`dtype=float`"),
        (observe(EXPECTED.long()), {"dtype": "float32"}, "dtype", "integer literals"),
        (observe(EXPECTED.half()), {"dtype": "float32"}, "dtype", "Do not hard-code a dtype"),
        (observe(EXPECTED), {"device": "cuda"}, "device", "default to the CPU"),
        ({**observe(EXPECTED), "device": "cuda:0"}, {"device": "cpu"}, "device", "Do not hard-code .cuda()"),
        (observe(EXPECTED * 8), {"dtype": "float64", "device": "cpu"}, "scale", "8 times"),
        (observe(EXPECTED * 0), {}, "zeros", "zero"),
    ],
)
def test_diagnose_observation_checks_presence_type_dtype_device_then_values(
    obs: dict | None, judged: dict, kind: str, words: str
) -> None:
    diagnosis = diagnose_observation(obs, EXPECTED, what="w.grad", **judged)
    assert diagnosis is not None and diagnosis.kind == kind, diagnosis
    assert words in diagnosis.hint


def test_diagnose_observation_accepts_a_right_value_and_the_dtype_tolerance() -> None:
    assert diagnose_observation(observe(EXPECTED), EXPECTED, dtype="float64", device="cpu") is None
    assert diagnose_observation(observe(EXPECTED + 1e-9), EXPECTED, rtol=1e-6, atol=1e-8) is None
    assert diagnose_observation(observe(EXPECTED + 1e-3), EXPECTED) is None  # wrong, but no recognisable pattern


def test_expect_close_reports_shape_dtype_device_and_errors() -> None:
    obs = observe(EXPECTED.float() + torch.tensor([[0, 0], [0, 0.5], [0, 0]]))
    with pytest.raises(CheckFailed) as failed:
        expect_close(obs, EXPECTED, "the output")
    message = failed.value.message
    assert "greatest absolute error 0.5 at index (1, 1)" in message
    assert "found 1.25, expected 0.75" in message
    with pytest.raises(CheckFailed, match="dtype float64"):
        expect_close(obs, EXPECTED, "the output", dtype="float64")
    with pytest.raises(CheckFailed) as wrong_device:
        expect_close(obs, EXPECTED, "the output", device="cuda")
    assert "created on the CPU" in (wrong_device.value.hint or "")
    expect_close(observe(EXPECTED.float()), EXPECTED, "the output", dtype="float32", device="cpu")


def test_expect_close_prefers_a_known_mistake() -> None:
    with pytest.raises(CheckFailed) as failed:
        expect_close(observe(EXPECTED - 1), EXPECTED, "forward(x)", mistakes={"no_bias": (EXPECTED - 1, "bias!")})
    assert failed.value.hint == "bias!"


def test_show_prints_small_tensors_whole() -> None:
    text = show(torch.arange(24, dtype=torch.float64) / 7)
    assert text.count(", ") == 23 and "3.28571" in text
    assert "min" in show(torch.zeros(25))


def test_not_a_tensor_is_described() -> None:
    with pytest.raises(CheckFailed) as failed:
        expect_close(observe([1, 2, 3]), EXPECTED, "forward(x)")
    assert "torch.Tensor" in failed.value.expected and "list" in failed.value.found


# --- the wire -------------------------------------------------------------------------------------


class Sneaky(torch.Tensor):
    pass


def test_replies_round_trip_plain_values_only() -> None:
    reply = {"kind": "result", "value": {"t": torch.nn.Parameter(torch.ones(2)), "n": [1, 2.5, "x", None, True]}}
    decoded = decode_reply(encode_reply(reply))
    assert type(decoded["value"]["t"]) is torch.Tensor and not decoded["value"]["t"].requires_grad
    assert decoded["value"]["n"] == [1, 2.5, "x", None, True]


@pytest.mark.parametrize("value", [torch.ones(2).as_subclass(Sneaky), object(), {1: "non-string key"}, {1, 2}])
def test_to_plain_refuses_anything_else(value: object) -> None:
    with pytest.raises(ProtocolError):
        to_plain({"kind": "result", "value": value})


def test_decoding_never_runs_code() -> None:
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = pickle.dumps({"kind": "result", "value": Boom()})
    with pytest.raises(ProtocolError):
        decode_reply(evil)
    buffer = io.BytesIO()
    torch.save({"kind": "result", "value": Boom()}, buffer)
    with pytest.raises(ProtocolError):
        decode_reply(buffer.getvalue())
    with pytest.raises(ProtocolError):
        decode_reply(b"\x00garbage")


def test_deep_nesting_is_refused() -> None:
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError, match="deep"):
        to_plain(deep)


# --- reading submissions --------------------------------------------------------------------------


def _sub(tmp_path: Path, name: str, data: bytes) -> Submission:
    path = tmp_path / name
    path.write_bytes(data)
    sub = read_submission(path)
    prepare(sub)
    return sub


def test_magics_are_blanked_keeping_line_numbers(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(cells=[
        new_markdown_cell("# title"),
        new_code_cell("%matplotlib inline\nimport torch\n!pip install torch\nfiles = !ls\nx = 1"),
        new_code_cell("%%bash\necho hi"),
        new_code_cell("%%time\ny = 2"),
    ])
    sub = _sub(tmp_path, "nb.ipynb", nbformat.writes(nb).encode())
    assert [c["cell"] for c in sub.cells] == [2, 4]
    assert sub.cells[0]["source"].split("\n") == ["pass", "import torch", "pass", "files = None", "x = 1"]
    assert sub.cells[1]["source"].split("\n") == ["", "y = 2"]
    assert [(n["cell"], n["line"]) for n in sub.notices] == [(2, 1), (2, 3), (2, 4), (3, 1), (4, 1)]


def test_a_cell_magic_name_with_a_control_character_is_shown_escaped(tmp_path: Path) -> None:
    """A terminal escape in a magic's name (found by the fuzz test) reaches the notice as text, not as a control."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("%%\x1btime\nclass A: pass"), new_code_cell("%%time\x07\ny = 2"),
                             new_code_cell("import torch")])
    sub = _sub(tmp_path, "nb.ipynb", nbformat.writes(nb).encode())
    messages = [n["message"] for n in sub.notices]
    assert all(ch.isprintable() for message in messages for ch in message), messages
    assert "`%%\\x1btime`" in messages[0] and "`%%time\\x07`" in messages[1]


@pytest.mark.parametrize(
    ("name", "data", "status", "words"),
    [
        ("a.py", b"def f(:\n    pass\n", "load_error", "line 1: syntax error"),
        ("a.py", b"", "load_error", "is empty"),
        ("a.py", b"   \n\n", "load_error", "is empty"),
        ("a.py", b"x = 1\ny = '\xff\xfe'\n", "load_error", "line 2"),
        ("a.ipynb", b"{not json", "load_error", "not a readable Jupyter notebook"),
        ("a.ipynb", b'{"nbformat": 4, "nbformat_minor": 5, "cells": 3, "metadata": {}}', "load_error", "notebook"),
        ("a.txt", b"x = 1", "rejected", ".py and .ipynb"),
    ],
)
def test_unloadable_files(tmp_path: Path, name: str, data: bytes, status: str, words: str) -> None:
    with pytest.raises(Unloadable) as problem:
        _sub(tmp_path, name, data)
    assert problem.value.status == status
    assert words in problem.value.message


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    sub = _sub(tmp_path, "a.py", b"\xef\xbb\xbfx = 1\r\ny = 2\r\n")
    assert sub.cells[0]["source"] == "x = 1\ny = 2\n"


# --- stubs ----------------------------------------------------------------------------------------


def test_stub_replaces_each_solution_block_at_its_indentation() -> None:
    reference = "class A:\n    def f(self):\n        # BEGIN SOLUTION\n        return 1\n        # END SOLUTION\n"
    assert stub_source(reference) == (
        "class A:\n    def f(self):\n        # TODO: write this part.\n"
        '        raise NotImplementedError("write this part")\n'
    )
    with pytest.raises(ValueError, match="marks no solution"):
        stub_source("x = 1\n")


def test_the_notebook_stub_is_a_valid_notebook_laid_out_as_nbformat_writes_it() -> None:
    """The stub notebook is written without nbformat: it must still validate and round-trip byte for byte."""
    import nbformat

    from grader.assignment import load_assignment
    from grader.stubs import stub_notebook

    assignment = load_assignment("my_linear")
    text = stub_notebook(assignment, "x = 1\nprint('é')\n")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    assert nbformat.writes(notebook) + "\n" == text
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code", "markdown", "code"]
    assert notebook.cells[1].source == "x = 1\nprint('é')\n" and notebook.metadata.grader.assignment == "my_linear"


def test_a_check_can_attach_a_hint_to_a_student_exception() -> None:
    from grader.session import StudentRaised

    raised = StudentRaised({"type": "RuntimeError", "message": "RuntimeError: boom", "hint": None})
    hinted = raised.with_hint("Call zero_grad() first.")
    assert hinted.info["hint"] == "Call zero_grad() first." and hinted.info["message"] == "RuntimeError: boom"
    assert raised.info["hint"] is None


def test_python_reachable_by_others_only_through_searchable_folders() -> None:
    """Outside the private root the sandbox drops to nobody only if nobody could still read Python."""
    import shutil
    import tempfile

    from grader.sandbox.isolation import _reachable_by_others

    base = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own folder is private (0700): start from /tmp
    try:
        lib = base / "home" / "python" / "lib"
        lib.mkdir(parents=True)
        (lib / "os.py").write_text("")
        for folder in (base, base / "home", base / "home" / "python", lib):
            folder.chmod(0o755)
        assert _reachable_by_others([str(lib), str(lib / "os.py")])
        (base / "home").chmod(0o700)  # like /root: nothing below it can be reached
        assert not _reachable_by_others([str(lib)])
        (base / "home").chmod(0o755)
        (lib / "os.py").chmod(0o600)
        assert not _reachable_by_others([str(lib / "os.py")])
    finally:
        shutil.rmtree(base, ignore_errors=True)


_ORPHAN = """
import os, sys, time
from grader.sandbox.limits import set_parent_death_signal
read, write = os.pipe()
middle = os.fork()
if middle == 0:
    parent = os.getpid()
    if os.fork() == 0:  # the grandchild: its parent dies before it asks for the parent-death signal
        time.sleep(0.5)
        set_parent_death_signal(parent=parent if sys.argv[1] == "told" else None)
        os.write(write, b"survived")
    os._exit(0)
os.close(write)
os.waitpid(middle, 0)
print(os.read(read, 100).decode() or "killed")
"""


@pytest.mark.parametrize(("told", "fate"), [("told", "killed"), ("not told", "survived")])
def test_a_child_whose_parent_died_before_it_set_the_death_signal_dies(told: str, fate: str) -> None:
    """Told its parent's pid from before the fork, a child orphaned early kills itself (the race of a kill -9)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _ORPHAN, told], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.stdout.strip() == fate, run.stderr


def test_the_suite_reads_the_graders_bytecode_even_where_pythons_may_not_write_it() -> None:
    """``conftest.pytest_configure`` compiled the grader and the assignments: no `grader` process compiles them."""
    import importlib.util
    import sys

    from conftest import COMPILED, ROOT

    if not sys.dont_write_bytecode:
        pytest.skip("Pythons write their own bytecode here (PYTHONDONTWRITEBYTECODE is not set)")
    sources = [p for folder in COMPILED for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 40
    stale = [str(p) for p in sources if not Path(importlib.util.cache_from_source(str(p))).is_file()]
    assert stale == []


def test_torch_is_imported_with_the_collector_paused_then_frozen() -> None:
    """grader.startup.import_torch: the collector is on again afterwards, torch's objects are frozen, and a
    process that had already imported torch (this test's own) is left as it was."""
    import gc
    import subprocess
    import sys

    code = ("import gc, sys; from grader.startup import import_torch; import_torch(optimizers=True); "
            "print(gc.isenabled(), gc.get_freeze_count(), 'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True" and int(out[1]) > 100_000 and out[2] == "True"

    from grader.startup import collector_paused, import_torch

    frozen = gc.get_freeze_count()
    import_torch()
    assert gc.get_freeze_count() == frozen and gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
