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
#: Layers that exist and are called, but that the module does not register (a plain list or dict): what
#: registration is for fails (named_children(), parameters(), model.to()); forward and the gradients are
#: judged on the layers themselves (by role), and pass.
UNREGISTERED = STRUCTURE | {"follows_to[cpu]"}
#: A layer created inside forward: as UNREGISTERED, and forward is random (the grader cannot load its weights).
CREATED_IN_FORWARD_LOST = UNREGISTERED | VALUES
#: The only check that charges a consistent design under other names or in a container (issue 13).
NAMING = frozenset({"submodules_registered"})
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
    Case("correct_list_alias.py"),  # conv1/conv2 attributes, plus a plain list pointing at them to loop over
    # Realistic mistakes: the right checks lose their points, with the right hint.
    Case(
        "layers_in_list.py",  # self.convs = [nn.Conv2d(...), nn.Conv2d(...)]
        # Was UNREGISTERED | VALUES: forward and the gradients were skipped behind submodules_registered. The
        # layers compute the right function and receive their gradients; only registration is wrong (issue 13).
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
        # Was NAMING | VALUES (the grader loaded its weights by name only). The layout is consistent: forward and
        # the gradients are judged on layers[0] and layers[1], and only the form check charges it (issue 13).
        lost=NAMING,
        hints={"submodules_registered": ("named_children(): layers (ModuleList)", "direct attributes conv1 and conv2",
                                         "only check that costs you points")},
    ),
    Case(
        "renamed_layers.py",  # self.c1, self.c2: registered, right sizes, other names
        lost=NAMING,
        hints={"submodules_registered": ("no submodule named conv1 or conv2",
                                         "The assignment asks for `conv1` and `conv2`; your model defines `c1` and "
                                         "`c2`", "only check that costs you points")},
    ),
    Case(
        "sequential_only.py",  # self.net = nn.Sequential(conv, ReLU, conv, ReLU), no conv1/conv2 attributes
        lost=NAMING,
        hints={"submodules_registered": ("named_children(): net (Sequential)", "direct attributes conv1 and conv2",
                                         "only check that costs you points")},
    ),
    Case(
        "layers_in_dict.py",  # self.layers = {"conv1": nn.Conv2d(...), "conv2": nn.Conv2d(...)}, a plain dict
        lost=UNREGISTERED,
        hints={
            "submodules_registered": ("self.layers is a Python dict of modules; use nn.ModuleDict",
                                      "self.conv1 = nn.Conv2d(1, 20, 5)"),
            "parameter_count": ("0 parameters", "Nothing is registered: self.layers"),
            "follows_to[cpu]": "self.layers",
        },
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
        lost=CREATED_IN_FORWARD_LOST,
        hints={
            "submodules_registered": ("no submodule named conv2", CREATED_IN_FORWARD),
            "parameter_count": ("520 parameters", "Missing: conv2.weight, conv2.bias"),
            "forward_values[cpu]": ("no nn.Conv2d for conv2", CREATED_IN_FORWARD),
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


def _checks_module() -> Any:
    """assignments/custom_model/checks.py, imported by path (the assignments are not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "assignments" / "custom_model" / "checks.py"
    spec = importlib.util.spec_from_file_location("custom_model_checks_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layer_in_a_container_that_plays_a_role_explains_no_wrong_value() -> None:
    """A Conv2d in a plain list that plays conv1 got the grader's weights, like a registered one: a wrong value
    of forward is not blamed on the list (submodules_registered charges the list). One that plays no role is."""
    checks = _checks_module()
    layer = {"type": "Conv2d", "is_conv2d": True, "in_channels": 1, "out_channels": 20, "kernel_size": [5, 5],
             "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True,
             "padding_mode": "zeros", "name": None, "held_in": "self.convs[0]"}
    assert checks._call_problem({"calls": [{**layer, "role": "conv1"}], "reassigned": []}) is None
    problem = checks._call_problem({"calls": [{**layer, "role": None}], "reassigned": []})
    assert problem is not None and "self.convs[0], a plain Python container" in problem
