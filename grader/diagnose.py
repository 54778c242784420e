"""Name the mistake behind a wrong tensor: missing, wrong dtype or device, scale, sign, transpose, broadcast.

Given what the student's code produced and what it should have produced (both computed or checked by
the judge), :func:`diagnose_observation` returns a :class:`Diagnosis` with a plain-words hint, or ``None``
when nothing recognisable is wrong. It looks, in order, at: no value at all (``None``: a gradient that
never arrived), something that is not a tensor, the dtype, the device, then the numbers
(:func:`diagnose`: NaN/Inf, shape, zeros, sign flip, constant scale factor and its value). The same
library serves every assignment's checks, through :func:`grader.compare.expect_close`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Diagnosis:
    """A recognised mistake: a short ``kind`` for tests and machines, and a ``hint`` for students.

    ``detail`` narrows a kind down when the numbers say more (a ``"scale"`` whose factor is the number of
    samples is a ``"missing_mean"``); :attr:`cause` is the narrowest name known.
    """

    kind: str
    hint: str
    factor: float | None = None
    detail: str | None = None

    @property
    def cause(self) -> str:
        """The mistake's stable identifier for the results' ``cause``: ``detail`` when known, else ``kind``."""
        return self.detail or self.kind


def diagnose_observation(
    obs: Mapping[str, Any] | None,
    expected: torch.Tensor,
    *,
    what: str = "the value",
    dtype: str | None = None,
    device: str | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    batch: int | None = None,
    features: int | None = None,
) -> Diagnosis | None:
    """Classify an observation (the plain data :func:`grader.sandbox.student.observe` makes) against ``expected``.

    ``dtype`` and ``device`` are what the result should have (``"float32"``, ``"cuda"``); left out, they
    are not judged. Returns ``None`` when the observation is a tensor with the right dtype, device and
    values, or when it is wrong in no recognisable way.
    """
    if obs is None or obs.get("type") in ("None", "missing"):
        return Diagnosis(
            "missing",
            f"{what} is None: nothing was computed or returned. For a gradient, it means no gradient reached "
            "the tensor: it was not used in the computation, used through .data or .detach(), under "
            "torch.no_grad(), created with requires_grad=False, or is not a leaf tensor.",
        )
    if not isinstance(obs.get("tensor"), torch.Tensor):
        return Diagnosis("not_a_tensor", f"{what} should be a torch.Tensor, not a {obs.get('type')}: keep the "
                         "result a tensor (no .item(), .tolist() or .numpy()).")
    if dtype is not None and obs.get("dtype") != dtype:
        return Diagnosis("dtype", _dtype_hint(str(obs.get("dtype")), dtype))
    if device is not None and _device_kind(str(obs.get("device"))) != _device_kind(device):
        return Diagnosis("device", _device_hint(str(obs.get("device")), device))
    found = obs["tensor"].double()
    expected = expected.double()
    if found.shape == expected.shape and bool(torch.isfinite(found).all()):
        if bool(torch.allclose(found, expected, rtol=rtol, atol=atol)):
            return None
    return diagnose(found, expected, rtol=rtol, atol=atol, batch=batch, features=features)


def _dtype_hint(found: str, expected: str) -> str:
    text = f"The dtype is {found} where {expected} was expected."
    if found == "float64" and expected == "float32":
        return text + (" float64 comes from `dtype=float` (Python's float is float64), from NumPy arrays, or "
                       "from an explicit .double(): create tensors with the dtype of the inputs.")
    if found.startswith(("int", "uint", "bool")):
        return text + (" Integer tensors come from integer literals, e.g. torch.tensor([0, 1]) or torch.arange: "
                       "use floats (torch.tensor([0., 1.])) or dtype=x.dtype.")
    return text + " Do not hard-code a dtype (.float(), .half(), dtype=...): keep the dtype of the inputs."


def _device_hint(found: str, expected: str) -> str:
    text = f"The result is on {found} where {expected} was expected."
    if _device_kind(found) == "cpu":
        return text + (" Part of it was created on the CPU: torch.zeros(...), torch.tensor(...) and friends "
                       "default to the CPU, so pass device=x.device (or use the module-level `device`), and do "
                       "not call .cpu().")
    return text + (" Do not hard-code .cuda() or device='cuda': use the device of the inputs (x.device) or the "
                   "module-level `device`, so the code runs on machines with and without a GPU.")


def _device_kind(device: str) -> str:
    return device.split(":")[0]


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
        return Diagnosis("scale", _scale_hint(scale, batch, features), scale, _scale_cause(scale, batch, features))
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


def _scale_cause(scale: float, batch: int | None, features: int | None) -> str | None:
    """The factor's meaning, as :func:`_scale_hint` words it, for :attr:`Diagnosis.cause` (None: just a scale)."""
    if batch and math.isclose(scale, batch, rel_tol=1e-3):
        return "missing_mean"
    if batch and math.isclose(scale, 1 / batch, rel_tol=1e-3):
        return "mean_twice"
    if batch and features and math.isclose(scale, batch / features, rel_tol=1e-3):
        return "mean_over_features"
    if math.isclose(scale, 2.0, rel_tol=1e-3):
        return "doubled"
    return None


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
