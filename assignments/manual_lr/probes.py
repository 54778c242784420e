"""Sandbox side of manual_lr: exercise the student's LR and report plain data. Decides nothing.

The student's LR is judged in its own naming and layout: :func:`_layout` finds which attribute plays
``w``, ``b``, ``grads`` and ``lr``, under which keys ``grads`` holds ``dw`` and ``db``, and whether ``w``
is stored as a row ``(1, dim)`` instead of the assignment's column ``(dim, 1)``. The judge's values go in
in that layout and everything comes back in the assignment's, so only ``initial_state`` (which reports
the layout) can charge a difference of form.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from grader.sandbox.student import Student, observe, observe_attribute

_MISSING = {"type": "missing"}
_ASKED = {"w": "w", "b": "b", "grads": "grads", "lr": "lr", "dw": "dw", "db": "db"}


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


def _lookup(owner: Any, name: str) -> Any:
    try:
        return getattr(owner, name)
    except Exception:
        return None


def _attributes(model: Any) -> dict[str, Any]:
    """The student's own attributes: plain ones, registered parameters and buffers (not the private ones)."""
    attributes = vars(model) if hasattr(model, "__dict__") else {}
    found = {n: v for n, v in attributes.items() if not n.startswith("_")}
    for registry in ("_parameters", "_buffers"):
        found.update({n: v for n, v in (attributes.get(registry) or {}).items() if isinstance(v, torch.Tensor)})
    return found


