"""``grader validate``: the course's own CI.

It fails unless, for every assignment:

- the reference solution earns full marks on every available device,
- each student stub (``.py`` and ``.ipynb``) is graded (not crashed) and earns zero,
- the stubs are exactly what the reference generates (see :mod:`grader.stubs`),
- with ``--mutants``, every mutant of each reference loses points unless its assignment declares it
  equivalent (see :mod:`grader.mutants`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from grader.assignment import Assignment, assignment_names, load_assignment, require_assignment
from grader.results import Result

if TYPE_CHECKING:
    from grader.workers import LocalPool


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


def validate(names: list[str] | None = None, *, device: str = "auto", mutants: bool = False,
             jobs: int | None = None) -> int:
    """Validate the assignments ``names`` (default: all); prints a line each and returns the exit status.

    With ``mutants``, also grade every mutant of each reference (:mod:`grader.mutants`) in one batch of
    ``jobs`` warm workers (default: the number of cores), and fail when a mutant that its assignment does
    not declare equivalent keeps full marks.
    """
    from grader.grading import DeviceUnavailable, Grader, Options, cuda_available, select_devices

    names = names or assignment_names()
    for name in names:
        require_assignment(name)
    if not names:
        print("grader validate: no assignments found", file=sys.stderr)
        return 2
    try:  # before any fork: NVML's look does not initialise CUDA here
        select_devices(device, cuda_available())
    except DeviceUnavailable as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return 2
    from grader.sandbox.zygote import preload

    # Before the zygote is forked: validate's ~20 sandboxes then start with torch.optim's torch._dynamo
    # imported, where each would otherwise import it at its first optimizer step (about 1 s each).
    preload()
    # The mutants' workers are forked first, from a process that has not computed with torch yet.
    pool = _mutant_pool(names[0], device, jobs) if mutants else None
    failed = 0
    try:
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
        if pool is not None:
            failed += validate_mutants(assignments, pool, device)
    finally:
        if pool is not None:
            pool.close()
    return 1 if failed else 0


def _mutant_pool(template_name: str, device: str, jobs: int | None) -> LocalPool:
    """Warm local workers for the mutants' batch, forked before this process computes with torch.

    :func:`validate` has preloaded torch.optim's imports by then: the workers' zygotes hold them too.
    """
    from grader.assignment import course_root
    from grader.workers import LocalPool, Task

    pool = LocalPool(jobs or os.cpu_count() or 1)
    pool.start(Task(template_name, str(course_root()), "", "", "", device, None, {}))
    return pool


def validate_mutants(assignments: list[Assignment], pool: LocalPool, device: str) -> int:
    """Grade the mutants of each assignment's reference in one batch; print a report; return how many failed."""
    from grader.assignment import course_root
    from grader.mutants import MutantReport, equivalent_mutants, grade_mutants, mutants_for

    started = time.monotonic()
    reports = [MutantReport(a.name, a.reference.read_text(encoding="utf-8"), mutants_for(a), equivalent_mutants(a))
               for a in assignments if a.reference.is_file()]
    total = sum(len(r.mutants) for r in reports)
    print(f"mutants: grading {total} mutants of {len(reports)} references")
    grade_mutants(reports, course_root(), device, pool)
    failed = 0
    for report in reports:
        problems = report.problems()
        equivalent = [m for m in report.survivors if m.id in report.equivalent]
        line = (f"{report.assignment}: {len(report.mutants)} mutants, {len(report.killed)} killed, "
                f"{len(report.undeclared)} survived, {len(equivalent)} declared equivalent")
        if problems:
            failed += 1
            print(f"FAIL {line}")
            for problem in problems:
                print(f"     {problem}")
        else:
            print(f"ok   {line}")
        for note in report.notes():
            print(f"     note: {note}")
    print(f"{len(reports) - failed} of {len(reports)} assignments kill every non-equivalent mutant "
          f"({total} mutants in {time.monotonic() - started:.1f} s)")
    return failed
