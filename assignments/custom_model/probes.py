"""Sandbox side of custom_model: build the student's Model, run it on the judge's inputs, report plain data.

Decides nothing: every report here is compared in the judge against expectations computed there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from grader.sandbox.student import Student, observe, unregistered_tensors

#: The submodules the assignment asks for.
LAYERS = ("conv1", "conv2")
#: At most this many entries in a list of modules reported to the judge.
MAX_LISTED = 40


def _build(student: Student, forward: bool = True) -> nn.Module:
    """``Model()``, after checking that the class defines ``__init__`` (and ``forward``)."""
    cls = student.cls("Model", methods=("__init__", "forward") if forward else ("__init__",))
    return cls()


def _describe_module(module: Any) -> dict[str, Any]:
    """A module's class and, for a convolution, its configuration, as plain data."""
    info: dict[str, Any] = {"type": type(module).__name__, "is_conv2d": isinstance(module, nn.Conv2d)}
    if isinstance(module, nn.Conv2d):
        info.update(
            in_channels=int(module.in_channels),
            out_channels=int(module.out_channels),
            kernel_size=[int(k) for k in module.kernel_size],
            stride=[int(s) for s in module.stride],
            padding=module.padding if isinstance(module.padding, str) else [int(p) for p in module.padding],
            dilation=[int(d) for d in module.dilation],
            groups=int(module.groups),
            bias=module.bias is not None,
            padding_mode=str(module.padding_mode),
        )
    return info


