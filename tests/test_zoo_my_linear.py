"""The my_linear zoo: each submission with the outcome it must get, run through the real CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from conftest import ZOO, check_by_id, failed_ids

FULL = 11.0

ALL_CHECKS = frozenset(
    {
        "builds", "stores_sizes", "parameters_registered", "no_bias", "forward[cpu]", "gradients[cpu]",
        "follows_to[cpu]", "optimizer",
    }
)
#: The checks that need a working forward; what a submission without one loses (its __init__ still counts).
USES_FORWARD = frozenset({"no_bias", "forward[cpu]", "gradients[cpu]", "follows_to[cpu]", "optimizer"})
#: A registered-nothing module: everything that looks at parameters() or .to() fails; forward still works.
UNREGISTERED = frozenset({"parameters_registered", "no_bias", "follows_to[cpu]", "optimizer"})
#: Without a class that builds, every other check is skipped (one message, on `builds`, says what is missing).
AFTER_BUILDS = ALL_CHECKS - {"builds"}


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)  # check id -> text its hint and message must NOT contain
    status: str = "graded"
    note: str | None = None  # text one of the document's "notes" must contain
    error_kinds: frozenset[str] = frozenset()  # kinds the "errors" list must hold (and no others)
    skipped: frozenset[str] = frozenset()  # ids of the checks that must be skipped (a check they need failed)


CASES = [
    # ---- correct submissions, in different styles: full marks ----
    Case("correct_compact.py"),
    Case("correct_myliner.py", note="MyLiner"),
    Case("correct_register_parameter.py"),
    Case("correct_einsum.py"),
    Case("correct_matmul_broadcast.py"),
    Case("correct_params_list_alias.py"),  # a plain list that only references registered parameters
    Case("correct_notebook.ipynb"),
    Case("correct_notebook_colab.ipynb", error_kinds=frozenset({"skipped_magic", "import_error"})),
    Case("correct_notebook_broken_scratch_cell.ipynb", error_kinds=frozenset({"syntax_error"})),
    # ---- one mistake each ----
    Case(
        "bias_left_out.py",
        lost=frozenset({"forward[cpu]", "gradients[cpu]", "optimizer"}),
        hints={"forward[cpu]": "bias is left out", "gradients[cpu]": "No gradient reaches `bias`"},
    ),
    Case(
        "plain_tensors.py",
        lost=UNREGISTERED,
        hints={
            "parameters_registered": ("self.weights is a plain tensor", "self.bias is a plain tensor", "nn.Parameter"),
            "follows_to[cpu]": "did not move",
        },
    ),
    Case(
        "python_list_of_tensors.py",
        lost=UNREGISTERED,
        hints={"parameters_registered": ("self.params", "nn.ParameterList")},
    ),
    Case(
        "transposed_weights.py",  # torch.nn.Linear's (out, in) layout, used consistently: judged in that layout
        lost=frozenset({"parameters_registered"}),
        hints={"parameters_registered": ("shape (3, 5)", "transpose", "the only check that costs you points")},
    ),
    Case(
        "data_in_forward.py",
        lost=frozenset({"gradients[cpu]", "optimizer"}),
        hints={"gradients[cpu]": ".data", "optimizer": ".data"},
    ),
    Case(
        "detach_weights.py",
        lost=frozenset({"gradients[cpu]", "optimizer"}),
        hints={"gradients[cpu]": ("No gradient reaches `weights`", ".detach()"), "optimizer": "`weights` did not move"},
    ),
    Case("bias_false_ignored.py", lost=frozenset({"no_bias"}), hints={"no_bias": "self.bias = None"}),
    Case(
        "requires_grad_false.py",
        lost=frozenset({"parameters_registered", "gradients[cpu]", "optimizer"}),
        hints={"parameters_registered": "requires_grad=False", "gradients[cpu]": "requires_grad"},
    ),
    Case(
        "mm_2d_only.py",
        lost=frozenset({"forward[cpu]"}),
        hints={"forward[cpu]": ("mm_2d_only.py, line 17", "torch.mm(x, self.weights)", "(..., in_features)")},
    ),
    Case(
        "notebook_mm_2d_only.ipynb",
        lost=frozenset({"forward[cpu]"}),
        hints={"forward[cpu]": ("notebook_mm_2d_only.ipynb [cell 3], line 13", "x.mm(self.weights)")},
    ),
    Case(
        "missing_in_features.py",
        lost=frozenset({"stores_sizes"}),
        hints={"stores_sizes": "self.in_features = in_features"},
    ),
    Case("foward_typo.py", lost=USES_FORWARD, hints={"forward[cpu]": "Did you mean `foward`"}),
    Case("forward_outside_class.py", lost=USES_FORWARD, hints={"forward[cpu]": "Indent `def forward(self"}),
    Case("init_typo_dunder.py", lost=ALL_CHECKS, skipped=AFTER_BUILDS, hints={"builds": "`__init`"}),
    Case("init_typo_int.py", lost=ALL_CHECKS, skipped=AFTER_BUILDS,
         hints={"builds": ("`__int__`", "Rename it to `__init__`")}),
    Case("class_named_linear.py", lost=ALL_CHECKS, skipped=AFTER_BUILDS, hints={"builds": "Did you mean `Linear`"}),
    Case("class_named_mylinearr.py", lost=ALL_CHECKS, skipped=AFTER_BUILDS,
         hints={"builds": "Did you mean `MyLinearr`"}),
    Case(
        "attribute_typo_in_forward.py",
        lost=USES_FORWARD,
        hints={"forward[cpu]": ("attribute_typo_in_forward.py, line 14", "self.weight", "Did you mean `weights`")},
        absent={"forward[cpu]": "uses the attribute name `weight`"},  # it is the student who uses `weight`
    ),
    Case(
        "named_weight.py",  # PyTorch's own spelling, used consistently: judged under that name (issue 13 item 2)
        lost=frozenset({"parameters_registered"}),
        hints={"parameters_registered": ("The assignment asks for `weights`; your MyLinear defines `weight`",
                                         "['bias', 'weight']")},
        absent={"parameters_registered": "Your code uses"},
    ),
    Case(
        "nn_linear_layout.py",  # written as torch.nn.Linear is: `weight` of shape (out, in), F.linear
        lost=frozenset({"parameters_registered"}),
        hints={"parameters_registered": ("your MyLinear defines `weight`", "(out_features, in_features)")},
    ),
    Case(
        "named_w_b.py",  # the course notes' W and b, used consistently (self.b = None without a bias)
        lost=frozenset({"parameters_registered"}),
        hints={"parameters_registered": ("The assignment asks for `weights` and `bias`",
                                         "your MyLinear defines `W` and `b`")},
    ),
    Case(
        "weigths_typo.py",  # a misspelt name, used consistently: judged under it, charged once
        lost=frozenset({"parameters_registered"}),
        hints={"parameters_registered": "The assignment asks for `weights`; your MyLinear defines `weigths`"},
    ),
    Case(
        "lazy_weights.py",  # parameters created on the first forward: none exist for the judge to set after __init__
        lost=ALL_CHECKS - {"builds", "stores_sizes"},
        hints={"forward[cpu]": ("The grader looked for `weights` on your MyLinear",
                                "The assignment asks for `weights`, and your MyLinear has no attribute of that name")},
        absent={"forward[cpu]": "Your code uses", "optimizer": "Your code uses"},
    ),
    Case(
        "forward_casts_to_float32.py",  # every float64 check fails; each points at the line
        lost=frozenset({"no_bias", "forward[cpu]", "gradients[cpu]", "follows_to[cpu]"}),
        hints={"follows_to[cpu]": ("forward_casts_to_float32.py, line 17: `out = x.float() @ self.weights`",
                                   "`x.float()`")},
    ),
    Case(
        "raises_in_forward.py",
        lost=frozenset({"forward[cpu]"}),
        hints={"forward[cpu]": ("raises_in_forward.py, line 17", "x.view(batch, self.in_features, 1)")},
    ),
    Case(
        "param_double_in_init.py",
        lost=frozenset({"parameters_registered", "no_bias", "gradients[cpu]", "follows_to[cpu]", "optimizer"}),
        hints={
            "parameters_registered": ("self.weights", "leaf"),
            "gradients[cpu]": "not a leaf",
            "follows_to[cpu]": "Do not overwrite parameters",
        },
    ),
]


def _problems(case: Case, doc: dict) -> list[str]:
    """Everything wrong with the grader's verdict on ``case``, so one run reports all of it."""
    problems = []
    if doc["status"] != case.status:
        problems.append(f"status {doc['status']!r}, expected {case.status!r}")
    lost = failed_ids(doc)
    if lost != set(case.lost):
        problems.append(
            f"lost {sorted(lost)}, expected {sorted(case.lost)} "
            f"(wrongly lost: {sorted(lost - case.lost)}; wrongly kept: {sorted(case.lost - lost)})"
        )
    skipped = {e["id"] for e in doc["checks"] if e["status"] == "skipped"}
    if skipped != set(case.skipped):
        problems.append(f"skipped {sorted(skipped)}, expected {sorted(case.skipped)}")
    if doc["max_score"] != FULL:
        problems.append(f"max_score {doc['max_score']}, expected {FULL}")
    for check_id, texts in case.hints.items():
        entry = check_by_id(doc, check_id)
        said = (entry["hint"] or "") + "\n" + entry["message"]
        for text in (texts,) if isinstance(texts, str) else texts:
            if text not in said:
                problems.append(f"{check_id}: {text!r} missing from hint/message:\n{said}")
    for check_id, text in case.absent.items():
        entry = check_by_id(doc, check_id)
        said = (entry["hint"] or "") + "\n" + entry["message"]
        if text in said:
            problems.append(f"{check_id}: {text!r} must not be in hint/message:\n{said}")
    if case.note is not None and not any(case.note in note for note in doc.get("notes", [])):
        problems.append(f"no note mentions {case.note!r}: {doc.get('notes')}")
    kinds = {e["kind"] for e in doc["errors"]}
    if kinds != set(case.error_kinds):
        problems.append(f"error kinds {sorted(kinds)}, expected {sorted(case.error_kinds)}: {doc['errors']}")
    for entry in doc["checks"]:
        if entry["status"] == "error":
            problems.append(f"{entry['id']}: the grader itself failed:\n{entry['message']}")
        # "Your code raised" must show the student where: a file and line of theirs.
        if entry["message"].startswith("Your code raised") and not re.search(r", line \d+", entry["message"]):
            problems.append(f"{entry['id']}: blames the student's code without pointing at a line:\n{entry['message']}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict, zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = zoo_results("my_linear")[case.file]
    jsonschema.validate(doc, schema)
    problems = _problems(case, doc)
    assert not problems, f"{case.file}:\n- " + "\n- ".join(problems)


def test_zoo_files_all_listed() -> None:
    """Every submission in the zoo folder has a row, and every row has its file."""
    on_disk = {p.name for p in (ZOO / "my_linear").iterdir() if p.suffix in (".py", ".ipynb")}
    assert on_disk == {c.file for c in CASES}
