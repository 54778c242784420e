"""Sandbox side of autograd_basics: call q_function / q_gradients on the judge's inputs, report plain data.

Decides nothing: every value reported here is compared by the judge with its own expectations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from grader.sandbox.student import Student, observe


def _put(student: Student, t: torch.Tensor, dtype: str, requires_grad: bool = False) -> torch.Tensor:
    """A fresh leaf tensor on the device under test, in ``dtype``."""
    return t.to(student.device, getattr(torch, dtype)).detach().clone().requires_grad_(requires_grad)


@contextlib.contextmanager
def _backward_counter(seen: list[str]) -> Iterator[None]:
    """Record signs that a backward pass ran: saved tensors unpacked by autograd, calls into its entry points.

    Saved-tensor hooks travel with the graph, so they see ``Q.backward()``, ``torch.autograd.grad`` and
    ``torch.autograd.functional`` however the student imported them; the spies on the entry points are a
    second witness.
    """

    def unpack(t: torch.Tensor) -> torch.Tensor:
        seen.append("unpack")
        return t

    def spy(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen.append(name)
            return func(*args, **kwargs)

        return wrapper

    originals = (torch.autograd.backward, torch.autograd.grad, torch.Tensor.backward)
    torch.autograd.backward = spy("torch.autograd.backward", originals[0])
    torch.autograd.grad = spy("torch.autograd.grad", originals[1])
    torch.Tensor.backward = spy("Tensor.backward", originals[2])  # type: ignore[method-assign]
    try:
        with torch.autograd.graph.saved_tensors_hooks(lambda t: t, unpack):
            yield
    finally:
        torch.autograd.backward, torch.autograd.grad = originals[0], originals[1]
        torch.Tensor.backward = originals[2]  # type: ignore[method-assign]


def q_function(student: Student, a: torch.Tensor, b: torch.Tensor, dtype: str, requires_grad: bool) -> dict[str, Any]:
    """Return q_function(a, b); when the inputs require grad, also the gradients of its sum."""
    func = student.function("q_function")
    a_t, b_t = _put(student, a, dtype, requires_grad), _put(student, b, dtype, requires_grad)
    out = func(a_t, b_t)
    result: dict[str, Any] = {"output": observe(out), "grads": None}
    if requires_grad and isinstance(out, torch.Tensor) and out.requires_grad:
        grads = torch.autograd.grad(out.sum(), (a_t, b_t), allow_unused=True)
        result["grads"] = {"a": observe(grads[0]), "b": observe(grads[1])}
    return result


def _describe(returned: Any, a: torch.Tensor, b: torch.Tensor) -> dict[str, Any]:
    """What q_gradients returned: a pair of observations, or what it was instead."""
    if not isinstance(returned, tuple | list) or len(returned) != 2:
        return {"pair": False, "what": observe(returned), "length": len(returned) if isinstance(returned, tuple | list)
                else None}
    items = list(returned)
    return {
        "pair": True,
        "items": [observe(x) for x in items],
        # the caller's own .grad handed back (it changes under the caller's feet on the next call)
        "caller_grad": [x is not None and (x is a.grad or x is b.grad) for x in items],
        "caller_tensor": [x is a or x is b for x in items],
    }


def q_gradients(student: Student, a: torch.Tensor, b: torch.Tensor, g: torch.Tensor, dtype: str,
                caller_requires_grad: bool = False, repeat: int = 1) -> dict[str, Any]:
    """Call q_gradients(a, b, g) ``repeat`` times on the same caller tensors; report results and the caller's state."""
    func = student.function("q_gradients")
    a_t = _put(student, a, dtype, caller_requires_grad)
    b_t = _put(student, b, dtype, caller_requires_grad)
    g_t = _put(student, g, dtype)
    calls: list[dict[str, Any]] = []
    seen: list[str] = []
    with _backward_counter(seen):
        for _ in range(repeat):
            calls.append(_describe(func(a_t, b_t, g_t), a_t, b_t))
    return {
        "calls": calls,
        "backward_ran": bool(seen),
        "caller": {
            "a": observe(a_t), "b": observe(b_t), "g": observe(g_t),
            "a_grad": observe(a_t.grad), "b_grad": observe(b_t.grad),
        },
    }
