"""Mutation testing of the checks (`grader validate --mutants`): the mutants, the declarations, the real CLI."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, ROOT, run_grader
from grader.assignment import assignment_names, load_assignment
from grader.mutants import Mutant, equivalent_mutants, make_mutants, mutants_for, solution_lines

ID = re.compile(r"^[a-z_]+:[A-Za-z_<>]+:[a-z_A-Z0-9]+@L\d+(#\d+)?$")


def _mutants(name: str) -> tuple[str, list[Mutant]]:
    assignment = load_assignment(name)
    return assignment.reference.read_text(encoding="utf-8"), mutants_for(assignment)


@pytest.mark.parametrize("name", assignment_names())
def test_mutants_change_only_solution_blocks_and_compile(name: str) -> None:
    """At least 20 distinct mutants each; every one compiles and differs from the reference only inside its blocks."""
    reference, mutants = _mutants(name)
    assert len(mutants) >= 20
    assert len({m.source for m in mutants}) == len(mutants)
    assert len({m.id for m in mutants}) == len(mutants)
    blocks = solution_lines(reference)
    lines = reference.splitlines()
    before = lines[: blocks[0][0] - 1]
    after = lines[blocks[-1][1]:]
    for mutant in mutants:
        assert ID.match(mutant.id), mutant.id
        assert mutant.id.startswith(f"{name}:")
        assert mutant.source != reference
        compile(mutant.source, mutant.id, "exec")
        changed = mutant.source.splitlines()
        assert changed[: len(before)] == before, mutant.id
        assert changed[len(changed) - len(after):] == after if after else True, mutant.id
        diff = mutant.diff(reference)
        assert diff.startswith(f"--- reference/{name}.py\n+++ {mutant.id}\n")


def test_mutant_ids_are_stable() -> None:
    """The same reference gives the same mutants with the same ids, in the same order."""
    reference, first = _mutants("my_linear")
    again = make_mutants("my_linear", reference)
    assert [(m.id, m.source) for m in first] == [(m.id, m.source) for m in again]


def _operators(name: str) -> dict[str, str]:
    _, mutants = _mutants(name)
    return {m.id: m.operator for m in mutants}


def test_the_course_mistakes_are_among_the_mutants() -> None:
    """The operators a PyTorch course needs each make at least one mutant of the references."""
    wanted = {
        "my_linear": {"drop_bias", "plain_tensor", "swap_matmul", "transpose", "detach", "flip_sign"},
        "manual_lr": {"drop_scale", "drop_transpose", "flip_sign", "drop_bias"},
        "training_loop": {"remove_zero_grad", "swap_with_next", "remove_backward", "remove_step", "argmax_to_argmin",
                          "unwrap_with", "train_to_eval"},
        "custom_function": {"augassign_to_assign", "flip_augassign", "swap_returned", "drop_transpose"},
        "autograd_basics": {"exponent", "drop_kwarg_gradient", "constant"},
        "my_sgd": {"lt_to_lte", "noteq_to_eq", "drop_kwarg_alpha", "drop_usub"},
    }
    for name, operators in wanted.items():
        assert operators <= set(_operators(name).values()), (name, operators - set(_operators(name).values()))
    _, mutants = _mutants("training_loop")
    step_first = [m for m in mutants if m.id.startswith("training_loop:train:swap_with_next@L23")]
    assert step_first and "optimizer.step()\n        loss.backward()" in step_first[0].source


def test_operators_on_modules_and_functions() -> None:
    """@staticmethod dropped, nn.ModuleList kept as a list, nothing outside the blocks touched."""
    source = '''import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION
        self.layers = nn.ModuleList([nn.Linear(2, 2)])
        # END SOLUTION

    def forward(self, x):
        return x


class F(torch.autograd.Function):
    # BEGIN SOLUTION
    @staticmethod
    def forward(ctx, x):
        return x * 2
    # END SOLUTION
'''
    mutants = {m.id: m for m in make_mutants("toy", source)}
    assert "toy:__init__:plain_list@L9" in mutants
    assert "self.layers = [nn.Linear(2, 2)]" in mutants["toy:__init__:plain_list@L9"].source
    assert "@staticmethod" not in mutants["toy:forward:drop_staticmethod@L18"].source
    assert all("return x\n" in m.source.split("class F")[0] for m in mutants.values())


def test_independent_statements_are_not_swapped() -> None:
    """Swapping two statements that neither read what the other writes is no mutant (it is always equivalent)."""
    source = '''def f(a, b):
    # BEGIN SOLUTION
    x = a + 1
    y = b + 1
    z = x + y
    return z
    # END SOLUTION
'''
    swaps = [m.id for m in make_mutants("toy", source) if m.operator == "swap_with_next"]
    assert swaps == ["toy:f:swap_with_next@L4", "toy:f:swap_with_next@L5"]


@pytest.mark.parametrize("name", assignment_names())
def test_declared_equivalent_mutants_exist_and_have_reasons(name: str) -> None:
    """Every EQUIVALENT_MUTANTS entry names a mutant that is generated, with a reason."""
    assignment = load_assignment(name)
    declared = equivalent_mutants(assignment)
    ids = {m.id for m in mutants_for(assignment)}
    assert set(declared) <= ids, set(declared) - ids
    assert all(reason.strip() for reason in declared.values())
    # It is no check and nothing uses it: `grader release` leaves it out of the students' checks.py.
    tree = ast.parse((assignment.folder / "checks.py").read_text(encoding="utf-8"))
    assert not any(isinstance(n, ast.Name) and n.id == "EQUIVALENT_MUTANTS" and isinstance(n.ctx, ast.Load)
                   for n in ast.walk(tree))


def test_validate_mutants_through_the_cli() -> None:
    """`grader validate --mutants`: the course is valid (each reference full marks, each stub 0 and in sync),
    and every mutant of all seven references, graded in one warm batch, is killed or declared equivalent."""
    started = time.monotonic()
    run = run_grader("validate", "--mutants", timeout=600)
    elapsed = time.monotonic() - started
    assert run.returncode in (0, 1), run.stderr
    assert "7 of 7 assignments valid" in run.stdout, run.stdout
    for name, full in ASSIGNMENTS.items():
        assert f"ok   {name}: reference {full:g}/{full:g}, stubs 0, stubs in sync" in run.stdout, run.stdout
    lines = {m.group(2): (m.group(1), int(m.group(3)), int(m.group(4)), int(m.group(5)), int(m.group(6)))
             for m in re.finditer(r"^(ok|FAIL) +([a-z_]+): (\d+) mutants, (\d+) killed, (\d+) survived, "
                                  r"(\d+) declared equivalent$", run.stdout, re.M)}
    assert set(lines) == set(assignment_names()), run.stdout
    for name, (verdict, made, killed, survived, equivalent) in lines.items():
        assert made >= 20, (name, made)
        assert verdict == "ok" and survived == 0, run.stdout
        assert killed + equivalent == made, (name, run.stdout)
    print(f"validate --mutants: {elapsed:.1f} s")
    assert run.returncode == 0, run.stdout
    assert (ROOT / "grader" / "mutants.py").is_file()


def test_a_surviving_mutant_fails_validate(tmp_path: Path) -> None:
    """A check that cannot fail is caught: in a copy of the course whose my_linear check passes whatever it is
    given, every mutant survives and `grader validate --mutants` fails, showing each survivor's diff."""
    import shutil

    course = tmp_path / "course"
    for folder in ("assignments/my_linear", "reference"):
        shutil.copytree(ROOT / folder, course / folder)
    (course / "assignments/my_linear/checks.py").write_text(
        '"""A check that cannot fail."""\n\n'
        "from grader.check import Context, check\n\n"
        'TITLE = "MyLinear"\n\n\n'
        "@check(points=1)\n"
        "def anything(ctx: Context) -> None:\n"
        '    """Passes whatever the submission does."""\n',
        encoding="utf-8")
    run = run_grader("validate", "--mutants", "my_linear", timeout=300, env={"GRADER_COURSE": str(course)})
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^FAIL my_linear: (\d+) mutants, 0 killed, \1 survived, 0 declared equivalent$", run.stdout,
                     re.M), run.stdout
    assert "mutant my_linear:forward:drop_bias@L27 survived with full marks:" in run.stdout
    assert "-            out = out + self.bias\n" in run.stdout
    assert "+            out = out\n" in run.stdout