def _one_value(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == 1


def _is_row(value: Any, dim: int) -> bool:
    return isinstance(value, torch.Tensor) and dim != 1 and tuple(value.shape) == (1, dim)


def _only(names: list[str], default: str) -> str:
    return names[0] if len(names) == 1 else default


def _grad_keys(grads: Any, dim: int) -> dict[str, Any]:
    """Under which keys ``grads`` holds dw (w's shape, either layout) and db (one value); only text keys count."""
    if not isinstance(grads, dict):
        return {"dw": "dw", "db": "db"}
    grads = {k: v for k, v in grads.items() if isinstance(k, str)}
    keys = {"dw": "dw" if "dw" in grads else None, "db": "db" if "db" in grads else None}
    if keys["dw"] is None:
        keys["dw"] = _only([k for k, v in grads.items() if isinstance(v, torch.Tensor) and v.dim() == 2
                            and tuple(v.shape) in {(dim, 1), (1, dim)} and k != keys["db"]], "dw")
    if keys["db"] is None:
        keys["db"] = _only([k for k, v in grads.items() if _one_value(v) and k != keys["dw"]], "db")
    if len(grads) == 2:  # two entries, one of them found: the other is the other gradient
        for role, other in (("dw", "db"), ("db", "dw")):
            if keys[role] not in grads and keys[other] in grads:
                keys[role] = next(k for k in grads if k != keys[other])
    return keys


def _layout(model: Any, dim: int, lr: Any = None) -> dict[str, Any]:
    """Which of the student's attributes play w, b, grads and lr, grads' keys, and whether w is a row.

    The assignment's name wins wherever the student defines it; otherwise the one attribute of the role's
    shape is taken: w the 2-D tensor of shape (dim, 1) or (1, dim), grads the dict holding tensors, lr the
    number or one-value tensor equal to the learning rate, b the remaining one-value tensor. Anything not
    found keeps the assignment's name (and is then reported missing where it is asked for).
    """
    attributes = _attributes(model)
    lr_value = float(lr) if lr is not None else 0.01
    layout: dict[str, Any] = dict(_ASKED)
    if not isinstance(_lookup(model, "w"), torch.Tensor):
        layout["w"] = _only([n for n, v in attributes.items() if isinstance(v, torch.Tensor) and v.dim() == 2
                             and tuple(v.shape) in {(dim, 1), (1, dim)}], "w")
    if not isinstance(_lookup(model, "grads"), dict):
        layout["grads"] = _only([n for n, v in attributes.items() if isinstance(v, dict) and v
                                 and all(isinstance(t, torch.Tensor) for t in v.values())], "grads")
    if not hasattr(model, "lr"):
        def is_lr(value: Any) -> bool:
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else (
                float(value) if _one_value(value) else None)
            return number is not None and abs(number - lr_value) <= 1e-6 * max(1.0, abs(lr_value))
        layout["lr"] = _only([n for n, v in attributes.items() if n != layout["w"] and is_lr(v)], "lr")
    if not isinstance(_lookup(model, "b"), torch.Tensor):
        layout["b"] = _only([n for n, v in attributes.items() if _one_value(v)
                             and n not in (layout["w"], layout["lr"])], "b")
    layout["transposed"] = _is_row(_lookup(model, layout["w"]), dim)
    layout.update(_grad_keys(_lookup(model, layout["grads"]), dim))
    return layout


def _as_judged(layout: dict[str, Any], role: str, value: Any) -> Any:
    """A value of the student's (w, dw) in the assignment's layout: a row w goes back to a column."""
    if role in ("w", "dw") and layout["transposed"] and isinstance(value, torch.Tensor) and value.dim() == 2:
        return value.T
    return value


def _observe_role(layout: dict[str, Any], role: str, value: Any) -> dict[str, Any]:
    """:func:`observe` of the value playing ``role``, in the assignment's layout (kind, dtype, device its own)."""
    seen = observe(value)
    judged = _as_judged(layout, role, seen.get("tensor"))
    return {**seen, "tensor": judged, "shape": list(judged.shape)} if isinstance(judged, torch.Tensor) else seen


def _observe_attribute(model: Any, layout: dict[str, Any], role: str) -> dict[str, Any]:
    if not hasattr(model, layout[role]):
        return observe_attribute(model, layout[role])
    return _observe_role(layout, role, getattr(model, layout[role]))


def _in_layout(layout: dict[str, Any], role: str, value: torch.Tensor, device: torch.device,
               like: Any = None) -> torch.Tensor:
    """The judge's ``value`` for ``role`` in the student's layout: a row for a row w, a one-value b in b's shape."""
    value = value.to(device=device, dtype=torch.float32)
    if role in ("w", "dw") and layout["transposed"]:
        value = value.T
    elif _one_value(like) and value.numel() == 1:
        value = value.reshape(like.shape)
    return value.contiguous()


def _put(model: Any, layout: dict[str, Any], device: torch.device, **values: torch.Tensor) -> None:
    """Put the judge's values into the student's attributes, in its layout, whatever kind of tensor they are."""
    for role, value in values.items():
        name = layout[role]
        current = _lookup(model, name)
        value = _in_layout(layout, role, value, device, current)
        if isinstance(current, torch.nn.Parameter):
            current.data = value  # a registered parameter cannot be replaced by a plain tensor
        else:
            setattr(model, name, value)


def initial_state(student: Student, dim: int) -> dict[str, Any]:
    """Build LR(dim) and describe w, b, grads and lr (found under the student's names) and the layout."""
    model = _build(student, dim)
    layout = _layout(model, dim)
    grads = _lookup(model, layout["grads"])
    stored = {"w": _lookup(model, layout["w"]), "dw": grads.get(layout["dw"]) if isinstance(grads, dict) else None}
    shapes = {role: list(value.shape) for role, value in stored.items() if isinstance(value, torch.Tensor)}
    return {
        "layout": layout,
        "shapes": shapes,  # as the student stores them (the observations below are in the assignment's layout)
        "w": _observe_attribute(model, layout, "w"),
        "b": _observe_attribute(model, layout, "b"),
        "lr": observe_attribute(model, layout["lr"]),
        "grads_type": type(grads).__name__,
        "grads_keys": [str(k) for k in grads] if isinstance(grads, dict) else [],
        "grads": {role: _observe_role(layout, role, grads[layout[role]]) for role in ("dw", "db")
                  if layout[role] in grads} if isinstance(grads, dict) else {},
    }


def forward(student: Student, dim: int, w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> dict[str, Any]:
    """Set the judge's w and b, and return forward(x)."""
    model = _build(student, dim, methods=("forward",))
    _put(model, _layout(model, dim), student.device, w=w, b=b)
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
    layout = _layout(model, dim)
    _put(model, layout, student.device, w=w, b=b)
    device = student.device
    args = [t.to(device, torch.float32) for t in (x, yhat, y)]
    calls: list[str] = []
    with _autograd_spy(calls), (torch.no_grad() if autograd_off else contextlib.nullcontext()):
        model.backward(*args)
    grads = _lookup(model, layout["grads"])
    if not isinstance(grads, dict):
        return {"grads_type": type(grads).__name__, "dw": dict(_MISSING), "db": dict(_MISSING), "autograd": calls}
    found = _grad_keys(grads, dim)  # the keys backward wrote, when __init__'s dict did not tell
    keys = {role: layout[role] if layout[role] in grads else found[role] for role in ("dw", "db")}
    return {
        "grads_type": "dict",
        **{role: _observe_role(layout, role, grads[key]) if key in grads else dict(_MISSING)
           for role, key in keys.items()},
        "autograd": calls,
    }


def optimize(student: Student, dim: int, w: torch.Tensor, b: torch.Tensor, dw: torch.Tensor, db: torch.Tensor,
             lr: float) -> dict[str, Any]:
    """Set w, b, grads and lr, call optimize(), and return the new w and b."""
    model = _build(student, dim, lr=lr, methods=("optimize",))
    layout = _layout(model, dim, lr)
    _put(model, layout, student.device, w=w, b=b)
    grads = _lookup(model, layout["grads"])
    given = dict(grads) if isinstance(grads, dict) else {}
    for role, value in (("dw", dw), ("db", db)):
        given[layout[role]] = _in_layout(layout, role, value, student.device, given.get(layout[role]))
    setattr(model, layout["grads"], given)
    model.optimize()
    return {"w": _observe_attribute(model, layout, "w"), "b": _observe_attribute(model, layout, "b")}


def train(student: Student, x: torch.Tensor, y: torch.Tensor, lr: float, epochs: int) -> dict[str, Any]:
    """Train LR with forward / backward / optimize for ``epochs`` steps; return the final w and b."""
    dim = x.shape[0]
    model = _build(student, dim, lr=lr, methods=("forward", "backward", "optimize"))
    layout = _layout(model, dim, lr)
    xs, ys = x.to(student.device, torch.float32), y.to(student.device, torch.float32)
    for _ in range(epochs):
        yhat = model.forward(xs)
        model.backward(xs, yhat, ys)
        model.optimize()
    return {"w": _observe_attribute(model, layout, "w"), "b": _observe_attribute(model, layout, "b")}
