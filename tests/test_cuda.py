"""CUDA: run only where a GPU is present (CI has none; these skip cleanly there)."""

from __future__ import annotations

import pytest
import torch

from conftest import ASSIGNMENTS, ROOT, ZOO, check_by_id, check_json

pytestmark = [pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
              pytest.mark.fresh_python]


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_reference_full_marks_on_cpu_and_cuda(name: str) -> None:
    run, doc = check_json(name, ROOT / "reference" / f"{name}.py", "--device", "auto")
    assert run.returncode == 0, [c["message"] for c in doc["checks"] if c["status"] != "passed"]
    devices = {c["device"] for c in doc["checks"]} - {None}
    assert devices == {"cpu", "cuda"}
    assert doc["max_score"] == ASSIGNMENTS[name]
    for kind in ("py", "ipynb"):  # the stubs earn zero on CUDA too, without crashing the grader
        run, doc = check_json(name, ROOT / "assignments" / name / f"{name}.{kind}", "--device", "auto")
        assert run.returncode == 1 and doc["status"] == "graded" and doc["score"] == 0


def test_cuda_only_run_and_hard_coded_cpu_tensors() -> None:
    run, doc = check_json("manual_lr", ZOO / "cuda" / "lr_hard_coded_cpu.py", "--device", "cuda")
    assert run.returncode == 1
    state = check_by_id(doc, "initial_state[cuda]")
    assert state["status"] == "failed"
    assert "cuda" in state["message"] and "device" in (state["hint"] or "")
