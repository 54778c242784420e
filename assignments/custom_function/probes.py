"""Sandbox side of custom_function: run the student's LinearFunction and report plain data. Decides nothing.

The student's ``backward`` is called twice over: directly, as ``LinearFunction.backward(ctx, grad_output)``
on the node that ``apply`` recorded (so the judge sees exactly what it returned, before torch validates
it), and through the autograd engine as ``loss.backward()`` would run it. ``torch.autograd.gradcheck`` is
run here too, but its verdict can only cost points: the judge checks every gradient against its own
exact values.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import torch
from torch import nn

from grader.sandbox.student import MissingDefinition, Student, observe

INPUT_NAMES = ("input", "weight", "bias")


def _function(student: Student) -> Any:
    """The student's LinearFunction, after checking that it is a torch.autograd.Function."""
    cls = student.cls("LinearFunction", methods=("forward", "backward"))
    if not issubclass(cls, torch.autograd.Function):
        raise MissingDefinition(
            "`LinearFunction` is not a subclass of torch.autograd.Function, so it has no `apply`.",
            "Write `class LinearFunction(torch.autograd.Function):` with @staticmethod forward(ctx, input, weight, "
            "bias=None) and @staticmethod backward(ctx, grad_output).",
        )
    return cls


def _kind(cls: type, name: str) -> str:
    return type(inspect.getattr_static(cls, name)).__name__


def _binds(func: Any, *args: Any) -> bool:
    try:
        inspect.signature(func).bind(*args)
    except (TypeError, ValueError):
        return False
    return True


def _has_setup_context(cls: type) -> bool:
    """Whether ``cls`` defines its own setup_context, as torch decides it: then forward takes no ctx."""
    return bool(getattr(cls, "setup_context", None) != torch.autograd.Function.setup_context)


def _signature(func: Any) -> str:
    """``forward(ctx, input, weight, bias)``: the name and signature, as the student wrote them."""
    try:
        return f"{getattr(func, '__name__', 'forward')}{inspect.signature(func)}"[:200]
    except (TypeError, ValueError):
        return repr(func)[:200]


def structure(student: Student) -> dict[str, Any]:
    """Describe LinearFunction: its base class, how forward and backward are declared, what they accept.

    With a setup_context of its own (torch's newer style), torch calls forward without ctx, so forward is
    tried without it; the name of the ctx argument is free either way (torch passes it by position).
    """
    cls = student.cls("LinearFunction", methods=("forward", "backward"))
    forward, backward = getattr(cls, "forward"), getattr(cls, "backward")  # noqa: B009
    setup = _has_setup_context(cls) if issubclass(cls, torch.autograd.Function) else False
    lead: tuple[str, ...] = () if setup else ("ctx",)
    return {
        "is_function": issubclass(cls, torch.autograd.Function),
        "bases": [base.__name__ for base in cls.__bases__],
        "forward": _kind(cls, "forward"),
        "backward": _kind(cls, "backward"),
        "setup_context": _kind(cls, "setup_context") if setup else None,
        "setup_context_three": _binds(getattr(cls, "setup_context"), "ctx", "inputs", "output") if setup else None,  # noqa: B009
        "forward_signature": _signature(forward),
        "forward_two": _binds(forward, *lead, "input", "weight"),
        "forward_three": _binds(forward, *lead, "input", "weight", "bias"),
        "backward_one": _binds(backward, "ctx", "grad_output"),
    }


def _inputs(student: Student, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, bias: str, dtype: str,
            requires_grad: bool) -> tuple[torch.Tensor | None, ...]:
    """Leaf copies on the device under test; ``bias`` is "given", "omitted" (two arguments) or "none"."""
    kind = getattr(torch, dtype)

    def leaf(t: torch.Tensor) -> torch.Tensor:
        return t.to(student.device, kind).detach().clone().requires_grad_(requires_grad)

    if bias == "given":
        assert b is not None
        return leaf(x), leaf(w), leaf(b)
    if bias == "none":
        return leaf(x), leaf(w), None
    return leaf(x), leaf(w)


def forward(student: Student, cases: list[dict[str, Any]], dtype: str) -> list[dict[str, Any]]:
    """LinearFunction.apply on each case (inputs that do not require grad); the outputs."""
    cls = _function(student)
    outs = []
    for case in cases:
        args = _inputs(student, case["x"], case["w"], case["b"], case["bias"], dtype, requires_grad=False)
        outs.append(observe(cls.apply(*args)))
    return outs


