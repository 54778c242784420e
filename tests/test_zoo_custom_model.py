"""The custom_model zoo: each submission with the outcome it must get, run through the real CLI.

Every row says which checks must lose their points (a check skipped because a prerequisite failed counts
as lost) and what the failing checks' hint or message must say. The notebook is written by
``tests/zoo/custom_model/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import grade_zoo_case

FULL = 10.0

STRUCTURE = frozenset({"submodules_registered", "parameter_count"})
VALUES = frozenset({"forward_values[cpu]", "gradients[cpu]"})
#: Wrong layers: the structure, the shape and everything that needs the grader's weights loaded.
WRONG_LAYERS = STRUCTURE | VALUES | {"output_shape[cpu]"}
#: Layers the module does not hold: the structure, the values, and model.to().
UNREGISTERED = STRUCTURE | VALUES | {"follows_to[cpu]"}
CREATED_IN_FORWARD = "a layer created inside forward"


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_relu_modules.py"),  # nn.ReLU attributes as extra children, keyword arguments, super(Model, self)
    Case("correct_sequential_alias.py"),  # nn.Sequential, with conv1/conv2 also assigned to the same layers
    Case("correct_functional.py"),  # F.conv2d with the layers' weights, clamp(min=0) as the ReLU
    Case("correct_notebook.ipynb"),  # the documentation's example typed in a notebook, with cells that try it
    # Realistic mistakes: the right checks lose their points, with the right hint.
    Case(
        "layers_in_list.py",  # self.convs = [nn.Conv2d(...), nn.Conv2d(...)]
        lost=UNREGISTERED,
        hints={
            "submodules_registered": ("self.convs is a Python list of modules; use nn.ModuleList",
                                      "self.conv1 = nn.Conv2d(1, 20, 5)"),
            "parameter_count": ("0 parameters", "Nothing is registered: self.convs"),
            "follows_to[cpu]": ("layers_in_list.py, line 14", "self.convs"),
        },
    ),
    Case(
        "module_list.py",  # registered in an nn.ModuleList, but no attributes conv1, conv2
        lost=frozenset({"submodules_registered"}) | VALUES,
        hints={"submodules_registered": ("named_children(): layers (ModuleList)", "direct attributes conv1 and conv2")},
    ),
    Case(
        "no_relu_after_conv2.py",  # return self.conv2(x)
        lost=VALUES,
        hints={"forward_values[cpu]": "The ReLU after conv2 is missing",
               "gradients[cpu]": "the ReLU after conv2 is missing"},
    ),
    Case(
        "sigmoid.py",
        lost=VALUES,
        hints={"forward_values[cpu]": "A sigmoid replaces the ReLU after both convolutions",
               "gradients[cpu]": "a sigmoid replaces the ReLU after both convolutions"},
    ),
    Case(
        "conv2_ten_channels.py",  # nn.Conv2d(20, 10, 5)
        lost=WRONG_LAYERS,
        hints={
            "submodules_registered": ("conv2 is Conv2d(20, 10, kernel_size=(5, 5))", "out_channels is 10, not 20"),
            "parameter_count": ("5,530 parameters", "conv2.weight: (10, 20, 5, 5) instead of (20, 20, 5, 5)"),
            "output_shape[cpu]": ("shape (1, 10, 20, 20)", "10 channels"),
        },
    ),
    Case(
        "kernel_three.py",  # nn.Conv2d(1, 20, 3), nn.Conv2d(20, 20, 3)
        lost=WRONG_LAYERS,
        hints={
            "submodules_registered": ("conv1 is Conv2d(1, 20, kernel_size=(3, 3))",
                                      "kernel_size is (3, 3), not (5, 5)"),
            "parameter_count": "3,820 parameters",
            "output_shape[cpu]": ("shape (1, 20, 24, 24)", "kernel_size (5)"),
        },
    ),
    Case(
        "bias_false.py",  # nn.Conv2d(..., bias=False)
        lost=STRUCTURE | VALUES,
        hints={
            "submodules_registered": "conv1 is Conv2d(1, 20, kernel_size=(5, 5), bias=False)",
            "parameter_count": ("10,500 parameters", "do not pass bias=False"),
        },
    ),
    Case(
        "conv2_in_forward.py",  # conv2 = nn.Conv2d(20, 20, 5) inside forward
        lost=UNREGISTERED,
        hints={
            "submodules_registered": ("no submodule named conv2", CREATED_IN_FORWARD),
            "parameter_count": ("520 parameters", "Missing: conv2.weight, conv2.bias"),
            "follows_to[cpu]": ("conv2_in_forward.py, line 14", CREATED_IN_FORWARD),
        },
    ),
    Case(
        "conv2_recreated_in_forward.py",  # self.conv2 made in __init__ and made again in forward
        lost=VALUES | {"follows_to[cpu]"},
        hints={
            "forward_values[cpu]": ("the same output each time forward runs", "forward assigns self.conv2"),
            "gradients[cpu]": "forward assigns self.conv2",
        },
    ),
    Case(
        "detached_conv1.py",  # F.relu(self.conv1(x)).data
        lost=frozenset({"gradients[cpu]"}),
        hints={"gradients[cpu]": ("conv1.weight.grad is None", "cut from the graph")},
    ),
    Case(
        "no_grad_forward.py",  # with torch.no_grad(): around the whole forward
        lost=frozenset({"gradients[cpu]"}),
        hints={"gradients[cpu]": ("does not require grad", "torch.no_grad()")},
    ),
    Case(
        "forward_cuda.py",  # x = x.cuda() in forward, graded without a GPU
        lost=VALUES | {"output_shape[cpu]", "follows_to[cpu]"},
        hints={"output_shape[cpu]": ("forward_cuda.py, line 13", "do not hard-code .cuda()")},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = grade_zoo_case("custom_model", case.file, case.lost, case.hints, schema, FULL, zoo_results)
    assert 0 < doc["score"] or not case.lost, "a realistic mistake should keep partial credit"
    assert doc["errors"] == []
