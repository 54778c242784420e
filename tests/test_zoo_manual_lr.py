"""The manual_lr zoo: each submission with the outcome it must get, run through the real CLI.

Every row says which checks must lose their points (a check skipped because a prerequisite failed counts
as lost), what the failing checks' hint or message must say, and, for notebooks, which skipped magics,
failing cells or stopped cells the results' ``errors`` must report, with their cell numbers.
The notebooks are written by ``tests/zoo/manual_lr/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from conftest import ZOO, check_by_id, failed_ids

FULL = 12.0
ALL = frozenset({
    "builds", "initial_state[cpu]", "forward[cpu]", "sigmoid_stable[cpu]", "backward[cpu]",
    "backward_without_autograd[cpu]", "optimize[cpu]", "learns[cpu]",
})
FORM = "this is the only check that costs you points for it"
AUTOGRAD = "no loss.backward(), torch.autograd.grad or requires_grad"

# The zoo is graded as on a machine without a GPU, whatever machine runs the tests, so that the rows that
# hard-code CUDA get the same outcome everywhere.
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


@dataclass(frozen=True)
class Err:
    """An entry the results' ``errors`` must hold: its cell, text in its message, and kind / line when given."""

    cell: int
    text: str
    kind: str | None = None
    line: int | None = None

    def matches(self, entry: dict[str, Any]) -> bool:
        return (
            entry.get("cell") == self.cell
            and self.text in entry["message"]
            and (self.kind is None or entry["kind"] == self.kind)
            and (self.line is None or entry["line"] == self.line)
        )


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    errors: tuple[Err, ...] = ()  # exactly the entries of the results' "errors"
    absent: tuple[str, ...] = ()  # text that must appear nowhere in the report (grader internals, say)


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_module_sigmoid.py"),  # sigmoid is a function at the top level, not a method
    Case("correct_matmul.py"),  # torch.matmul and @, m = x.shape[-1], in-place optimize
    Case("correct_float_lr.py"),  # default lr=0.01 (a float), turned into a tensor on device
    Case("correct_float_lr_kept.py"),  # self.lr kept as a Python float: lr * dw works the same
    Case("correct_colab_cuda_device.py"),  # device = torch.device("cuda") at the top, but every tensor uses it
    Case("correct_split_cells.ipynb"),  # the class over several cells: LR.backward = backward, setattr(LR, ...)
    Case("correct_parameters.py"),  # w and b as nn.Parameter (as in MyLinear), updated in place under no_grad()
    # Notebooks whose definitions load: full marks, and what was skipped is reported with its cell.
    Case("nb_magics.ipynb", errors=(Err(1, "%matplotlib inline", line=1), Err(3, "%%time", line=1))),
    Case("nb_pip_install.ipynb", errors=(Err(1, "!pip install torch", line=1),)),
    Case("nb_bash_cell.ipynb", errors=(Err(2, "%%bash", line=1),)),
    Case("nb_failing_plot.ipynb", errors=(Err(5, "NameError: name 'plt' is not defined", "runtime_error", 2),)),
    # The zoo's batch runs with --cell-timeout 3 (conftest.zoo_results): the message quotes that budget.
    Case("nb_long_training.ipynb", errors=(Err(4, "stopped after 3 s", "cell_timeout"),)),
    Case("nb_while_true.ipynb", errors=(Err(3, "stopped after 3 s", "cell_timeout"),)),
    # An LR consistent under other names or in another layout is judged in its own: only initial_state, which
    # looks at names and shapes, charges the form, and says what the assignment asks and what the student wrote.
    Case(
        "renamed_weights_bias.py",  # self.weights and self.bias
        lost=frozenset({"initial_state[cpu]"}),
        hints={"initial_state[cpu]": ("The assignment asks for `w` and `b`; your LR defines `weights` and `bias`",
                                      "self.weights (3, 1), self.bias", FORM)},
    ),
    Case(
        "w_row_vector.py",  # w of shape (1, dim), forward w @ x, dw = (yhat - y) @ x.T / m
        lost=frozenset({"initial_state[cpu]"}),
        hints={"initial_state[cpu]": ("Your `w` is a row, shape (1, dim)", "computes w.T @ x", "self.w (1, 3)", FORM)},
    ),
    Case(
        "grads_keyed_w_b.py",  # grads["w"], grads["b"]
        lost=frozenset({"initial_state[cpu]"}),
        hints={"initial_state[cpu]": ("The assignment asks for the grads keys 'dw' and 'db'; your grads uses 'w' "
                                      "and 'b'", FORM)},
    ),
    Case(
        "capital_w_dw.py",  # the neural-network notation: W, grads["dW"] (b and db as asked)
        lost=frozenset({"initial_state[cpu]"}),
        hints={"initial_state[cpu]": ("The assignment asks for `w`; your LR defines `W`",
                                      "the grads key 'dw'; your grads uses 'dW'", FORM)},
    ),
    # Realistic mistakes: the right checks lose their points, with the right hint.
    # Each mistake is charged where it is made; a later check loses points only when it fails on its own merits
    # (learns, when training does not separate the data). The separable data set's plane passes through the
    # origin, so a model without a working bias still learns it.
    Case(
        "no_bias.py",  # the course notes' forward: sigmoid(w.T @ x)
        lost=frozenset({"forward[cpu]"}),
        hints={"forward[cpu]": "bias is left out"},
    ),
    # A hand-written backward with a wrong formula keeps backward_without_autograd: it gives the same gradients
    # with autograd switched off.
    Case(
        "backward_no_mean.py",  # gradients m times too large: with lr = 0.5 training still separates the data
        lost=frozenset({"backward[cpu]"}),
        hints={"backward[cpu]": "1/m"},
    ),
    Case(
        "backward_sign.py",  # y - yhat: training climbs the loss
        lost=frozenset({"backward[cpu]", "learns[cpu]"}),
        hints={"backward[cpu]": "sign is flipped"},
    ),
    Case(
        "dw_transposed.py",  # dw of shape (1, dim): w - lr * dw broadcasts w to (dim, dim) during training
        lost=frozenset({"backward[cpu]", "learns[cpu]"}),
        hints={"backward[cpu]": "transposed", "learns[cpu]": ("shape (3, 3)", "w changed shape during training")},
    ),
    Case(
        "backward_mse_gradient.py",  # dz = (yhat - y) * yhat * (1 - yhat): the squared error's gradient
        lost=frozenset({"backward[cpu]"}),
        hints={"backward[cpu]": ("gradient of the squared error", "dz = yhat - y")},
    ),
    Case(
        "naive_sigmoid.py",  # exp(z) / (1 + exp(z)): inf / inf = NaN for z = 100, 1000
        lost=frozenset({"sigmoid_stable[cpu]"}),
        hints={"sigmoid_stable[cpu]": "exp(z) / (1 + exp(z))"},
    ),
    Case(
        "backward_autograd_leaf.py",  # loss.backward() on a leaf copy of yhat, then the chain rule by hand
        lost=frozenset({"backward_without_autograd[cpu]"}),
        hints={"backward_without_autograd[cpu]": (AUTOGRAD, "backward_autograd_leaf.py, line 28")},
    ),
    Case(
        "backward_autograd_grad.py",  # recomputes the loss from copies of self.w, self.b; torch.autograd.grad
        lost=frozenset({"backward_without_autograd[cpu]"}),
        hints={"backward_without_autograd[cpu]": AUTOGRAD},
    ),
    Case(
        "optimize_ascent.py",
        lost=frozenset({"optimize[cpu]", "learns[cpu]"}),
        hints={"optimize[cpu]": "uphill"},
    ),
    Case(
        "optimize_not_assigned.py",  # w = self.w - ...: a local variable, self.w never changes
        lost=frozenset({"optimize[cpu]", "learns[cpu]"}),
        hints={"optimize[cpu]": "assign the result back"},
    ),
    Case(
        "optimize_forgets_b.py",  # only w is updated; b stays 0, which the data set's plane through the origin allows
        lost=frozenset({"optimize[cpu]"}),
        hints={"optimize[cpu]": "optimize must update b too"},
    ),
    Case(
        "w_float64.py",  # torch.zeros((dim, 1), dtype=float) is float64; training on float32 data then fails
        lost=frozenset({"initial_state[cpu]", "learns[cpu]"}),
        hints={"initial_state[cpu]": "float32", "learns[cpu]": "w_float64.py, line 17"},
    ),
    Case(
        "cuda_dot_cuda.py",  # .cuda() on every tensor of __init__: LR(dim) cannot be built without a GPU
        lost=ALL,
        hints={"builds": ("module-level `device`", "cuda_dot_cuda.py, line 10")},
    ),
    Case(
        "cuda_device_kwarg.py",  # grads created with device="cuda" in __init__
        lost=ALL,
        hints={"builds": ("module-level `device`", "cuda_device_kwarg.py, line 12")},
    ),
    Case(
        "missing_optimize.py",  # everything else works and earns its points
        lost=frozenset({"optimize[cpu]", "learns[cpu]"}),
        hints={"optimize[cpu]": "def optimize(self"},
    ),
    Case(
        "init_typo.py",  # def __init(self, dim, ...): Python mangles the name to _LR__init
        lost=ALL,
        hints={"builds": ("`__init`", "Rename it to `__init__`")},
        absent=("_LR__init",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    path = ZOO / "manual_lr" / case.file
    doc = zoo_results("manual_lr")[case.file]
    jsonschema.validate(doc, schema)
    assert doc["status"] == "graded", doc["errors"]
    assert doc["submission"]["kind"] == path.suffix.lstrip(".")
    messages = "\n".join(f"{c['id']}: {c['message']}" for c in doc["checks"] if c["id"] in failed_ids(doc))
    assert failed_ids(doc) == set(case.lost), messages
    assert doc["max_score"] == FULL
    assert doc["score"] == FULL - sum(c["max_score"] for c in doc["checks"] if c["id"] in case.lost)
    for check_id, texts in case.hints.items():
        entry = check_by_id(doc, check_id)
        for text in (texts,) if isinstance(texts, str) else texts:
            assert text in (entry["hint"] or "") + "\n" + entry["message"], entry
    assert len(doc["errors"]) == len(case.errors), doc["errors"]
    for expected in case.errors:
        assert any(expected.matches(entry) for entry in doc["errors"]), (expected, doc["errors"])
    said = json.dumps(doc)
    for text in case.absent:
        assert text not in said, f"{text!r} is grader or Python internals, not what the student wrote"
