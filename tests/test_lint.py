"""The project's own code is ruff-clean and type-checks (run as part of the suite, so CI enforces it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import MYPY, ROOT, mypy_started_early

# Neither starts a sandbox: they run in the suite's second part, beside the exclusive tests, which leave a core
# mostly idle; there mypy starts in the background as soon as the tests are collected (conftest), since on a
# fresh clone, without its cache, it keeps a core busy for about 30 s.
pytestmark = pytest.mark.beside_exclusive


def test_ruff() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy() -> None:
    early = mypy_started_early()
    if early is not None:
        output, _ = early.communicate(timeout=600)
        assert early.returncode == 0, output
        return
    proc = subprocess.run(MYPY, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
