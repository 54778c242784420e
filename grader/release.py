"""`grader release`: what an instructor hands out, built from the course's own repository.

``DIR/student/`` is what students receive: for each assignment its statement, its ``.py`` and ``.ipynb``
stubs, and its *public* checks. Hidden checks are removed from the source itself (not just marked), with
every helper and probe that only they used, so nothing in the folder names a hidden check's expectations;
the public ``checks.py`` declares ``HIDDEN_POINTS`` so that ``grader check`` can say what the final grading
adds. No reference solution is copied. ``DIR/autograder/`` holds everything the final grading needs: every
check, hidden ones included, and still no reference.

The pruning works on the syntax tree: a hidden check is a top-level function decorated with
``@check(..., hidden=True)``; after removing those, any top-level function, class or constant of
``checks.py`` that nothing left refers to is removed too, until nothing changes, and a probe function
survives only if something left in ``checks.py`` names it (``ctx.probe("name", ...)``) or another
surviving probe uses it.
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.assignment import Assignment, load_assignment
from grader.wheel import WheelError, build_wheel

#: Module-level names a checks module keeps even when nothing in it refers to them (the grader reads them).
KEPT_NAMES = frozenset({"TITLE", "ALIASES", "HIDDEN_POINTS", "__all__"})
#: Where students and CI take torch from: PyTorch's own index of CPU wheels (a bare `torch` pulls CUDA's).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: The student repository's workflow: check every assignment on each push; summary page and Classroom points.
WORKFLOW = """# Checks your work on every push, with the course's public checks (python -m grader.classroom).
# The report is on the run's summary page; the points are also given in the form GitHub Classroom reads.
name: Grader
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  check:
    if: github.actor != 'github-classroom[bot]'
    runs-on: ubuntu-22.04
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install PyTorch (CPU) and the grader
        run: |
          python -m pip install --disable-pip-version-check torch=={torch_version} --index-url {torch_index}
          python -m pip install --disable-pip-version-check {install}
      - name: Check every assignment
        id: grader
        run: python -m grader.classroom
      - name: Points for GitHub Classroom
        if: always() && steps.grader.outputs.result != ''
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          GRADER_RESULTS: "${{{{ steps.grader.outputs.result }}}}"
        with:
          runners: grader
