"""Sandbox side of my_sgd: run the student's MySGD on the judge's problem and report plain data. Decides nothing.

A problem is a list of initial parameter values and, for every step, the gradient each parameter gets
(``None``: no gradient, as for a parameter the loss does not use). The probe sets ``p.grad`` and calls
``step()``, as a training loop does after ``backward()``, and reports every parameter after every step.
"""

from __future__ import annotations

import inspect
import io
from typing import Any

import torch
from torch import nn

from grader.sandbox.student import Student, observe

HYPER = ("lr", "momentum", "weight_decay")


def _cls(student: Student) -> Any:
    return student.cls("MySGD", methods=("__init__", "step"))


def _params(values: list[torch.Tensor], device: torch.device) -> list[nn.Parameter]:
    return [nn.Parameter(v.to(device=device, dtype=torch.float64).clone()) for v in values]


def _build(cls: Any, params: list[nn.Parameter], groups: list[dict[str, Any]] | None, kwargs: dict[str, Any]) -> Any:
    """``MySGD(params, **kwargs)``; with ``groups``, parameter groups given as dicts of indices and overrides."""
    if groups is None:
        return cls(params, **kwargs)
    spec = [{**{k: v for k, v in g.items() if k != "params"}, "params": [params[i] for i in g["params"]]}
            for g in groups]
    return cls(spec, **kwargs)


def _describe_group(group: Any, params: list[nn.Parameter]) -> dict[str, Any]:
    if not isinstance(group, dict):
        return {"type": type(group).__name__}
    members = group.get("params", [])
    return {
        "type": "dict",
        "keys": sorted(str(k) for k in group),
        "values": {k: observe(group[k]) for k in HYPER if k in group},
        "params": [next((i for i, p in enumerate(params) if p is q), -1) for q in members]
        if isinstance(members, list | tuple) else None,
    }


def _signature_defaults(cls: Any) -> dict[str, Any]:
    """The defaults ``__init__`` declares for the hyper-parameters it names (a name without one is left out)."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    return {name: observe(parameter.default) for name, parameter in signature.parameters.items()
            if name in HYPER and parameter.default is not inspect.Parameter.empty}


def _has_optimizer_state(optimizer: Any) -> bool:
    """Whether ``optimizer`` holds what Optimizer.__init__ builds: a list param_groups and a dict state."""
    return isinstance(getattr(optimizer, "param_groups", None), list) and isinstance(getattr(optimizer, "state", None),
                                                                                     dict)


def construct(student: Student, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Build ``MySGD([p0, p1], **kwargs)`` and describe its class, its ``param_groups`` and its signature."""
    cls = _cls(student)
    params = _params([torch.zeros(3), torch.zeros(2)], student.device)
    optimizer = cls(params, **kwargs)
    groups = getattr(optimizer, "param_groups", None)
    return {
        "is_optimizer": isinstance(optimizer, torch.optim.Optimizer),
        "initialised": _has_optimizer_state(optimizer),
        "bases": [b.__name__ for b in type(optimizer).__mro__[1:]],
        "param_groups": [_describe_group(g, params) for g in groups] if isinstance(groups, list) else None,
        "param_groups_type": type(groups).__name__,
        "signature": _signature_defaults(cls),
    }


def _save_and_load(optimizer: Any, cls: Any, params: list[nn.Parameter], groups: list[dict[str, Any]] | None,
                   kwargs: dict[str, Any], device: torch.device) -> tuple[Any, list[nn.Parameter]]:
    """What resuming from a checkpoint does: torch.save the state_dict, load it into a new MySGD on new params."""
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    fresh = [nn.Parameter(p.detach().clone()) for p in params]
    resumed = _build(cls, fresh, groups, kwargs)
    resumed.load_state_dict(torch.load(buffer, map_location=device))
    return resumed, fresh


def trajectory(student: Student, init: list[torch.Tensor], grads: list[list[torch.Tensor | None]],
               kwargs: dict[str, Any], groups: list[dict[str, Any]] | None = None,
               lrs: list[list[float] | None] | None = None, resume_at: int | None = None) -> dict[str, Any]:
    """Run ``len(grads)`` steps of MySGD and report each parameter after each step (float64).

    ``lrs[t]``, when given, sets each group's ``lr`` before step ``t`` (what a scheduler does);
    ``resume_at`` saves and reloads the optimizer (a checkpoint) before that step.
    What the run needs and the optimizer lacks (``param_groups`` to set the lr in, Optimizer's ``state_dict``)
    is reported as ``{"cannot": ..., "type": ...}``, for the judge to say in words.
    """
    cls = _cls(student)
    device = student.device
    params = _params(init, device)
    optimizer = _build(cls, params, groups, kwargs)
    needs_groups = groups is not None or lrs is not None
    if needs_groups and not isinstance(getattr(optimizer, "param_groups", None), list):
        return {"cannot": "param_groups", "type": type(getattr(optimizer, "param_groups", None)).__name__}
    if resume_at is not None and not _has_optimizer_state(optimizer):
        return {"cannot": "state_dict", "type": type(optimizer).__name__,
                "is_optimizer": isinstance(optimizer, torch.optim.Optimizer)}
    seen: list[list[torch.Tensor]] = [[] for _ in params]
    for t, step_grads in enumerate(grads):
        if resume_at == t:
            optimizer, params = _save_and_load(optimizer, cls, params, groups, kwargs, device)
        new_lrs = lrs[t] if lrs is not None else None
        if new_lrs is not None:
            for group, lr in zip(optimizer.param_groups, new_lrs, strict=True):
                group["lr"] = lr
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else g.to(device=device, dtype=torch.float64).clone()
        optimizer.step()
        for i, p in enumerate(params):
            seen[i].append(p.detach().clone())
    return {"params": [observe(torch.stack(s)) for s in seen]}


def closure(student: Student, init: torch.Tensor, target: torch.Tensor, lr: float) -> dict[str, Any]:
    """``step(closure)`` with a closure that computes ``sum((p - target)**2)`` and its gradient."""
    cls = _cls(student)
    device = student.device
    (p,) = _params([init], device)
    optimizer = cls([p], lr=lr)
    target = target.to(device=device, dtype=torch.float64)
    calls = []

    def loss_closure() -> torch.Tensor:
        calls.append(torch.is_grad_enabled())
        p.grad = None  # what optimizer.zero_grad() does, without needing the student's zero_grad
        loss = ((p - target) ** 2).sum()
        loss.backward()
        return loss

    returned = optimizer.step(loss_closure)
    return {"calls": len(calls), "returned": observe(returned), "after": observe(p)}
