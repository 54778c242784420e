"""Sandbox side of manual_lr: exercise the student's LR and report plain data. Decides nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from grader.sandbox.student import Student, observe, observe_attribute

_MISSING = {"type": "missing"}


def _build(student: Student, dim: int, lr: float | None = None, methods: tuple[str, ...] = ()) -> Any:
    """Build LR(dim), after checking that the class defines ``__init__`` and ``methods``."""
    cls = student.cls("LR", methods=("__init__", *methods))
    if lr is None:
        return cls(dim)
    return cls(dim, lr=torch.scalar_tensor(lr))


def _sigmoid(student: Student, model: Any) -> Any:
    """The student's sigmoid: a method of LR, or a function at the top level of the file."""
    if callable(getattr(model, "sigmoid", None)):
        return model.sigmoid
    return student.function("sigmoid")


def _put(model: Any, device: torch.device, **values: torch.Tensor) -> None:
    for name, value in values.items():
        setattr(model, name, value.to(device=device, dtype=torch.float32))


def initial_state(student: Student, dim: int) -> dict[str, Any]:
    """Build LR(dim) and describe w, b, grads and lr."""
    model = _build(student, dim)
    grads = getattr(model, "grads", None)
    return {
        "w": observe_attribute(model, "w"),
        "b": observe_attribute(model, "b"),
        "lr": observe_attribute(model, "lr"),
        "grads_type": type(grads).__name__,
        "grads": {str(k): observe(v) for k, v in grads.items()} if isinstance(grads, dict) else {},
    }


def forward(student: Student, dim: int, w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> dict[str, Any]:
    """Set the judge's w and b, and return forward(x)."""
    model = _build(student, dim, methods=("forward",))
    _put(model, student.device, w=w, b=b)
    return observe(model.forward(x.to(student.device, torch.float32)))


def sigmoid(student: Student, z: torch.Tensor) -> dict[str, Any]:
    """Return sigmoid(z) for the judge's z."""
    model = _build(student, 1)
    return observe(_sigmoid(student, model)(z.to(student.device, torch.float32)))


@contextlib.contextmanager
def _autograd_spy(calls: list[str]) -> Iterator[None]:
    """Count calls into autograd while a hand-written backward runs."""
    originals = (torch.autograd.backward, torch.autograd.grad, torch.Tensor.backward)

    def spy(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return func(*args, **kwargs)

        return wrapper

    torch.autograd.backward = spy("torch.autograd.backward", originals[0])
    torch.autograd.grad = spy("torch.autograd.grad", originals[1])
    torch.Tensor.backward = spy("Tensor.backward", originals[2])  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.autograd.backward, torch.autograd.grad = originals[0], originals[1]
        torch.Tensor.backward = originals[2]  # type: ignore[method-assign]


def backward(student: Student, dim: int, w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, yhat: torch.Tensor,
             y: torch.Tensor, autograd_off: bool) -> dict[str, Any]:
    """Set the w and b that produced ``yhat``, call backward(x, yhat, y), return the grads.

    Under ``autograd_off`` the call runs in torch.no_grad(); calls into autograd are counted either way.
    """
    model = _build(student, dim, methods=("backward",))
    _put(model, student.device, w=w, b=b)
    device = student.device
    args = [t.to(device, torch.float32) for t in (x, yhat, y)]
    calls: list[str] = []
    with _autograd_spy(calls), (torch.no_grad() if autograd_off else contextlib.nullcontext()):
        model.backward(*args)
    grads = getattr(model, "grads", None)
    if not isinstance(grads, dict):
        return {"grads_type": type(grads).__name__, "dw": dict(_MISSING), "db": dict(_MISSING), "autograd": calls}
    return {
        "grads_type": "dict",
        "dw": observe(grads["dw"]) if "dw" in grads else dict(_MISSING),
        "db": observe(grads["db"]) if "db" in grads else dict(_MISSING),
        "autograd": calls,
    }


def optimize(student: Student, dim: int, w: torch.Tensor, b: torch.Tensor, dw: torch.Tensor, db: torch.Tensor,
             lr: float) -> dict[str, Any]:
    """Set w, b, grads and lr, call optimize(), and return the new w and b."""
    model = _build(student, dim, lr=lr, methods=("optimize",))
    _put(model, student.device, w=w, b=b)
    model.grads = {"dw": dw.to(student.device, torch.float32), "db": db.to(student.device, torch.float32)}
    model.optimize()
    return {"w": observe_attribute(model, "w"), "b": observe_attribute(model, "b")}


def train(student: Student, x: torch.Tensor, y: torch.Tensor, lr: float, epochs: int) -> dict[str, Any]:
    """Train LR with forward / backward / optimize for ``epochs`` steps; return the final w and b."""
    dim = x.shape[0]
    model = _build(student, dim, lr=lr, methods=("forward", "backward", "optimize"))
    xs, ys = x.to(student.device, torch.float32), y.to(student.device, torch.float32)
    for _ in range(epochs):
        yhat = model.forward(xs)
        model.backward(xs, yhat, ys)
        model.optimize()
    return {"w": observe_attribute(model, "w"), "b": observe_attribute(model, "b")}
