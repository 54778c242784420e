"""The my_linear zoo: each submission with the outcome it must get, run through the real CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from conftest import ZOO, check_by_id, check_json, failed_ids

FULL = 10.0


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    hints: dict[str, str] = field(default_factory=dict)  # check id -> text its hint must contain
    status: str = "graded"


CASES = [
    Case("correct_compact.py"),
    Case(
        "bias_left_out.py",
        lost=frozenset({"forward[cpu]", "gradients[cpu]", "optimizer"}),
        hints={"forward[cpu]": "bias is left out", "gradients[cpu]": "No gradient reaches `bias`"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case) -> None:
    run, doc = check_json("my_linear", ZOO / "my_linear" / case.file, "--device", "cpu")
    assert doc["status"] == case.status
    messages = "\n".join(c["message"] for c in doc["checks"] if c["id"] in failed_ids(doc))
    assert failed_ids(doc) == set(case.lost), messages
    assert run.returncode == (0 if not case.lost and case.status == "graded" else 1)
    assert doc["max_score"] == FULL
    for check_id, text in case.hints.items():
        entry = check_by_id(doc, check_id)
        assert text in (entry["hint"] or "") + entry["message"], entry
