"""Judge-side comparisons: an observed value against the judge's own expectation.

Every function here either returns quietly or raises :class:`~grader.check.CheckFailed` with what was
expected, what was found (type, shape, dtype, device, the greatest absolute and relative error and
where), and a hint naming the likely mistake. Expectations are computed in float64; tolerances follow
the dtype the student's code produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from grader.check import CheckFailed
from grader.diagnose import diagnose, diagnose_observation

#: (rtol, atol) per dtype of the student's result, compared against a float64 expectation. Looser
#: than ``torch.testing`` defaults for float32 because the student's code sums in another order.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
    "float32": (2e-5, 2e-6),
    "float64": (1e-7, 1e-9),
}

#: Tensors up to this many values are shown whole in a failure message.
SHOW_WHOLE = 24


def tolerance(dtype: str) -> tuple[float, float]:
    """The (rtol, atol) used for a result of ``dtype``."""
    return TOLERANCES.get(dtype, TOLERANCES["float32"])


def show(t: torch.Tensor) -> str:
    """A tensor in words: every value when it is small, else its shape and a few statistics."""
    if t.numel() <= SHOW_WHOLE:
        with torch.no_grad():
            values = t.tolist()
        return f"{_fmt_values(values)} (shape {tuple(t.shape)})"
    return (
        f"a tensor of shape {tuple(t.shape)} (min {t.min().item():.6g}, max {t.max().item():.6g}, "
        f"mean {t.double().mean().item():.6g})"
    )


def _fmt_values(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_fmt_values(v) for v in values) + "]"
    if isinstance(values, float):
        return f"{values:.6g}"
    return str(values)


def describe_observation(obs: Any) -> str:
    """What the student's code returned, in words, whatever it was."""
    if isinstance(obs, dict) and "tensor" in obs:
        return f"a {obs['dtype']} tensor of shape {tuple(obs['shape'])} on {obs['device']}"
    if isinstance(obs, dict) and obs.get("type") == "None":
        return "None"
    if isinstance(obs, dict) and "number" in obs:
        return f"the {obs['type']} {obs['number']:.6g}"
    if isinstance(obs, dict) and "repr" in obs:
        return f"a {obs['type']}: {obs['repr']}"
    return repr(obs)


def require_tensor(obs: Any, what: str, hint: str | None = None) -> torch.Tensor:
    """The tensor inside an observation, or a failure saying what came back instead."""
    if isinstance(obs, dict) and isinstance(obs.get("tensor"), torch.Tensor):
        return obs["tensor"]
    raise CheckFailed(
        expected=f"{what} to be a torch.Tensor",
        found=describe_observation(obs),
        hint=hint or "Return a tensor (not a number, list or None).",
        cause="missing" if obs is None or (isinstance(obs, dict) and obs.get("type") in ("None", "missing"))
        else "not_a_tensor",
    )


def expect_close(
    obs: Any,
    expected: torch.Tensor,
    what: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
    mistakes: Mapping[str, tuple[torch.Tensor, str]] | None = None,
    batch: int | None = None,
    features: int | None = None,
    hint: str | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Fail unless the observed tensor matches ``expected`` in shape, dtype, device and values.

    ``rtol`` and ``atol`` replace the dtype's :data:`TOLERANCES` (for sums of many terms, say).

    ``mistakes`` maps a name to (what a known mistake would produce, the hint for it): when the observed
    values match one of them, that hint is given. Otherwise :func:`grader.diagnose.diagnose` looks for a
    scale factor, a sign flip, a transpose or a broadcast.

    The failure's ``cause`` is the matched mistake's name (so name them in snake_case, ``"no_bias"``),
    else the diagnosis's :attr:`~grader.diagnose.Diagnosis.cause`, else None.
    """
    found = require_tensor(obs, what, hint)
    expected = expected.double()
    if dtype is not None and obs["dtype"] != dtype:
        diagnosis = diagnose_observation(obs, expected, what=what, dtype=dtype)
        raise CheckFailed(expected=f"{what} to have dtype {dtype}", found=f"dtype {obs['dtype']}",
                          hint=diagnosis.hint if diagnosis else hint, cause=diagnosis.cause if diagnosis else "dtype")
    if device is not None and obs["device"].split(":")[0] != device.split(":")[0]:
        diagnosis = diagnose_observation(obs, expected, what=what, device=device)
        raise CheckFailed(expected=f"{what} on device {device}", found=f"a tensor on {obs['device']}",
                          hint=diagnosis.hint if diagnosis else hint,
                          cause=diagnosis.cause if diagnosis else "device")
    default_rtol, default_atol = tolerance(obs["dtype"])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    values = found.double()
    if values.shape == expected.shape and bool(torch.isfinite(values).all()):
        if torch.allclose(values, expected, rtol=rtol, atol=atol):
            return
    for name, (wrong, mistake_hint) in (mistakes or {}).items():
        wrong = wrong.double()
        if wrong.shape == values.shape and torch.allclose(values, wrong, rtol=max(rtol, 1e-4), atol=max(atol, 1e-6)):
            raise CheckFailed(expected=show(expected), found=show(values) + _errors(values, expected, atol),
                              hint=mistake_hint, summary=f"{what} is not right.", cause=name)
    diagnosis = diagnose(values, expected, rtol=max(rtol, 1e-4), atol=max(atol, 1e-6), batch=batch, features=features)
    raise CheckFailed(
        expected=show(expected),
        found=show(values) + _errors(values, expected, atol),
        hint=diagnosis.hint if diagnosis else hint,
        summary=f"{what} is not right.",
        cause=diagnosis.cause if diagnosis else None,
    )


def _errors(found: torch.Tensor, expected: torch.Tensor, atol: float) -> str:
    """The greatest absolute and relative error and where they are (same shapes only)."""
    if found.shape != expected.shape or found.numel() == 0:
        return ""
    diff = (found - expected).abs()
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, float("inf")), diff)
    abs_index = _index(int(diff.argmax()), found.shape)
    rel = diff / expected.abs().clamp_min(max(atol, 1e-12))  # no 1e12 "relative" errors where expected is 0
    rel_index = _index(int(rel.argmax()), found.shape)
    return (
        f"; greatest absolute error {diff.max().item():.3g} at index {abs_index} "
        f"(found {found[abs_index].item():.6g}, expected {expected[abs_index].item():.6g}); "
        f"greatest relative error {rel.max().item():.3g} at index {rel_index}"
    )


def _index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return tuple(reversed(index))


def expect_equal(found: Any, expected: Any, what: str, hint: str | None = None) -> None:
    """Fail unless two plain values (numbers, strings, lists, shapes) are equal."""
    if found != expected:
        raise CheckFailed(expected=f"{what} = {expected!r}", found=f"{what} = {found!r}", hint=hint)
