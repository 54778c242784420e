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


def _own_tensors(model: Any) -> dict[str, torch.Tensor]:
    """The tensors ``model`` holds directly: its registered parameters and its plain tensor attributes."""
    attributes = vars(model) if hasattr(model, "__dict__") else {}
    found = {name: p for name, p in (attributes.get("_parameters") or {}).items() if isinstance(p, torch.Tensor)}
    found.update({n: t for n, t in attributes.items() if isinstance(t, torch.Tensor) and not n.startswith("_")})
    return found


def _lookup(model: Any, name: str) -> Any:
    try:
        return getattr(model, name)
    except Exception:
        return None


def _layout(model: Any, in_features: int, out_features: int) -> dict[str, Any]:
    """Which of the student's tensors plays ``weights`` and ``bias``, and whether weights is stored (out, in).

    The assignment asks for ``weights`` of shape (in_features, out_features) and ``bias``. A layer that is
    consistent under another name (``weight``, ``W``) or in torch.nn.Linear's (out, in) layout is judged in
    its own naming and layout (the judge's values go in transposed, gradients come back transposed), so that
    only the check about names and shapes (parameters_registered) charges the difference, once.
    """
    tensors = _own_tensors(model)
    weights = "weights"
    if not isinstance(_lookup(model, "weights"), torch.Tensor):
        shapes = {(in_features, out_features), (out_features, in_features)}
        shaped = [n for n, t in tensors.items() if t.dim() == 2 and tuple(t.shape) in shapes]
        if len(shaped) == 1:
            weights = shaped[0]
    tensor = _lookup(model, weights)
    transposed = (isinstance(tensor, torch.Tensor) and in_features != out_features
                  and tuple(tensor.shape) == (out_features, in_features))
    bias = "bias"
    if not hasattr(model, "bias"):
        shaped = [n for n, t in tensors.items() if t.dim() == 1 and tuple(t.shape) == (out_features,) and n != weights]
        if len(shaped) == 1:
            bias = shaped[0]
    return {"weights": weights, "bias": bias, "transposed": transposed}


def _as_judged(layout: dict[str, Any], role: str, value: torch.Tensor | None) -> torch.Tensor | None:
    """A tensor of the student's (a value, a gradient) in the assignment's layout, for the judge."""
    if value is not None and role == "weights" and layout["transposed"] and value.dim() == 2:
        return value.T
    return value


def _set_values(model: nn.Module, layout: dict[str, Any], values: dict[str, torch.Tensor | None],
                device: torch.device) -> None:
    """Put the judge's values into the student's tensors, whatever kind of tensor they are, in their layout."""
    with torch.no_grad():
        for role, value in values.items():
            if value is not None:
                if role == "weights" and layout["transposed"]:
                    value = value.T.contiguous()
                getattr(model, layout[role]).data = value.to(device)


def _observe_role(model: Any, layout: dict[str, Any], role: str, missing_ok: bool = True) -> dict[str, Any]:
    """:func:`observe` of the tensor playing ``role``, in the assignment's layout.

    A missing attribute is ``{"type": "missing"}`` when ``missing_ok``; otherwise the lookup raises, and the
    sandbox reports it as the grader's lookup of a name the assignment asks for.
    """
    value = _lookup(model, layout[role])
    if isinstance(value, torch.Tensor):
        seen = observe(value)  # its kind, dtype, device and autograd state are the student's tensor's own
        judged = _as_judged(layout, role, seen["tensor"])
        return {**seen, "tensor": judged, "shape": list(judged.shape)} if judged is not None else seen
    return observe_attribute(model, layout[role]) if missing_ok else observe(getattr(model, layout[role]))


