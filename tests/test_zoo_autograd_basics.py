"""The autograd_basics zoo: each submission with the outcome it must get, run through the real CLI.

Every row says which checks must lose their points and what the failing checks' hint or message must say.
The notebook is written by ``tests/zoo/autograd_basics/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import grade_zoo_case

FULL = 9.0
Q_CHECKS = frozenset({"q_function_values[cpu]", "q_function_differentiable[cpu]"})
GRADIENT_CHECKS = frozenset({
    "course_example[cpu]", "random_shapes[cpu]", "external_gradient_used[cpu]", "no_accumulation[cpu]",
    "caller_untouched[cpu]",
})
COPY = "a.detach().clone().requires_grad_(True)"


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_autograd_grad.py"),  # torch.autograd.grad(Q, (a2, b2), grad_outputs=external_grad)
    Case("correct_functional_vjp.py"),  # torch.autograd.functional.vjp, which detaches the inputs itself
    Case("correct_course_notebook.ipynb"),  # course-notes cells with top-level a, b; requires_grad = True on copies
    # Realistic mistakes: the right checks lose their points, with the right hint.
    Case(
        "sum_backward.py",  # Q.sum().backward(): right only when external_grad is all ones
        lost=frozenset({"external_gradient_used[cpu]"}),
        hints={"external_gradient_used[cpu]": ("external_grad is not used", "do not call Q.sum().backward()")},
    ),
    Case(
        "g_twice.py",  # (Q * external_grad).backward(gradient=external_grad)
        lost=frozenset({"external_gradient_used[cpu]"}),
        hints={"external_gradient_used[cpu]": "applied twice"},
    ),
    Case(
        "hand_computed.py",  # 9 * a**2 * external_grad: right values, no autograd
        lost=frozenset({"external_gradient_used[cpu]"}),
        hints={"external_gradient_used[cpu]": ("no backward pass ran", "Q.backward(gradient=external_grad)")},
    ),
    Case(
        "caller_requires_grad.py",  # a.requires_grad_() on the caller's tensors
        lost=frozenset({"no_accumulation[cpu]", "caller_untouched[cpu]"}),
        hints={
            "no_accumulation[cpu]": ("twice the first result", "accumulated", COPY),
            "caller_untouched[cpu]": ("keep requires_grad=False", "a.requires_grad_()"),
        },
    ),
    Case(
        "clone_without_detach.py",  # a.clone().requires_grad_(): not a leaf when the caller's a requires grad
        lost=frozenset({"caller_untouched[cpu]"}),
        hints={"caller_untouched[cpu]": ("a.grad to stay None", "a.clone() without .detach()", COPY)},
    ),
    Case(
        "a_squared.py",  # Q = 3a^2 - b^2: the function is wrong, so are the gradients built on it
        lost=Q_CHECKS | {"course_example[cpu]", "random_shapes[cpu]", "external_gradient_used[cpu]"},
        hints={
            "q_function_values[cpu]": "3a^2 - b^2",
            "q_function_differentiable[cpu]": "derivative of 3a^2",
            "course_example[cpu]": ("[12, 18]", "gradients of 3a^2"),
            "external_gradient_used[cpu]": "gradients of 3a^2",
        },
    ),
    Case(
        "torch_tensor_q.py",  # torch.tensor(3*a**3 - b**2): the right values, cut from the graph
        lost=GRADIENT_CHECKS | {"q_function_differentiable[cpu]"},
        hints={
            "q_function_differentiable[cpu]": ("grad_fn", "torch.tensor(...)"),
            "course_example[cpu]": ("does not require grad", "torch_tensor_q.py, line 14", "not connected"),
        },
    ),
    Case(
        "no_gradient_argument.py",  # Q.backward() on a vector Q
        lost=GRADIENT_CHECKS,
        hints={"course_example[cpu]": ("only for scalar outputs", "Q.backward(gradient=external_grad)")},
    ),
    Case(
        "two_backward_calls.py",  # Q.backward() once for a.grad, once more for b.grad: the graph is freed by then
        lost=GRADIENT_CHECKS,
        hints={"course_example[cpu]": ("backward through the graph a second time", "two_backward_calls.py, line 15",
                                       "fills both a.grad and b.grad")},
    ),
    Case(
        "requires_grad_before_clone.py",  # a.detach().requires_grad_(True).clone(): .grad of a non-leaf is None
        lost=GRADIENT_CHECKS - {"caller_untouched[cpu]"},
        hints={"course_example[cpu]": ("the gradient for a", "None", "requires_grad_ last, not before .clone()")},
    ),
    Case(
        "b_not_requires_grad.py",  # only a's copy requires grad: b.grad stays None
        lost=GRADIENT_CHECKS - {"caller_untouched[cpu]"},
        hints={"course_example[cpu]": ("the gradient for b", "None", COPY)},
    ),
    Case(
        "no_grad_around_q.py",  # Q = q_function(a, b) under torch.no_grad(): Q has no grad_fn, backward fails
        lost=GRADIENT_CHECKS,
        hints={"course_example[cpu]": ("does not require grad", "not connected", "torch.no_grad()")},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = grade_zoo_case("autograd_basics", case.file, case.lost, case.hints, schema, FULL, zoo_results)
    assert doc["errors"] == [], doc["errors"]