def _returned(value: Any) -> dict[str, Any]:
    """What backward returned: a sequence of observations, or the single thing it was."""
    if isinstance(value, tuple | list):
        return {"sequence": True, "items": [observe(v) for v in value]}
    return {"sequence": False, "what": observe(value)}


def _gradcheck(cls: Any, args: tuple[torch.Tensor | None, ...]) -> dict[str, Any]:
    """torch.autograd.gradcheck in float64 with gradcheck's own tolerances; the first line of its complaint."""
    try:
        # gradcheck takes a None among its inputs (apply(input, weight, None)), though its annotation says otherwise
        ok = torch.autograd.gradcheck(cls.apply, args, eps=1e-6, atol=1e-5, rtol=1e-3,  # type: ignore[arg-type]
                                      raise_exception=True)
        return {"ok": bool(ok), "error": None, "input": None}
    except Exception as exc:
        text = str(exc).strip().splitlines()[0].rstrip(",") if str(exc).strip() else type(exc).__name__
        found = re.search(r"with respect to input (\d+)", text)
        index = int(found.group(1)) if found else None
        return {"ok": False, "error": f"{type(exc).__name__}: {text}"[:500],
                "input": INPUT_NAMES[index] if index is not None and index < 3 else None}


def backward(student: Student, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, bias: str,
             upstreams: list[torch.Tensor], dtype: str, gradcheck: bool) -> dict[str, Any]:
    """The forward output, backward's raw return values per upstream gradient, the engine's result, gradcheck."""
    cls = _function(student)
    args = _inputs(student, x, w, b, bias, dtype, requires_grad=True)
    out = cls.apply(*args)
    result: dict[str, Any] = {"output": observe(out), "own_node": False}
    if not isinstance(out, torch.Tensor):
        return result
    node = out.grad_fn
    result["own_node"] = getattr(node, "_forward_cls", None) is cls
    if not result["own_node"]:
        return result
    kind = getattr(torch, dtype)
    raw = []
    for g in upstreams:
        with torch.no_grad():  # the engine runs backward with grad mode off, too
            raw.append(_returned(cls.backward(node, g.to(student.device, kind))))
    result["raw"] = raw
    # The same through the autograd engine, which validates what backward returned.
    fresh = _inputs(student, x, w, b, bias, dtype, requires_grad=True)
    leaves = [t for t in fresh if t is not None]
    try:
        grads = torch.autograd.grad(cls.apply(*fresh), leaves, upstreams[0].to(student.device, kind),
                                    allow_unused=True)
        result["engine"] = {"grads": [observe(t) for t in grads], "raised": None}
    except Exception as exc:
        result["engine"] = {"grads": None, "raised": f"{type(exc).__name__}: {exc}"[:1000]}
    if gradcheck:
        result["gradcheck"] = _gradcheck(cls, _inputs(student, x, w, b, bias, dtype, requires_grad=True))
    return result


def mlp(student: Student, x: torch.Tensor, layers: list[dict[str, Any]], upstream: torch.Tensor,
        dtype: str, frozen: list[int] | None = None) -> dict[str, Any]:
    """A two-layer nn.Module built on LinearFunction.apply; backpropagate ``sum(output * upstream)``.

    ``x`` does not require grad; the hidden activation does, so each layer's needs_input_grad differs. The
    weights of the layers listed in ``frozen`` do not require grad either (a frozen layer, as in fine-tuning).
    """
    cls = _function(student)
    kind = getattr(torch, dtype)

    class TwoLayers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = nn.ParameterList(nn.Parameter(layer["w"].to(student.device, kind)) for layer in layers)
            self.biases = [None if layer["b"] is None else nn.Parameter(layer["b"].to(student.device, kind))
                           for layer in layers]
            for i, bias in enumerate(self.biases):
                if bias is not None:
                    self.register_parameter(f"bias{i}", bias)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            h = inputs
            for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = cls.apply(h, weight) if bias is None else cls.apply(h, weight, bias)
                if i < len(layers) - 1:
                    h = torch.tanh(h)
            return h

    model = TwoLayers()
    for index in frozen or []:
        model.weights[index].requires_grad_(False)
    inputs = x.to(student.device, kind)
    out = model(inputs)
    result: dict[str, Any] = {"output": observe(out)}
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return result
    (out * upstream.to(student.device, kind)).sum().backward()
    result["grads"] = [
        {"w": observe(weight.grad), "b": observe(None if bias is None else bias.grad)}
        for weight, bias in zip(model.weights, model.biases, strict=True)
    ]
    result["input_grad"] = observe(inputs.grad)
    return result