def structure(student: Student, in_features: int, out_features: int, bias: bool | None) -> dict[str, Any]:
    """Build MyLinear and describe it: attributes, registered parameters, unregistered tensors."""
    model = _build(student, in_features, out_features, bias, forward=False)
    is_module = isinstance(model, nn.Module)
    # Names are learnt from a layer with a bias (a `self.b = None` says nothing about what `b` is).
    named = model if bias is not False else _build(student, in_features, out_features, True, forward=False)
    layout = _layout(named, in_features, out_features)
    return {
        "is_module": is_module,
        "layout": layout,
        "in_features": observe_attribute(model, "in_features"),
        "out_features": observe_attribute(model, "out_features"),
        "weights": observe_attribute(model, layout["weights"]),
        "bias": observe_attribute(model, layout["bias"]),
        "parameters": [{"name": n, **observe(p)} for n, p in model.named_parameters()] if is_module else [],
        "state_dict": sorted(model.state_dict()) if is_module else [],
        "unregistered": unregistered_tensors(model) if is_module else [],
    }


def forward(student: Student, in_features: int, out_features: int, bias: bool, weights: torch.Tensor,
            bias_values: torch.Tensor | None, inputs: list[torch.Tensor], dtype: str) -> list[dict[str, Any]]:
    """Run forward on the judge's inputs with the judge's parameter values, in ``dtype``."""
    model = _build(student, in_features, out_features, bias)
    kind = getattr(torch, dtype)
    _set_values(model, _layout(model, in_features, out_features),
                {"weights": weights.to(kind), "bias": None if bias_values is None else bias_values.to(kind)},
                student.device)
    return [observe(model(x.to(student.device, kind))) for x in inputs]


def gradients(student: Student, in_features: int, out_features: int, weights: torch.Tensor,
              bias_values: torch.Tensor, x: torch.Tensor, upstream: torch.Tensor, dtype: str) -> dict[str, Any]:
    """Backpropagate ``sum(forward(x) * upstream)`` and report each parameter's ``.grad``."""
    model = _build(student, in_features, out_features, True)
    kind = getattr(torch, dtype)
    layout = _layout(model, in_features, out_features)
    _set_values(model, layout, {"weights": weights.to(kind), "bias": bias_values.to(kind)}, student.device)
    for role in ("weights", "bias"):
        tensor = getattr(model, layout[role])
        if isinstance(tensor, torch.Tensor):
            tensor.grad = None
    out = model(x.to(student.device, kind))
    requires_grad = bool(out.requires_grad)
    if requires_grad:
        (out * upstream.to(student.device, kind)).sum().backward()
    grads, flags = {}, {}
    for role in ("weights", "bias"):
        tensor = getattr(model, layout[role])
        grads[role] = observe(_as_judged(layout, role, tensor.grad) if isinstance(tensor, torch.Tensor) else None)
        flags[role] = bool(getattr(tensor, "requires_grad", False))
    return {"output_requires_grad": requires_grad, "grads": grads, "requires_grad": flags}


def follows_to(student: Student, in_features: int, out_features: int, x: torch.Tensor) -> dict[str, Any]:
    """Move the model with ``.to(device, float64)`` and report its tensors and a forward pass."""
    model = _build(student, in_features, out_features, True)
    layout = _layout(model, in_features, out_features)
    moved = model.to(device=student.device, dtype=torch.float64)
    result: dict[str, Any] = {
        "returns_self": moved is model,
        "weights": _observe_role(model, layout, "weights"),
        "bias": _observe_role(model, layout, "bias"),
        "parameters": [{"name": n, **observe(p)} for n, p in model.named_parameters()],
    }
    result["output"] = _attempt(student, lambda: model(x.to(student.device, torch.float64)))
    return result


def optimizer_step(student: Student, in_features: int, out_features: int, x: torch.Tensor, lr: float) -> dict[str, Any]:
    """Build SGD from ``parameters()``, take one step on ``sum(forward(x))``, report before and after."""
    model = _build(student, in_features, out_features, True)
    layout = _layout(model, in_features, out_features)
    model.to(student.device)
    before = {role: _observe_role(model, layout, role, missing_ok=False) for role in ("weights", "bias")}
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
    result["after"] = {role: _observe_role(model, layout, role, missing_ok=False) for role in ("weights", "bias")}
    return result
