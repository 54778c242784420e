"""Name the mistake behind a wrong tensor: scale factor, sign flip, transpose, broadcast, zeros, NaN.

Given what the student's code produced and what it should have produced (both computed or checked by
the judge), :func:`diagnose` returns a :class:`Diagnosis` with a plain-words hint, or ``None`` when the
numbers show no recognisable pattern. The same library serves every assignment's checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Diagnosis:
    """A recognised mistake: a short ``kind`` for tests and machines, and a ``hint`` for students."""

    kind: str
    hint: str
    factor: float | None = None


def _close(found: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> bool:
    return found.shape == expected.shape and bool(torch.allclose(found, expected, rtol=rtol, atol=atol))


def diagnose(
    found: torch.Tensor,
    expected: torch.Tensor,
    *,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    batch: int | None = None,
    features: int | None = None,
) -> Diagnosis | None:
    """Classify how ``found`` differs from ``expected`` (both float64 CPU tensors).

    ``batch`` and ``features`` (the ``m`` and ``n`` of the data, when known) let a constant factor be
    named: a factor of ``m`` is a missing ``1/m``, ``m/n`` a division by the wrong size.
    """
    if not torch.isfinite(found).all():
        bad = "NaN" if torch.isnan(found).any() else "infinite"
        return Diagnosis(
            "not_finite",
            f"Some values are {bad}. Look for exp() of large numbers, division by zero or log(0); for a "
            "sigmoid, 1 / (1 + exp(-z)) stays finite where exp(z) / (1 + exp(z)) does not.",
        )
    if found.shape != expected.shape:
        return _diagnose_shape(found, expected, rtol, atol)
    if expected.abs().max() > 0 and found.abs().max() == 0:
        return Diagnosis(
            "zeros",
            "Everything is zero. Was the value computed at all, or was it overwritten, detached "
            "(`.data`, `.detach()`) or reset before it was returned?",
        )
    flat_f, flat_e = found.flatten(), expected.flatten()
    norm_e, norm_f = flat_e.norm(), flat_f.norm()
    if norm_e == 0 or norm_f == 0 or (flat_e.numel() < 2 and norm_e < 1e-12):
        return None
    cosine = float(flat_f @ flat_e / (norm_f * norm_e))
    scale = float(flat_f @ flat_e / (norm_e * norm_e))
    if cosine < -1 + 1e-6 and _close(found, -expected, rtol, atol):
        return Diagnosis("sign", "The sign is flipped: every value has the right size but the opposite sign. "
                         "Check the order of a subtraction (yhat - y, not y - yhat) or a stray minus.", -1.0)
    if cosine > 1 - 1e-6 and _close(found, expected * scale, rtol, atol) and not math.isclose(scale, 1.0, rel_tol=1e-3):
        return Diagnosis("scale", _scale_hint(scale, batch, features), scale)
    return None


def _scale_hint(scale: float, batch: int | None, features: int | None) -> str:
    text = f"Every value is {_fmt(scale)} times the expected one: the direction is right, the scale is not."
    if batch and math.isclose(scale, batch, rel_tol=1e-3):
        return text + f" {_fmt(scale)} is the number of samples m: the average (the 1/m factor) is missing."
    if batch and math.isclose(scale, 1 / batch, rel_tol=1e-3):
        return text + " That is 1/m: the result was divided by the number of samples once too often."
    if batch and features and math.isclose(scale, batch / features, rel_tol=1e-3):
        return text + " That is m/n: the sum was divided by the number of features n instead of the samples m."
    if math.isclose(scale, 2.0, rel_tol=1e-3):
        return text + " A factor 2 often means something was added twice (gradients accumulated twice?)."
    return text + " Look for a missing or extra constant factor."


def _diagnose_shape(found: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> Diagnosis:
    if found.dim() == 2 and expected.dim() == 2 and found.shape == expected.T.shape:
        if _close(found, expected.T, rtol, atol):
            return Diagnosis(
                "transpose",
                f"The values are right but transposed: shape {tuple(found.shape)} instead of "
                f"{tuple(expected.shape)}. Swap the order of the matrix product or transpose the result.",
            )
        return Diagnosis(
            "transpose_shape",
            f"The shape is transposed: {tuple(found.shape)} instead of {tuple(expected.shape)}.",
        )
    try:
        broadcast = torch.broadcast_shapes(found.shape, expected.shape)
    except RuntimeError:
        broadcast = None
    if broadcast == found.shape and found.numel() > expected.numel():
        return Diagnosis(
            "broadcast",
            f"The result has shape {tuple(found.shape)} where {tuple(expected.shape)} was expected: two "
            "tensors of different shapes were broadcast together, e.g. (n, 1) - (1, n) gives (n, n). "
            "Make both operands the same shape before subtracting or multiplying.",
        )
    if found.numel() == expected.numel():
        return Diagnosis(
            "reshape",
            f"The number of values is right but the shape is {tuple(found.shape)} instead of "
            f"{tuple(expected.shape)}. Check reshape/view/squeeze calls, or keep the shape (m,) vs (1, m) apart.",
        )
    return Diagnosis("shape", f"The shape is {tuple(found.shape)}, but {tuple(expected.shape)} was expected.")


def _fmt(value: float) -> str:
    return f"{value:.4g}"
