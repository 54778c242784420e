"""Fuzzing the submission loader (``read_submission`` + ``prepare``): whatever the bytes, it reads them into code
cells or raises its own :class:`Unloadable` with a message in plain words, and the CLI turns any of them into
a results document that validates against the schema.

Inputs: random bytes, random text, random JSON values, notebook-shaped JSON, and mutations of real notebooks
(the my_linear stub and every notebook of the zoos): keys dropped, values retyped, ``nbformat`` and
``nbformat_minor`` changed, random text put into cell sources, the JSON cut short.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st

from conftest import ROOT, ZOO, run_grader
from grader.submission import Unloadable, prepare, read_submission

SEED_NOTEBOOKS = [ROOT / "assignments" / "my_linear" / "my_linear.ipynb", *sorted(ZOO.glob("*/*.ipynb"))]


def _seed_doc(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return None  # the zoo's own broken notebooks (tests/zoo/files) are no seeds
    return doc if isinstance(doc, dict) and "cells" in doc else None


SEED_DOCS = [doc for doc in map(_seed_doc, SEED_NOTEBOOKS) if doc is not None]

FAST = settings(max_examples=150, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---- strategies ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

#: JSON with a notebook's shape, so that random values reach the code that walks versions and cells.
notebook_like = st.fixed_dictionaries(
    {
        "nbformat": st.integers(-1, 6) | json_values,
        "cells": st.lists(
            st.fixed_dictionaries(
                {"cell_type": st.sampled_from(["code", "markdown", "raw"]) | json_values},
                optional={"source": st.text(max_size=80) | st.lists(st.text(max_size=30), max_size=4) | json_values,
                          "metadata": json_values},
            ),
            max_size=5,
        ) | json_values,
    },
    optional={"nbformat_minor": st.integers(-1, 99) | json_values, "metadata": json_values,
              "worksheets": json_values},
)

python_like = st.lists(
    st.sampled_from(["import torch", "from torch import nn", "class MyLinear(nn.Module):", "    def forward(self, x):",
                     "        return x", "%matplotlib inline", "!pip install d2l", "    pass", "x = (", "'''", "\t",
                     "def __init__(self):", "é = 1", "\x00", "\r", "\ufeff"]) | st.text(max_size=20),
    max_size=12,
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path (keys and indexes) to every value inside ``doc``, the root excepted."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated_notebooks(draw: st.DrawFn) -> bytes:
    """A real notebook with one to three mutations, sometimes cut short."""
    doc = copy.deepcopy(draw(st.sampled_from(SEED_DOCS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        mutation = draw(st.sampled_from(["drop", "retype", "version", "text"]))
        if mutation == "version":
            doc[draw(st.sampled_from(["nbformat", "nbformat_minor"]))] = draw(st.integers(-1, 100) | json_values)
        elif mutation == "text":
            sources = [p for p in paths if "source" in p and isinstance(_parent(doc, p)[p[-1]], str)]
            if sources:
                path = draw(st.sampled_from(sources))
                text = _parent(doc, path)[path[-1]]
                at = draw(st.integers(0, len(text)))
                _parent(doc, path)[path[-1]] = text[:at] + draw(st.text(max_size=40)) + text[at:]
        elif paths:
            path = draw(st.sampled_from(paths))
            if mutation == "drop":
                del _parent(doc, path)[path[-1]]
            else:
                _parent(doc, path)[path[-1]] = draw(json_values)
    text = json.dumps(doc, indent=1)
    if draw(st.integers(0, 3)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


#: (file name, bytes) pairs: what a student might hand in, and what a broken disk might.
submissions = st.one_of(
    st.tuples(st.just("fuzz.py"), st.binary(max_size=400) | python_like | st.text(max_size=200).map(str.encode)),
    st.tuples(st.just("fuzz.ipynb"), st.binary(max_size=400) | st.text(max_size=200).map(str.encode)),
    st.tuples(st.just("fuzz.ipynb"), (json_values | notebook_like).map(lambda v: json.dumps(v).encode())),
    st.tuples(st.just("fuzz.ipynb"), mutated_notebooks()),
)

# ---- properties ------------------------------------------------------------------------------------------

EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b")


def _plain_words(message: str, name: str) -> None:
    """A message a student can read: text with words, the file's name, no control characters or exception names."""
    assert message.strip(), "empty message"
    assert all(ch.isprintable() or ch == "\n" for ch in message), repr(message)
    assert name in message, message
    assert len(re.findall(r"[A-Za-z]{3,}", message)) >= 5, message
    assert not EXCEPTION_NAME.search(message), message
    assert "Traceback" not in message, message


def _load(name: str, data: bytes) -> None:
    """Read and prepare ``data`` as a file called ``name``; check what comes out, whatever it is."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        sub = read_submission(path)
        try:
            prepare(sub)
        except Unloadable as problem:
            assert problem.status in ("load_error", "rejected")
            assert problem.kind
            assert problem.line is None or isinstance(problem.line, int)
            _plain_words(problem.message, name)
            return
    assert sub.cells, "prepared without code cells"
    for cell in sub.cells:
        assert isinstance(cell["source"], str) and cell["source"].strip() and "\x00" not in cell["source"]
        assert cell["filename"].startswith(name)
    for notice in sub.notices:
        _plain_words(notice["message"], name)


@FAST
@given(st.binary(max_size=600) | python_like, st.sampled_from(["fuzz.py", "fuzz.ipynb"]))
@example(b"x = " + b"-" * 200_000 + b"1\n", "fuzz.py")  # the parser's stack: a MemoryError escaped prepare
@example(b"import torch\x00\n", "fuzz.py")  # a NUL byte: reported as "line None" before
@example(b"\xff\xfex\x00=\x001\x00", "fuzz.py")  # UTF-16
@example(b"[" * 100_000, "fuzz.ipynb")  # JSON nested past the recursion limit
def test_random_bytes(data: bytes, name: str) -> None:
    _load(name, data)


@FAST
@given(json_values | notebook_like)
@example({"nbformat": True, "cells": []})  # nbformat failed with UnboundLocalError in its own converter
@example({"nbformat": 4, "nbformat_minor": "x", "cells": []})  # and with AssertionError
@example({"nbformat": 3, "nbformat_minor": None})  # and with KeyError
@example({"nbformat": 4, "cells": [{"cell_type": "code", "source": [1, None]}]})  # and with TypeError
@example({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1\x00"}]})  # NUL in a cell
def test_random_json(value: Any) -> None:
    _load("fuzz.ipynb", json.dumps(value).encode())


@FAST
@given(mutated_notebooks())
def test_mutated_notebooks(data: bytes) -> None:
    _load("fuzz.ipynb", data)


# ---- end to end: a few of the same inputs through `grader check` ---------------------------------------


@settings(max_examples=5, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@seed(20240607)
@given(submissions)
def test_cli_gives_a_valid_document(schema: dict, submission: tuple[str, bytes]) -> None:
    name, data = submission
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        run = run_grader("check", "my_linear", path, "--format", "json", "--device", "cpu", "--seed", "7",
                         "--timeout", "60", env={"CUDA_VISIBLE_DEVICES": ""})
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1), run.stderr
    doc = run.json()
    jsonschema.validate(doc, schema)
    assert doc["submission"]["kind"] == name.rsplit(".", 1)[1]
    assert doc["max_score"] == 11.0
    if doc["status"] != "graded":
        assert doc["errors"] and doc["score"] == 0
