"""The my_sgd zoo: each submission with the outcome it must get, run through the real CLI.

Also keeps the judge's own SGD (``simulate`` in the checks) equal to ``torch.optim.SGD``: every check,
run in-process with ``torch.optim.SGD`` itself as the submission, must pass, and every known mistake
the checks name must produce a trajectory clearly apart from SGD's and from the other mistakes'.
The notebooks are written by ``tests/zoo/my_sgd/make_notebooks.py`` (nbformat).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from conftest import ROOT, check_by_id, grade_zoo_case

FULL = 12.0
ALL = frozenset({
    "builds", "defaults", "plain_sgd[cpu]", "weight_decay[cpu]", "momentum[cpu]", "momentum_weight_decay[cpu]",
    "param_groups[cpu]", "skips_params_without_grad[cpu]", "state_dict_round_trip[cpu]", "lr_change[cpu]",
    "closure",
})
#: What a submission whose updates never work keeps: building it and its defaults. No check depends on another
#: (issue 13): each run is judged by what it does, so these fail on their own, none is skipped.
NO_STEP = ALL - {"builds", "defaults"}
#: Momentum wrong: every run that uses momentum differs from SGD, and its verdict names the momentum mistake.
MOMENTUM_AND_AFTER = frozenset({
    "momentum[cpu]", "momentum_weight_decay[cpu]", "param_groups[cpu]", "state_dict_round_trip[cpu]",
    "lr_change[cpu]",
})
#: No param_groups and no state: what needs them cannot run, and builds charges the form once.
NO_OPTIMIZER_STATE = frozenset({"builds", "param_groups[cpu]", "state_dict_round_trip[cpu]", "lr_change[cpu]"})
WEIGHT_DECAY_AND_AFTER = frozenset({
    "weight_decay[cpu]", "momentum_weight_decay[cpu]", "param_groups[cpu]", "skips_params_without_grad[cpu]",
})


@dataclass(frozen=True)
class Case:
    file: str
    lost: frozenset[str] = frozenset()  # ids of the checks that must lose their points
    # check id -> text (or several texts) its hint or message must contain
    hints: dict[str, str | tuple[str, ...]] = field(default_factory=dict)


CASES = [
    # Correct submissions in other styles than the reference: full marks.
    Case("correct_zeros_buffer.py"),  # zero-initialised buffer, no_grad inside the loop, dict literal defaults
    Case("correct_foreach.py"),  # torch._foreach_* per group, out-of-place buffers stored back in self.state
    Case("correct_notebook_data.ipynb"),  # old course-notes style: no @torch.no_grad(), updates through .data
    # Realistic mistakes: the right checks lose their points, and the hint names the hyper-parameter.
    Case("dampening.py", lost=MOMENTUM_AND_AFTER, hints={"momentum[cpu]": ("momentum is dampened", "step 1 of 20"),
                                                         "state_dict_round_trip[cpu]": "momentum is dampened",
                                                         "lr_change[cpu]": "momentum is dampened"}),
    Case("momentum_not_kept.py", lost=MOMENTUM_AND_AFTER, hints={"momentum[cpu]": "momentum has no effect"}),
    Case(
        "wd_after_momentum.py",
        lost=frozenset({"momentum_weight_decay[cpu]", "param_groups[cpu]"}),
        hints={"momentum_weight_decay[cpu]": "weight_decay is applied after the momentum"},
    ),
    Case("wd_sign.py", lost=WEIGHT_DECAY_AND_AFTER,
         hints={"weight_decay[cpu]": "weight_decay has the wrong sign",
                "skips_params_without_grad[cpu]": "weight_decay has the wrong sign"}),
    Case(
        "wd_twice_notebook.ipynb",  # the gradient of wd * ||p||^2: 2 * wd * p
        lost=WEIGHT_DECAY_AND_AFTER,
        hints={"weight_decay[cpu]": "weight_decay is doubled"},
    ),
    Case(
        "self_defaults.py",  # lr, momentum, weight_decay read from self.defaults
        lost=frozenset({"param_groups[cpu]", "lr_change[cpu]"}),
        hints={"param_groups[cpu]": ("default hyper-parameters", "group['lr']"), "lr_change[cpu]": "read once"},
    ),
    Case(
        "buffers_by_id.py",
        lost=frozenset({"state_dict_round_trip[cpu]"}),
        hints={"state_dict_round_trip[cpu]": ("self.state[p]['momentum_buffer']", "after step 11")},
    ),
    Case(
        "grad_none_crash.py",
        lost=frozenset({"skips_params_without_grad[cpu]"}),
        hints={"skips_params_without_grad[cpu]": ("if p.grad is None: continue", "grad_none_crash.py, line 18")},
    ),
    Case(
        "grad_none_as_zero.py",
        lost=frozenset({"skips_params_without_grad[cpu]"}),
        hints={"skips_params_without_grad[cpu]": ("treated as zero", "if p.grad is None: continue")},
    ),
    Case("rebinds_p.py", lost=NO_STEP, hints={"plain_sgd[cpu]": ("never change", "only rebinds the loop variable"),
                                              "momentum[cpu]": "never change", "param_groups[cpu]": "never change"}),
    Case(
        "no_torch_no_grad.py",
        lost=NO_STEP,
        hints={"plain_sgd[cpu]": ("@torch.no_grad()", "no_torch_no_grad.py, line 24")},
    ),
    Case(
        "velocity.py",  # v = m * v + lr * g; p -= v: right while the lr stays constant
        lost=frozenset({"lr_change[cpu]"}),
        hints={"lr_change[cpu]": ("inside the momentum buffer", "after step 8")},
    ),
    Case(
        "closure_no_enable_grad.py",
        lost=frozenset({"closure"}),
        hints={"closure": ("torch.enable_grad()", "closure_no_enable_grad.py, line 14")},
    ),
    Case("default_lr_001.py", lost=frozenset({"defaults"}), hints={"defaults": "lr=1e-3"}),
    # Form mistakes (issue 13): charged once, in builds; every trajectory is judged by what the steps do, and a
    # check that cannot run without what Optimizer.__init__ builds says so.
    Case(
        "missing_wd_key.py",  # defaults without 'weight_decay', kept in self.weight_decay: only the groups' own wd
        lost=frozenset({"builds", "param_groups[cpu]"}),  # is lost: 10/12
        hints={"builds": ("'weight_decay'", "defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)"),
               "param_groups[cpu]": "group['weight_decay']"},
    ),
    Case(
        "lr_attribute.py",  # lr in self.lr, out of the defaults: the groups' lr and a scheduler's are ignored: 9/12
        lost=frozenset({"builds", "param_groups[cpu]", "lr_change[cpu]"}),
        hints={"builds": ("'lr'", "super().__init__(params, defaults)"), "lr_change[cpu]": "read once"},
    ),
    Case(
        "no_super_init.py",  # an Optimizer subclass that never calls super().__init__, with its own list: 8/12
        lost=NO_OPTIMIZER_STATE,
        hints={
            "builds": ("never calls super().__init__", "super().__init__(params, defaults)"),
            "param_groups[cpu]": ("list of dicts", "super().__init__(params, defaults)"),
            "state_dict_round_trip[cpu]": ("could not run", "never ran its __init__", "super().__init__"),
            "lr_change[cpu]": ("could not run", "no param_groups", "learning-rate schedulers", "super().__init__"),
        },
    ),
    Case(
        "plain_class.py",  # not an Optimizer at all, its own buffers dict: the same 8/12
        lost=NO_OPTIMIZER_STATE,
        hints={
            "builds": ("subclass of torch.optim.Optimizer", "class MySGD(torch.optim.Optimizer)"),
            "param_groups[cpu]": ("could not run", "passes MySGD parameter groups"),
            "state_dict_round_trip[cpu]": ("could not run", "not a torch.optim.Optimizer"),
            "lr_change[cpu]": ("could not run", "param_groups"),
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_zoo(case: Case, schema: dict[str, Any], zoo_results: Callable[[str], dict[str, Any]]) -> None:
    doc = grade_zoo_case("my_sgd", case.file, case.lost, case.hints, schema, FULL, zoo_results)
    assert doc["errors"] == []
    for check_id in case.hints:
        assert check_by_id(doc, check_id)["status"] == "failed"  # the check itself failed, not skipped


# ---- the judge's SGD is torch.optim.SGD ----

def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TorchSGD(torch.optim.SGD):
    """torch.optim.SGD with MySGD's signature."""

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


