"""The custom_function zoo: each submission with the outcome it must get, run through the real CLI.

Every row says which checks must lose their points and what the failing checks' hint or message must say.
The notebook is written by ``tests/zoo/custom_function/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import grade_zoo_case

FULL = 10.0
GRADCHECKS = frozenset({"gradcheck_with_bias[cpu]", "gradcheck_without_bias[cpu]"})
# Judged on its own (issue 13: it depends on no other check): lost when the module's own output or gradients are
# wrong, or its backward raises, whatever else failed.
MODULE = "used_in_a_module[cpu]"
SAVE_ALL = "ctx.save_for_backward(input, weight, bias)"


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # texts the results' notes must contain


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_einsum.py"),  # einsum in forward and backward, no needs_input_grad
    Case("correct_ctx_attributes.py"),  # ctx.input / ctx.weight instead of save_for_backward, F.linear, 2 gradients
    Case("correct_notebook.ipynb"),  # @ and .T, and a gradcheck cell of its own in the notebook
    # What torch.autograd.Function accepts is accepted (issue 13): full marks.
    Case("setup_context_style.py"),  # forward without ctx and a separate setup_context(ctx, inputs, output)
    Case("ctx_named_self.py"),  # ctx named `self` in forward and `context` in backward
    # Gradients judged as autograd delivers them: a shape the input broadcasts to is summed to the input's shape
    # by the engine (sum_to_size), and .grad, gradcheck and training all get the right gradient.
    Case("bias_not_summed.py"),  # grad_bias = grad_output, shape (N, out): the engine sums it to grad_output.sum(0)
    Case("bias_keepdim.py"),  # grad_bias = grad_output.sum(0, keepdim=True), shape (1, out)
    # Realistic mistakes: the right checks lose their points, with the right hint.
    Case(
        "grad_weight_transposed.py",  # input.t().mm(grad_output): (in, out) instead of (out, in)
        lost=GRADCHECKS | {MODULE},
        hints={"gradcheck_with_bias[cpu]": ("grad_weight (the gradient for `weight`)", "shape (3, 2)",
                                            "grad_weight is transposed"),
               MODULE: ("invalid gradient at index 1", "grad_weight has shape [5, 3]")},
    ),
    Case(
        "bias_mean_keepdim.py",  # grad_bias = grad_output.mean(0, keepdim=True): the shape is fine, the values not
        lost=frozenset({"gradcheck_with_bias[cpu]", MODULE}),
        hints={"gradcheck_with_bias[cpu]": ("grad_bias (the gradient for `bias`)", "backward returned shape (1, 2)",
                                            "autograd sums that", "not the mean"),
               MODULE: ("layer 1's bias.grad", "not the mean")},
    ),
    Case(
        "bias_summed_wrong_dim.py",  # grad_bias = grad_output.sum(1), shape (N,): the engine rejects it too
        lost=frozenset({"gradcheck_with_bias[cpu]", MODULE}),
        hints={"gradcheck_with_bias[cpu]": ("grad_bias (the gradient for `bias`)", "shape (4,)",
                                            "summed over the wrong dimension"),
               MODULE: "grad_bias has shape [6]"},
    ),
    # A bias without a default costs one point, in the signature check; the bias-free checks call apply(..., None).
    Case(
        "bias_no_default.py",  # forward(ctx, input, weight, bias)
        lost=frozenset({"defines_function"}),
        hints={"defines_function": ("bias optional", "forward(ctx, input, weight, bias): bias has no default",
                                    "def forward(ctx, input, weight, bias=None)")},
        notes=("LinearFunction.apply(input, weight, None)",),
    ),
    Case(
        "setup_context_no_default.py",  # forward(input, weight, bias) with setup_context
        lost=frozenset({"defines_function"}),
        hints={"defines_function": ("your class defines setup_context", "bias has no default",
                                    "def forward(input, weight, bias=None)")},
        notes=("LinearFunction.apply(input, weight, None)",),
    ),
    Case(
        "bias_grad_when_none.py",  # grad_output.sum(0) returned even for apply(input, weight)
        lost=frozenset({"gradcheck_without_bias[cpu]"}),
        hints={"gradcheck_without_bias[cpu]": ("grad_bias to be None", "if bias is not None")},
    ),
    Case(
        "needs_input_grad_index.py",  # ctx.needs_input_grad[2] without checking `bias is not None`
        lost=frozenset({"gradcheck_without_bias[cpu]"}),
        hints={"gradcheck_without_bias[cpu]": ("IndexError", "needs_input_grad_index.py, line 22",
                                               "ctx.needs_input_grad has two entries")},
    ),
    Case(
        "grad_input_weight_t.py",  # grad_output.mm(weight.t()): shapes do not fit
        lost=GRADCHECKS | {MODULE},
        hints={"gradcheck_with_bias[cpu]": ("shapes cannot be multiplied", "grad_input_weight_t.py, line 17",
                                            "grad_input = grad_output @ weight")},
    ),
    Case(
        "too_few_gradients.py",  # return grad_input, grad_weight (bias forgotten)
        lost=frozenset({"gradcheck_with_bias[cpu]", MODULE}),
        hints={"gradcheck_with_bias[cpu]": ("3 values", "2 values", "incorrect number of gradients")},
    ),
    Case(
        "forward_forgets_bias.py",  # forward is input @ weight.T; backward is right: gradcheck still fails
        lost=frozenset({"forward[cpu]", "gradcheck_with_bias[cpu]", MODULE}),
        hints={
            "forward[cpu]": "bias is left out",
            "gradcheck_with_bias[cpu]": ("gradcheck(LinearFunction.apply, (input, weight, bias)) failed for `bias`",
                                         "numerical derivative of YOUR forward"),
            MODULE: ("the module's output", "bias is left out"),
        },
    ),
    Case(
        "needs_input_grad_swapped.py",  # grad_input under needs_input_grad[1], grad_weight under [0]
        lost=frozenset({MODULE}),
        hints={MODULE: ("layer 1's weight.grad", "None", "ctx.needs_input_grad")},
    ),
    Case(
        "saved_without_bias.py",  # save_for_backward(input, weight); input, weight, bias = ctx.saved_tensors
        lost=GRADCHECKS | {MODULE},
        hints={"gradcheck_with_bias[cpu]": ("not enough values to unpack", SAVE_ALL), MODULE: SAVE_ALL},
    ),
    Case(
        "bias_grad_total_sum.py",  # grad_bias = grad_output.sum(): a single number
        lost=frozenset({"gradcheck_with_bias[cpu]", MODULE}),
        hints={"gradcheck_with_bias[cpu]": ("grad_bias (the gradient for `bias`)", "grad_output.sum(0)"),
               MODULE: "grad_bias has shape []"},
    ),
    Case(
        "backward_not_static.py",  # works through apply, but backward lacks @staticmethod
        lost=frozenset({"defines_function"}),
        hints={"defines_function": ("backward to be a @staticmethod", "@staticmethod")},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = grade_zoo_case("custom_function", case.file, case.lost, case.hints, schema, FULL, zoo_results)
    assert doc["errors"] == [], doc["errors"]
    for text in case.notes:
        assert any(text in note for note in doc["notes"]), doc["notes"]
    if not case.notes:
        assert not any("bias has no default" in note for note in doc["notes"]), doc["notes"]
