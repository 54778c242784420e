"""Finding a course's assignments and reading their declarations (judge side).

An assignment is a folder ``assignments/<name>/`` holding:

- ``statement.md``: what the student is asked to do;
- ``<name>.py`` and ``<name>.ipynb``: the student stubs (generated from the reference, see :mod:`grader.stubs`);
- ``checks.py``: the judge's checks (``@check`` functions) and the metadata ``TITLE`` and ``ALIASES``;
- ``probes.py``: the functions that run inside the sandbox, next to student code, and return plain data;

and its solution ``reference/<name>.py``. Adding an assignment changes nothing in ``grader/``.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from grader.check import Check


class UnknownAssignment(LookupError):
    """No assignment folder of that name."""


@dataclass(frozen=True)
class Assignment:
    """An assignment's files and declared checks."""

    name: str
    title: str
    folder: Path
    reference: Path
    aliases: dict[str, list[str]]
    checks: tuple[Check, ...]
    #: Points of hidden checks left out of this copy (a student release, see :mod:`grader.release`).
    hidden_points: float = 0.0

    @property
    def probes(self) -> Path:
        """The sandbox-side probe functions."""
        return self.folder / "probes.py"

    @property
    def statement(self) -> Path:
        """The assignment's statement (Markdown)."""
        return self.folder / "statement.md"

    @property
    def module_name(self) -> str:
        """The module name student code is loaded as (``import my_linear`` would give the same)."""
        return self.name

    def stub(self, kind: str) -> Path:
        """The student stub of ``kind`` (``py`` or ``ipynb``)."""
        return self.folder / f"{self.name}.{kind}"

    @property
    def max_score(self) -> float:
        """Total points of the assignment."""
        return sum(c.points for c in self.checks)


def course_root() -> Path:
    """The folder holding ``assignments/`` and ``reference/``.

    ``GRADER_COURSE`` wins; else the nearest folder at or above the working directory that has an
    ``assignments/`` folder with a ``checks.py`` in it; else the checkout this package was installed from.
    """
    env = os.environ.get("GRADER_COURSE")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if any((folder / "assignments").glob("*/checks.py")):
            return folder
    return Path(__file__).resolve().parents[1]


def assignment_names(root: Path | None = None) -> list[str]:
    """Names of every assignment in the course, sorted."""
    root = root or course_root()
    return sorted(p.parent.name for p in (root / "assignments").glob("*/checks.py"))


def require_assignment(name: str, root: Path | None = None) -> None:
    """Raise :class:`UnknownAssignment` (with a suggestion) unless ``name`` exists; imports nothing."""
    root = root or course_root()
    if not (root / "assignments" / name / "checks.py").is_file():
        known = assignment_names(root)
        close = difflib.get_close_matches(name, known, n=1)
        suggestion = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownAssignment(
            f"unknown assignment '{name}'.{suggestion} Known: {', '.join(known) or 'none'} (in {root / 'assignments'})"
        )


def load_assignment(name: str, root: Path | None = None) -> Assignment:
    """Read assignment ``name``'s declarations; raises :class:`UnknownAssignment` with a suggestion.

    This imports the assignment's checks into this process: a grader must fork its zygote first, so
    that no sandbox starts with the (possibly hidden) checks in its memory.
    """
    root = root or course_root()
    require_assignment(name, root)
    return _load(name, root)


@cache
def _load(name: str, root: Path) -> Assignment:
    folder = root / "assignments" / name
    module = _import(folder / "checks.py", f"grader_assignments.{name}.checks")
    checks = tuple(value for value in vars(module).values() if isinstance(value, Check))
    ids = {c.id for c in checks}
    for c in checks:
        missing = [d for d in c.depends if d not in ids]
        if missing:
            raise ValueError(f"{name}: check {c.id} depends on unknown checks {missing}")
    return Assignment(
        name=name,
        title=str(getattr(module, "TITLE", name)),
        folder=folder,
        reference=root / "reference" / f"{name}.py",
        aliases=dict(getattr(module, "ALIASES", {})),
        checks=checks,
        hidden_points=float(getattr(module, "HIDDEN_POINTS", 0.0)),
    )


def _import(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
