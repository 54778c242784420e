"""``grader validate``: the course's own CI.

It fails unless, for every assignment:

- the reference solution earns full marks on every available device,
- each student stub (``.py`` and ``.ipynb``) is graded (not crashed) and earns zero,
- the stubs are exactly what the reference generates (see :mod:`grader.stubs`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader.assignment import Assignment, assignment_names, load_assignment, require_assignment
from grader.results import Result


def _problems_for_reference(result: Result) -> list[str]:
    if result.full_marks:
        return []
    lost = [f"{c.id} ({c.status}): {c.message.splitlines()[0] if c.message else ''}"
            for c in result.checks if c.score < c.max_score]
    errors = [e["message"].splitlines()[0] for e in result.errors if e["kind"] != "skipped_magic"]
    return [f"reference scored {result.score:g}/{result.max_score:g} (status {result.status})", *lost, *errors]


def _problems_for_stub(result: Result) -> list[str]:
    problems = []
    if result.status != "graded":
        problems.append(f"stub {result.submission['path']}: status {result.status}, expected graded")
    if result.score != 0:
        passed = [c.id for c in result.checks if c.score > 0]
        problems.append(f"stub {result.submission['path']} scored {result.score:g}, expected 0 (passed: {passed})")
    if any(c.status == "error" for c in result.checks):
        problems.append(f"stub {result.submission['path']}: a check ended in an error (the grader failed)")
    return problems


def validate_assignment(grader: object, assignment: Assignment) -> list[str]:
    """Every problem found with one assignment (an empty list means it is valid)."""
    from grader.grading import Grader
    from grader.stubs import stale_stubs

    assert isinstance(grader, Grader)
    problems = [f"stub {path.name} is out of date: run `python -m grader.stubs {assignment.name}`"
                for path in stale_stubs(assignment)]
    if not assignment.reference.is_file():
        return [*problems, f"no reference solution at {assignment.reference}"]
    problems += _problems_for_reference(grader.grade(assignment, assignment.reference))
    for kind in ("py", "ipynb"):
        stub: Path = assignment.stub(kind)
        if stub.is_file():
            problems += _problems_for_stub(grader.grade(assignment, stub))
    return problems


def validate(names: list[str] | None = None, *, device: str = "auto") -> int:
    """Validate the assignments ``names`` (default: all); prints a line each and returns the exit status."""
    from grader.grading import Grader, Options

    names = names or assignment_names()
    for name in names:
        require_assignment(name)
    if not names:
        print("grader validate: no assignments found", file=sys.stderr)
        return 2
    failed = 0
    with Grader(Options(device=device, seed=0)) as grader:
        # Loaded only now, after the zygote was forked: sandboxes never hold the checks in memory.
        assignments = [load_assignment(name) for name in names]
        print(f"devices: {', '.join(grader.tested)}")
        for assignment in assignments:
            problems = validate_assignment(grader, assignment)
            if problems:
                failed += 1
                print(f"FAIL {assignment.name}")
                for problem in problems:
                    print(f"     {problem}")
            else:
                print(f"ok   {assignment.name}: reference {assignment.max_score:g}/{assignment.max_score:g}, "
                      "stubs 0, stubs in sync")
    print(f"{len(assignments) - failed} of {len(assignments)} assignments valid")
    return 1 if failed else 0