UNTIL_FIRST_LOSS = '''
import hashlib, json, sys
from pathlib import Path
from grader.workers import Task, grade_task

data = Path("tests/zoo/my_linear/bias_left_out.py").read_bytes()
sha = hashlib.sha256(data).hexdigest()
for first in (False, True):
    task = Task("my_linear", "", "bias_left_out.py", "bias", sha, "cpu", 0, {}, data=data, until_first_loss=first)
    reply = grade_task(task)
    print(json.dumps([[c["id"], c["status"], c["message"]] for c in reply["document"]["checks"]]))
'''


def test_a_mutant_is_graded_until_its_first_lost_point() -> None:
    """``Task.until_first_loss`` (what `validate --mutants` sets for each mutant): the checks before the first
    lost one run as usual, that one fails as usual, every later one is reported as not run, and says why."""
    proc = subprocess.run([sys.executable, "-c", UNTIL_FIRST_LOSS], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    whole, first = (json.loads(line) for line in proc.stdout.splitlines())
    lost = next(i for i, (_, status, _) in enumerate(whole) if status != "passed")
    assert sum(status != "passed" for _, status, _ in whole) >= 2  # the whole grading sees more than one loss
    assert [c[:2] for c in first[: lost + 1]] == [c[:2] for c in whole[: lost + 1]]
    assert first[lost][2] == whole[lost][2]
    later = first[lost + 1:]
    assert later and all(status == "skipped" for _, status, _ in later)
    assert all(f"stops at the first check that loses points (`{whole[lost][0]}`)" in message
               for _, _, message in later), later