def _containers(model: nn.Module) -> dict[int, str]:
    """Where each module kept in a plain Python list, tuple or dict attribute of ``model`` lives."""
    where: dict[int, str] = {}
    for attr, value in vars(model).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, nn.Module):
                    where.setdefault(id(item), f"self.{attr}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, nn.Module):
                    where.setdefault(id(item), f"self.{attr}[{key!r}]")
    return where


def _module_names(model: nn.Module) -> dict[int, str]:
    """The registered name of every submodule, preferring a direct attribute (``conv1``) to a nested path."""
    names: dict[int, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        if name and (id(module) not in names or names[id(module)].count(".") > name.count(".")):
            names[id(module)] = name
    return names


def _named_parameters(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Each registered parameter once, under its shortest name (``conv1.weight`` over ``features.0.weight``)."""
    best: dict[int, tuple[str, torch.Tensor]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) not in best or best[id(p)][0].count(".") > name.count("."):
            best[id(p)] = (name, p)
    return list(best.values())


def _unregistered(model: nn.Module) -> list[dict[str, str]]:
    """:func:`unregistered_tensors`, with dicts of modules told apart from dicts of tensors."""
    found = unregistered_tensors(model)
    for entry in found:
        value = vars(model).get(entry["name"])
        if isinstance(value, dict) and any(isinstance(v, nn.Module) for v in value.values()):
            entry["what"] = "a Python dict of modules; use nn.ModuleDict"
    return found


def structure(student: Student) -> dict[str, Any]:
    """Build Model() and describe its children, parameters and anything held but not registered."""
    model = _build(student, forward=False)
    if not isinstance(model, nn.Module):
        return {"is_module": False, "type": type(model).__name__}
    children = [{"name": name, **_describe_module(child)} for name, child in model.named_children()]
    nested = [
        {"name": name, **_describe_module(module)}
        for name, module in model.named_modules()
        if "." in name and isinstance(module, nn.Conv2d)
    ]
    return {
        "is_module": True,
        "children": children[:MAX_LISTED],
        "nested_convs": nested[:MAX_LISTED],
        "parameters": [
            {"name": name, "shape": list(p.shape), "numel": int(p.numel())} for name, p in _named_parameters(model)
        ],
        "unregistered": _unregistered(model),
    }


@contextlib.contextmanager
def _conv_calls(model: nn.Module) -> Iterator[dict[str, list[Any]]]:
    """Record every Conv2d call while the block runs (which layer, could autograd see it).

    Also record the children that the block assigned: a layer created in forward and stored as
    ``self.conv2 = nn.Conv2d(...)``.
    """
    names = _module_names(model)
    containers = _containers(model)
    children = {name: id(child) for name, child in model.named_children()}
    record: dict[str, list[Any]] = {"calls": [], "reassigned": []}

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, nn.Conv2d) and len(record["calls"]) < MAX_LISTED:
            record["calls"].append({
                "name": names.get(id(module)),
                "held_in": containers.get(id(module)),
                **_describe_module(module),
                "grad_enabled": bool(torch.is_grad_enabled()),
                "output_requires_grad": bool(getattr(output, "requires_grad", False)),
            })

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        yield record
    finally:
        handle.remove()
        record["reassigned"] = [name for name, child in model.named_children() if children.get(name) != id(child)]


def _load(model: nn.Module, params: dict[str, torch.Tensor]) -> str | None:
    """Copy the judge's values into conv1/conv2; say why not when the layers do not fit them."""
    targets = {}
    for name, value in params.items():
        layer_name, attr = name.split(".")
        layer = getattr(model, layer_name, None)
        tensor = getattr(layer, attr, None)
        if not isinstance(tensor, torch.Tensor):
            return f"self.{layer_name}.{attr} is not a tensor"
        if list(tensor.shape) != list(value.shape):
            return f"self.{name} has shape {tuple(tensor.shape)}, not {tuple(value.shape)}"
        targets[name] = tensor
    with torch.no_grad():
        for name, tensor in targets.items():
            tensor.copy_(params[name].to(tensor.device, tensor.dtype))
    return None


def calls(student: Student, x: torch.Tensor) -> dict[str, Any]:
    """Run forward(x) once (float32, on the device) and report which convolutions it called.

    Used to explain a failure: a convolution that is not registered was kept in a Python list or
    created inside forward. An exception in forward is reported, not raised: other checks report it.
    """
    model = _build(student).to(student.device)
    error = None
    with _conv_calls(model) as record:
        try:
            model(x.to(student.device, torch.float32))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    return {**record, "error": error}


def output_shapes(student: Student, inputs: list[torch.Tensor]) -> list[dict[str, Any]]:
    """forward(x) for each of the judge's float32 inputs, on the device under test."""
    model = _build(student).to(student.device)
    return [observe(model(x.to(student.device, torch.float32))) for x in inputs]


def forward(student: Student, params: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, Any]:
    """Load the judge's weights into conv1/conv2, then run forward(x) twice on the same float32 x."""
    model = _build(student).to(student.device)
    problem = _load(model, params)
    if problem:
        return {"loaded": False, "problem": problem}
    x = x.to(student.device, torch.float32)
    with _conv_calls(model) as record:
        first = observe(model(x))
        second = observe(model(x))
    return {"loaded": True, "outputs": [first, second], **record}


def gradients(student: Student, params: dict[str, torch.Tensor], x: torch.Tensor,
              upstream: torch.Tensor) -> dict[str, Any]:
    """Load the judge's weights, backpropagate ``sum(forward(x) * upstream)``, report every ``.grad``."""
    model = _build(student).to(student.device)
    problem = _load(model, params)
    if problem:
        return {"loaded": False, "problem": problem}
    for p in model.parameters():
        p.grad = None
    with _conv_calls(model) as record:
        out = model(x.to(student.device, torch.float32))
    requires_grad = bool(getattr(out, "requires_grad", False))
    if requires_grad:
        (out * upstream.to(out.device, out.dtype)).sum().backward()
    return {
        "loaded": True,
        "output_requires_grad": requires_grad,
        **record,
        "parameters": [
            {"name": name, "requires_grad": bool(p.requires_grad), "grad": observe(p.grad)}
            for name, p in _named_parameters(model)
        ],
    }


def follows_to(student: Student, x: torch.Tensor) -> dict[str, Any]:
    """``model.to(device, torch.float64)``, then describe the parameters and forward of a float64 x."""
    model = _build(student)
    moved = model.to(device=student.device, dtype=torch.float64)
    result: dict[str, Any] = {
        "returns_self": moved is model,
        "parameters": [
            {"name": name, "type": "Parameter" if isinstance(p, nn.Parameter) else "Tensor",
             "dtype": str(p.dtype).replace("torch.", ""), "device": str(p.device), "is_leaf": bool(p.is_leaf)}
            for name, p in _named_parameters(model)
        ],
    }
    result["output"] = observe(model(x.to(student.device, torch.float64)))
    return result
