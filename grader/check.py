"""How an assignment declares its checks, and what a check function gets to work with.

A check is a plain function in ``assignments/<name>/checks.py``, decorated with :func:`check`. Its
docstring is what the student reads; the decorator declares its points, its default hint, its time
budget, the checks it depends on, whether it is hidden, and whether it runs once per device. The function
runs in the judge: it asks the sandbox for observations with :meth:`Context.probe`, computes its own
expectations, and raises :class:`CheckFailed` (usually through :mod:`grader.compare`) when they differ.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from grader.session import SandboxSession


class CheckFailed(Exception):
    """The submission does not do what the check asks; carries what was expected, found, a hint and a cause."""

    def __init__(self, expected: str, found: str, hint: str | None = None, *, summary: str | None = None,
                 cause: str | None = None) -> None:
        """``summary`` is an optional first sentence; ``expected`` and ``found`` are shown in full.

        ``cause`` names the diagnosed mistake as a short, stable snake_case identifier (``"no_bias"``,
        ``"missing_zero_grad"``), or is None when the cause is not known. It is kept in the results for the
        course staff, who count the class's most common mistakes with it; students read the hint instead.
        """
        self.summary = summary
        self.expected = expected
        self.found = found
        self.hint = hint
        self.cause = cause
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The failure in plain words: summary, then expected and found."""
        parts = [self.summary] if self.summary else []
        parts.append(f"Expected: {self.expected}")
        parts.append(f"Found: {self.found}")
        return "\n".join(parts)


@dataclass(frozen=True)
class Check:
    """One graded check of an assignment."""

    func: Callable[[Context], None]
    id: str
    name: str
    description: str
    points: float
    hint: str | None
    timeout: float
    depends: tuple[str, ...]
    hidden: bool
    per_device: bool


def check(
    points: float,
    *,
    hint: str | None = None,
    timeout: float = 20.0,
    depends: Sequence[Check] = (),
    hidden: bool = False,
    per_device: bool = False,
) -> Callable[[Callable[[Context], None]], Check]:
    """Declare a check: its points, the hint shown when it fails, and how it runs.

    ``depends`` lists checks that must pass first (on the same device, for per-device checks); when one
    fails, this check is reported as skipped with the reason and still counts in ``max_score``.
    ``per_device`` runs the check once per device under test, splitting its points between them.
    """

    def decorate(func: Callable[[Context], None]) -> Check:
        doc = inspect.getdoc(func)
        if not doc:
            raise TypeError(f"check {func.__name__} needs a docstring: it is what students read")
        return Check(
            func=func,
            id=func.__name__,
            name=doc.splitlines()[0],
            description=doc,
            points=float(points),
            hint=hint,
            timeout=float(timeout),
            depends=tuple(dep.id for dep in depends),
            hidden=hidden,
            per_device=per_device,
        )

    return decorate


@dataclass
class Context:
    """What a running check can use: the sandbox, the device under test, and seeded random inputs."""

    session: SandboxSession
    check_id: str
    device: str | None
    seed: int
    deadline: float
    notes: list[str] = field(default_factory=list)
    _generator: torch.Generator | None = None
    _calls: int = 0

    @property
    def generator(self) -> torch.Generator:
        """A random generator seeded for this check on this device (inputs are the judge's to choose)."""
        import torch

        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        return self._generator

    def randn(self, *shape: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Standard normal values of ``shape`` (float64 unless ``dtype`` says otherwise)."""
        import torch

        return torch.randn(*shape, generator=self.generator, dtype=dtype or torch.float64)

    def probe(self, name: str, **args: Any) -> Any:
        """Run probe ``name`` of this assignment in the sandbox on the device under test; return its data.

        Raises :class:`grader.session.StudentRaised` when the student's code raised, and
        :class:`grader.session.SandboxLost` when the sandbox timed out or died.
        """
        self._calls += 1
        digest = hashlib.sha256(f"{self.seed}:{name}:{self._calls}".encode()).digest()
        value, notes = self.session.probe(
            name,
            device=self.device or "cpu",
            args=args,
            seed=int.from_bytes(digest[:4], "big"),
            deadline=self.deadline,
            doing=f"check `{self.check_id}`" + (f" on {self.device}" if self.device else ""),
        )
        for note in notes:
            if note not in self.notes:
                self.notes.append(note)
        return value