"""
#: What never leaves the instructor's side, wherever it sits in an assignment folder.
NEVER_COPIED = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache")


class ReleaseError(ValueError):
    """The course cannot be released as it stands (the message says what to change)."""


@dataclass(frozen=True)
class Released:
    """What ``release`` wrote for one assignment."""

    name: str
    public_points: float
    hidden_points: float
    hidden_checks: tuple[str, ...]


def release(names: Iterable[str], out: Path, root: Path | None = None) -> list[Released]:
    """Write ``out/student/`` and ``out/autograder/`` for the assignments ``names``; returns what was released.

    Refuses (:class:`ReleaseError`) to write over an earlier release, and when a public check depends on a
    hidden one (the student's copy could not load).
    """
    student, autograder = out / "student", out / "autograder"
    for folder in (student, autograder):
        if folder.exists():
            raise ReleaseError(f"{folder} already exists: remove it or choose another --out")
    assignments = [load_assignment(name, root) for name in names]
    plans = [(assignment, _public_sources(assignment)) for assignment in assignments]
    released = []
    for assignment, (checks_source, probes_source, hidden) in plans:
        target = student / "assignments" / assignment.name
        _copy_folder(assignment.folder, target, skip={"checks.py", "probes.py"})
        (target / "checks.py").write_text(checks_source, encoding="utf-8")
        (target / "probes.py").write_text(probes_source, encoding="utf-8")
        _copy_folder(assignment.folder, autograder / "assignments" / assignment.name, skip=set())
        hidden_points = sum(c.points for c in assignment.checks if c.hidden)
        released.append(Released(assignment.name, assignment.max_score - hidden_points, hidden_points,
                                 tuple(sorted(hidden))))
    wheel = _student_wheel(student / "tools")
    (student / "README.md").write_text(student_readme(released, wheel), encoding="utf-8")
    workflow = student / ".github" / "workflows" / "grader.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(WORKFLOW.format(torch_version=torch_version(), torch_index=TORCH_CPU_INDEX,
                                        install=f"tools/{wheel.name}" if wheel else "torch-grader"), encoding="utf-8")
    return released


def torch_version() -> str:
    """The torch release this grader runs with, without a build suffix (2.13.0, not 2.13.0+cpu)."""
    import torch

    return str(torch.__version__).split("+")[0]


def _student_wheel(folder: Path) -> Path | None:
    """The grader's own wheel, for the students to install; None when there is no source checkout to build it."""
    try:
        with tempfile.TemporaryDirectory(prefix="grader-wheel-") as scratch:
            built = build_wheel(Path(scratch))
            folder.mkdir(parents=True)
            return Path(shutil.copy2(built, folder / built.name))
    except WheelError:
        return None


def _copy_folder(source: Path, target: Path, skip: set[str]) -> None:
    """Copy an assignment folder's regular files (no links, no tool caches), leaving out ``skip``."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in NEVER_COPIED for part in relative.parts) or path.is_symlink() or not path.is_file():
            continue
        if len(relative.parts) == 1 and relative.name in skip:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / relative)
    target.mkdir(parents=True, exist_ok=True)


def _public_sources(assignment: Assignment) -> tuple[str, str, set[str]]:
    """The public ``checks.py`` and ``probes.py`` of an assignment, and the names of its hidden checks."""
    hidden = {c.id.split("[")[0] for c in assignment.checks if c.hidden}
    public = {c.id.split("[")[0] for c in assignment.checks if not c.hidden}
    for c in assignment.checks:
        needs = [d for d in c.depends if d.split("[")[0] in hidden]
        if not c.hidden and needs:
            raise ReleaseError(f"{assignment.name}: the public check {c.id} depends on the hidden check "
                               f"{needs[0]}; make both public or both hidden")
    checks_path = assignment.folder / "checks.py"
    checks_source = checks_path.read_text(encoding="utf-8")
    checks_tree = ast.parse(checks_source, str(checks_path))
    missing = (hidden | public) - {n.name for n in checks_tree.body if isinstance(n, ast.FunctionDef)}
    if missing:
        raise ReleaseError(f"{assignment.name}: checks {sorted(missing)} are not top-level functions of checks.py")
    checks_kept = prune(checks_tree, remove=hidden, keep=public | KEPT_NAMES)
    checks_out = _without(checks_source, checks_tree, checks_kept)
    hidden_points = sum(c.points for c in assignment.checks if c.hidden)
    checks_out = checks_out.rstrip("\n") + (
        "\n\n\n# Written by `grader release`: the final grading adds hidden checks worth this many points.\n"
        f"HIDDEN_POINTS = {hidden_points:g}\n"
    )
    probes_source = assignment.probes.read_text(encoding="utf-8")
    probes_tree = ast.parse(probes_source, str(assignment.probes))
    named = _strings(ast.parse(checks_out))  # ctx.probe("forward", ...) names the probe function `forward`
    probes_kept = prune(probes_tree, remove=set(), keep=KEPT_NAMES, outside=named)
    return checks_out, _without(probes_source, probes_tree, probes_kept), hidden


def prune(tree: ast.Module, *, remove: set[str], keep: set[str] | frozenset[str],
          outside: set[str] | frozenset[str] = frozenset()) -> list[ast.stmt]:
    """The top-level statements of ``tree`` that survive removing ``remove`` and then whatever nothing uses.

    A top-level function, class or plain assignment is dropped when no surviving statement refers to a name
    it defines (``outside`` lists names referred to from elsewhere, ``keep`` names always kept); imports,
    docstrings and other statements always stay.
    """
    kept = [node for node in tree.body if not (_defined(node) & remove)]
    while True:
        uses = {index: _used(node) for index, node in enumerate(kept)}  # a statement's own uses never keep it
        survivors = []
        for index, node in enumerate(kept):
            defined = _defined(node)
            if not defined or not _prunable(node) or defined & set(keep):
                survivors.append(node)
                continue
            used_elsewhere = set(outside).union(*(u for i, u in uses.items() if i != index))
            if defined & used_elsewhere:
                survivors.append(node)
        if len(survivors) == len(kept):
            return survivors
        kept = survivors


def _prunable(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign)


def _defined(node: ast.stmt) -> set[str]:
    """Names a top-level statement defines (functions, classes, simple assignments)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _used(node: ast.AST) -> set[str]:
    """Every name, attribute and string a statement mentions (a string may name a probe or a check)."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.add(child.value)
    return found


def _strings(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _without(source: str, tree: ast.Module, kept: list[ast.stmt]) -> str:
    """``source`` with the top-level statements of ``tree`` that are not in ``kept`` cut out, line by line."""
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    kept_ids = {id(node) for node in kept}
    for node in tree.body:
        if id(node) in kept_ids:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        assert node.end_lineno is not None
        drop.update(range(first - 1, node.end_lineno))
    text = "".join(line for index, line in enumerate(lines) if index not in drop)
    while "\n\n\n\n" in text:  # the blank lines around what was cut
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text


def student_readme(released: list[Released], wheel: Path | None = None) -> str:
    """The README of the student folder: the one command to run, and what the final grading adds."""
    install = f"pip install tools/{wheel.name}" if wheel else "pip install torch-grader"
    lines = [
        "# Assignments",
        "",
        "Each folder under `assignments/` holds an assignment's statement (`statement.md`) and the file to",
        "complete, as a Python file and as a notebook: work in whichever you prefer.",
        "",
        "Install the CPU build of PyTorch and the grader once, then check your work from this folder (the",
        "grader runs your code in a sandbox and explains each check):",
        "",
        "```bash",
        f"pip install torch --index-url {TORCH_CPU_INDEX} && {install}",
        "grader check ASSIGNMENT assignments/ASSIGNMENT/ASSIGNMENT.py     # or the .ipynb",
        "```",
        "",
        "Every push also runs the checks on GitHub (`.github/workflows/grader.yml`): the job's summary page",
        "shows the same report and points. Your course staff grade from your repository itself, not from",
        "those numbers.",
        "",
        "| Assignment | Points you can check here | Points the final grading adds (hidden checks) |",
        "| --- | --- | --- |",
    ]
    for item in released:
        lines.append(f"| `{item.name}` | {item.public_points:g} | {item.hidden_points:g} |")
    lines += [
        "",
        "The hidden checks test the same assignment more thoroughly (edge cases, longer runs): full marks here",
        "do not guarantee full marks in the final grading, so test your code beyond what is checked here.",
        "",
    ]
    return "\n".join(lines)