class _Student:
    device = torch.device("cpu")

    def cls(self, name: str, methods: tuple[str, ...] = ()) -> type:
        return TorchSGD


class _Context:
    """Runs the probes in this process, on torch.optim.SGD: what each check asks, SGD answers."""

    device = "cpu"

    def __init__(self, probes: ModuleType, seed: int) -> None:
        self.probes = probes
        self.generator = torch.Generator().manual_seed(seed)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator, dtype=torch.float64)

    def probe(self, name: str, **args: Any) -> Any:
        return getattr(self.probes, name)(_Student(), **args)


def test_judge_sgd_is_torch_sgd(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ROOT / "assignments" / "my_sgd"
    checks = _load(folder / "checks.py", "_my_sgd_checks")
    probes = _load(folder / "probes.py", "_my_sgd_probes")
    posed: list[tuple[Any, tuple[str, ...]]] = []
    judge = checks.run_and_judge

    def spy(ctx: Any, problem: Any, mistakes: tuple[str, ...], hint: str) -> None:
        posed.append((problem, mistakes))
        judge(ctx, problem, mistakes, hint)

    monkeypatch.setattr(checks, "run_and_judge", spy)
    found = [value for value in vars(checks).values() if type(value).__name__ == "Check"]
    assert len(found) == 11
    for seed in (0, 7, 12345):
        for item in found:
            item.func(_Context(probes, seed))  # raises CheckFailed if simulate() and torch.optim.SGD differ
    assert posed
    for problem, mistakes in posed:
        outcomes = {name: checks.simulate(problem, name) for name in mistakes} | {"sgd": checks.simulate(problem)}
        for a, b in itertools.combinations(outcomes, 2):
            gap = max(float(((x - y).abs() / (y.abs() + 1e-3)).max()) for x, y in zip(outcomes[a], outcomes[b],
                                                                                       strict=True))
            assert gap > 1e-2, f"{problem.words}: {a} and {b} are too close to tell apart"
