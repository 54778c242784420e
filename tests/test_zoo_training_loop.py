"""The training_loop zoo: each submission with the outcome it must get, run through the real CLI.

Every row says which checks must lose their points and what the failing checks' hint or message must say.
No training_loop check depends on another (issue 13): each runs the student's code itself. The notebooks
are written by ``tests/zoo/training_loop/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import grade_zoo_case

FULL = 13.0
TRAIN = frozenset({
    "epochs_count", "returns_floats", "loss_values[cpu]", "trained_parameters[cpu]", "fresh_gradients[cpu]",
    "step_after_backward[cpu]",
})
EVALUATE = frozenset({
    "evaluate_accuracy[cpu]", "evaluate_returns_float", "evaluate_eval_mode[cpu]", "evaluate_no_graph[cpu]",
})
WRONG_RUN = frozenset({"loss_values[cpu]", "trained_parameters[cpu]"})
ZERO_GRAD = "Call optimizer.zero_grad() each iteration; without it gradients from earlier epochs add up"
STEP_FIRST = "step() ran before backward(): the first step sees no gradient"
ZEROED = "zero_grad() between backward() and step() throws the gradient away"


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_zero_grad_at_end.py"),  # zero_grad before the loop and after step(); inference_mode; max(1)
    Case("correct_model_zero_grad.py"),  # model.zero_grad(), model.forward(x), detached losses, @torch.no_grad()
    Case("correct_notebook.ipynb"),  # zero_grad(set_to_none=False), float(loss), a counting loop, a demo cell
    # Realistic mistakes: the right checks lose their points, with the right hint.
    Case(
        "no_zero_grad.py",
        lost=WRONG_RUN | {"fresh_gradients[cpu]"},
        hints={"fresh_gradients[cpu]": (ZERO_GRAD, "backward() number 2 of 5"),
               "trained_parameters[cpu]": "gradients accumulate", "loss_values[cpu]": ZERO_GRAD},
    ),
    Case(
        "step_before_backward.py",  # zero_grad, forward, loss, step, backward: nothing ever changes
        lost=WRONG_RUN | {"step_after_backward[cpu]"},
        hints={"step_after_backward[cpu]": (STEP_FIRST, "step() number 1"),
               "loss_values[cpu]": ("The loss never changes", STEP_FIRST),
               "trained_parameters[cpu]": ("did not change", STEP_FIRST)},
    ),
    Case(
        "zero_grad_between.py",  # forward, loss, backward, zero_grad, step
        lost=WRONG_RUN | {"step_after_backward[cpu]"},
        hints={"step_after_backward[cpu]": ZEROED, "trained_parameters[cpu]": ZEROED},
    ),
    Case(
        "losses_as_tensors.py",  # losses.append(loss): the values are right, the type is not
        lost=frozenset({"returns_floats"}),
        hints={"returns_floats": ("loss.item()", "0-d torch.Tensor", "requires_grad=True")},
    ),
    Case("nb_losses_as_tensors.ipynb", lost=frozenset({"returns_floats"}), hints={"returns_floats": "loss.item()"}),
    # A wrong number of epochs (issue 13): the count is charged in epochs_count, and the parameters (trained for
    # the wrong number of steps) in trained_parameters; the losses of the epochs that did run are judged and right.
    Case(
        "range_one_to_epochs.py",  # for epoch in range(1, epochs): the protocol is right, one epoch is missing
        lost=frozenset({"epochs_count", "trained_parameters[cpu]"}),
        hints={"epochs_count": ("a list of 5 losses", "4 values", "range(epochs)", "one time fewer"),
               "trained_parameters[cpu]": "4 optimizer steps instead of 5"},
    ),
    Case(
        "while_le_epochs.py",  # epoch = 0; while epoch <= epochs: one epoch too many
        lost=frozenset({"epochs_count", "trained_parameters[cpu]"}),
        hints={"epochs_count": ("a list of 5 losses", "6 values", "The loop ran 6 times", "one time more"),
               "trained_parameters[cpu]": "6 optimizer steps instead of 5"},
    ),
    Case(
        "zero_grad_before_loop.py",  # zero_grad() once, before the loop: gradients add up from epoch 2 on
        lost=WRONG_RUN | {"fresh_gradients[cpu]"},
        hints={"fresh_gradients[cpu]": ("not between one backward() and the next", "backward() number 2 of 5"),
               "trained_parameters[cpu]": "gradients accumulate", "loss_values[cpu]": "gradients from earlier epochs"},
    ),
    Case(
        "running_loss.py",  # running_loss += loss.item(); losses.append(running_loss): a running total
        lost=frozenset({"loss_values[cpu]"}),
        hints={"loss_values[cpu]": ("running total", "losses.append(loss.item())")},
    ),
    Case(
        "forward_outside_loop.py",  # the second backward() finds the graph freed; evaluate still earns its points
        lost=TRAIN,
        hints={"epochs_count": ("backward through the graph a second time", "forward_outside_loop.py, line 11",
                                "inside the loop")},
    ),
    Case(
        "evaluate_no_eval.py",
        lost=frozenset({"evaluate_eval_mode[cpu]"}),
        hints={"evaluate_eval_mode[cpu]": ("model.eval()", "ran in training mode")},
    ),
    Case(
        "evaluate_no_no_grad.py",  # model(inputs).detach(): the graph was recorded first
        lost=frozenset({"evaluate_no_graph[cpu]"}),
        hints={"evaluate_no_graph[cpu]": ("torch.no_grad()", ".detach() on the output is too late")},
    ),
    Case(
        "accuracy_percent.py",  # 100 * correct / total
        lost=frozenset({"evaluate_accuracy[cpu]"}),
        hints={"evaluate_accuracy[cpu]": "percentage"},
    ),
    Case(
        "accuracy_count.py",  # the number of right predictions, an int
        lost=frozenset({"evaluate_accuracy[cpu]", "evaluate_returns_float"}),
        hints={"evaluate_accuracy[cpu]": "number of correct predictions", "evaluate_returns_float": "an int"},
    ),
    Case(
        "argmax_without_dim.py",  # torch.argmax(outputs): only the accuracy is wrong; eval mode and no_grad are right
        lost=frozenset({"evaluate_accuracy[cpu]"}),
        hints={"evaluate_accuracy[cpu]": ("without dim=", "torch.argmax(outputs, dim=1)")},
    ),
    Case(
        "evaluate_tensor.py",  # torch.sum(...) / len(labels): a 0-d tensor with the right value
        lost=frozenset({"evaluate_returns_float"}),
        hints={"evaluate_returns_float": ("accuracy.item()", "0-d torch.Tensor")},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = grade_zoo_case("training_loop", case.file, case.lost, case.hints, schema, FULL, zoo_results)
    assert doc["errors"] == []
    assert 0 < doc["score"] <= FULL
