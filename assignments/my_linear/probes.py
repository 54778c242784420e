"""Sandbox side of my_linear: exercise the student's MyLinear and report plain data. Decides nothing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grader.sandbox.student import Student, observe, observe_attribute, unregistered_tensors


def _build(student: Student, in_features: int, out_features: int, bias: bool | None, forward: bool = True) -> nn.Module:
    cls = student.cls("MyLinear", methods=("__init__", "forward") if forward else ("__init__",))
    if bias is None:
        return cls(in_features, out_features)
    return cls(in_features, out_features, bias=bias)


def _attempt(student: Student, func: Any) -> dict[str, Any]:
    """Observe what ``func()`` returns, or describe what it raised and the student's line where it did."""
    try:
        return observe(func())
    except Exception as exc:
        return {"type": "raised", "repr": f"{type(exc).__name__}: {exc}", "where": student.where(exc)}


def _set_values(model: nn.Module, values: dict[str, torch.Tensor | None], device: torch.device) -> None:
    """Put the judge's values into the student's tensors, whatever kind of tensor they are."""
    with torch.no_grad():
        for name, value in values.items():
            if value is not None:
                getattr(model, name).data = value.to(device)


def structure(student: Student, in_features: int, out_features: int, bias: bool | None) -> dict[str, Any]:
    """Build MyLinear and describe it: attributes, registered parameters, unregistered tensors."""
    model = _build(student, in_features, out_features, bias, forward=False)
    is_module = isinstance(model, nn.Module)
    return {
        "is_module": is_module,
        "in_features": observe_attribute(model, "in_features"),
        "out_features": observe_attribute(model, "out_features"),
        "weights": observe_attribute(model, "weights"),
        "bias": observe_attribute(model, "bias"),
        "parameters": [{"name": n, **observe(p)} for n, p in model.named_parameters()] if is_module else [],
        "state_dict": sorted(model.state_dict()) if is_module else [],
        "unregistered": unregistered_tensors(model) if is_module else [],
    }


def forward(student: Student, in_features: int, out_features: int, bias: bool, weights: torch.Tensor,
            bias_values: torch.Tensor | None, inputs: list[torch.Tensor], dtype: str) -> list[dict[str, Any]]:
    """Run forward on the judge's inputs with the judge's parameter values, in ``dtype``."""
    model = _build(student, in_features, out_features, bias)
    kind = getattr(torch, dtype)
    _set_values(model, {"weights": weights.to(kind), "bias": None if bias_values is None else bias_values.to(kind)},
                student.device)
    return [observe(model(x.to(student.device, kind))) for x in inputs]


def gradients(student: Student, in_features: int, out_features: int, weights: torch.Tensor,
              bias_values: torch.Tensor, x: torch.Tensor, upstream: torch.Tensor, dtype: str) -> dict[str, Any]:
    """Backpropagate ``sum(forward(x) * upstream)`` and report each parameter's ``.grad``."""
    model = _build(student, in_features, out_features, True)
    kind = getattr(torch, dtype)
    _set_values(model, {"weights": weights.to(kind), "bias": bias_values.to(kind)}, student.device)
    for name in ("weights", "bias"):
        tensor = getattr(model, name)
        if isinstance(tensor, torch.Tensor):
            tensor.grad = None
    out = model(x.to(student.device, kind))
    requires_grad = bool(out.requires_grad)
    if requires_grad:
        (out * upstream.to(student.device, kind)).sum().backward()
    grads, flags = {}, {}
    for name in ("weights", "bias"):
        tensor = getattr(model, name)
        grads[name] = observe(tensor.grad if isinstance(tensor, torch.Tensor) else None)
        flags[name] = bool(getattr(tensor, "requires_grad", False))
    return {"output_requires_grad": requires_grad, "grads": grads, "requires_grad": flags}


def follows_to(student: Student, in_features: int, out_features: int, x: torch.Tensor) -> dict[str, Any]:
    """Move the model with ``.to(device, float64)`` and report its tensors and a forward pass."""
    model = _build(student, in_features, out_features, True)
    moved = model.to(device=student.device, dtype=torch.float64)
    result: dict[str, Any] = {
        "returns_self": moved is model,
        "weights": observe_attribute(model, "weights"),
        "bias": observe_attribute(model, "bias"),
        "parameters": [{"name": n, **observe(p)} for n, p in model.named_parameters()],
    }
    result["output"] = _attempt(student, lambda: model(x.to(student.device, torch.float64)))
    return result


def optimizer_step(student: Student, in_features: int, out_features: int, x: torch.Tensor, lr: float) -> dict[str, Any]:
    """Build SGD from ``parameters()``, take one step on ``sum(forward(x))``, report before and after."""
    model = _build(student, in_features, out_features, True)
    model.to(student.device)
    before = {n: observe(getattr(model, n)) for n in ("weights", "bias")}
    n_params = sum(1 for _ in model.parameters())
    result: dict[str, Any] = {"before": before, "n_params": n_params, "output_requires_grad": None}
    if n_params == 0:
        return result  # torch.optim would raise "optimizer got an empty parameter list"; the judge says why
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.zero_grad()
    out = model(x.to(student.device, torch.float32))
    result["output_requires_grad"] = bool(out.requires_grad)
    if out.requires_grad:
        out.sum().backward()
    optimizer.step()
    result["after"] = {n: observe(getattr(model, n)) for n in ("weights", "bias")}
    return result
