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
    for place, item in _container_items(model):
        where.setdefault(id(item), f"self.{place}")
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


#: role -> the weight shape the assignment's layer has (nn.Conv2d(1, 20, 5), nn.Conv2d(20, 20, 5)).
WEIGHT_SHAPES = {"conv1": (20, 1, 5, 5), "conv2": (20, 20, 5, 5)}


def _shown(path: str) -> str:
    """A registered module name as the student writes it: ``features.0`` -> ``features[0]``."""
    return "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in path.split(".")).lstrip(".")


def _lookup(model: nn.Module, name: str) -> Any:
    try:
        return getattr(model, name)
    except Exception:
        return None


def _all_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d, bool]]:
    """Every distinct Conv2d the model holds, as (where, the layer, registered).

    ``where`` is written as the student writes it, without ``self.`` (``c1``, ``features[0]``,
    ``convs[1]``). The registered ones come first in registration order, then those in plain containers.
    """
    names = _module_names(model)
    found: list[tuple[str, nn.Conv2d, bool]] = []
    seen: set[int] = set()
    for _, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and id(module) in names and id(module) not in seen:
            seen.add(id(module))
            found.append((_shown(names[id(module)]), module, True))
    for where, module in _container_items(model):
        if isinstance(module, nn.Conv2d) and id(module) not in seen:
            seen.add(id(module))
            found.append((where, module, False))
    return found


def _container_items(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(where, without ``self.``; module) for each module kept in a plain list, tuple or dict attribute."""
    for attr, value in vars(model).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, list | tuple):
            yield from ((f"{attr}[{i}]", item) for i, item in enumerate(value) if isinstance(item, nn.Module))
        elif isinstance(value, dict):
            yield from ((f"{attr}[{key!r}]", item) for key, item in value.items() if isinstance(item, nn.Module))


def _roles(model: nn.Module) -> dict[str, tuple[str, nn.Conv2d, bool]]:
    """Which of the student's convolutions plays ``conv1`` and ``conv2``: role -> (where, layer, registered).

    The assignment asks for attributes ``conv1`` and ``conv2``. A model that is consistent under other names
    (``c1``, ``c2``), in a container (nn.Sequential, nn.ModuleList) or even in a plain Python list or dict is
    judged on its own layers: a role is the attribute of that name when it is a Conv2d, else the one remaining
    convolution with the role's weight shape, else (when exactly as many convolutions remain as roles) the
    next one in the order the model holds them. Only submodules_registered charges the names or the container.
    """
    convs = _all_convs(model)
    roles: dict[str, tuple[str, nn.Conv2d, bool]] = {}
    for role in LAYERS:
        layer = _lookup(model, role)
        if isinstance(layer, nn.Conv2d):
            roles[role] = (role, layer, any(m is layer and registered for _, m, registered in convs))
    taken = {id(entry[1]) for entry in roles.values()}
    rest = [entry for entry in convs if id(entry[1]) not in taken]
    for role in [r for r in LAYERS if r not in roles]:
        shaped = [e for e in rest if tuple(getattr(getattr(e[1], "weight", None), "shape", ())) == WEIGHT_SHAPES[role]]
        if len(shaped) == 1:
            roles[role] = shaped[0]
            rest.remove(shaped[0])
    missing = [r for r in LAYERS if r not in roles]
    if missing and len(rest) == len(missing):
        roles.update(zip(missing, rest, strict=True))
    return {role: roles[role] for role in LAYERS if role in roles}


def _layout(model: nn.Module) -> dict[str, dict[str, Any]]:
    """:func:`_roles` as plain data: role -> where the student's layer is and whether it is registered."""
    return {role: {"where": where, "registered": registered} for role, (where, _, registered) in _roles(model).items()}


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
        "layout": _layout(model),
    }


@contextlib.contextmanager
def _conv_calls(model: nn.Module) -> Iterator[dict[str, list[Any]]]:
    """Record every Conv2d call while the block runs (which layer, could autograd see it).

    Also record the children that the block assigned: a layer created in forward and stored as
    ``self.conv2 = nn.Conv2d(...)``.
    """
    names = _module_names(model)
    containers = _containers(model)
    roles = {id(layer): role for role, (_, layer, _) in _roles(model).items()}
    children = {name: id(child) for name, child in model.named_children()}
    record: dict[str, list[Any]] = {"calls": [], "reassigned": []}

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, nn.Conv2d) and len(record["calls"]) < MAX_LISTED:
            record["calls"].append({
                "name": names.get(id(module)),
                "role": roles.get(id(module)),
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
    """Copy the judge's values into the layers playing conv1/conv2 (:func:`_roles`).

    Returns why not, in words, when a layer is missing or does not fit the values; else None.
    """
    roles = _roles(model)
    targets = {}
    for name, value in params.items():
        role, attr = name.split(".")
        if role not in roles:
            cin, cout, k = WEIGHT_SHAPES[role][1], WEIGHT_SHAPES[role][0], WEIGHT_SHAPES[role][2]
            return (f"no nn.Conv2d for {role} (the assignment's self.{role} = nn.Conv2d({cin}, {cout}, {k})) "
                    "among the layers the model holds after __init__")
        where, layer, _ = roles[role]
        tensor = getattr(layer, attr, None)
        if not isinstance(tensor, torch.Tensor):
            return f"self.{where}.{attr} is {'None' if tensor is None else type(tensor).__name__}, not a tensor"
        if list(tensor.shape) != list(value.shape):
            return f"self.{where}.{attr} has shape {tuple(tensor.shape)}, not {tuple(value.shape)}"
        targets[name] = tensor
    with torch.no_grad():
        for name, tensor in targets.items():
            tensor.copy_(params[name].to(tensor.device, tensor.dtype))
    return None


def _role_parameters(model: nn.Module) -> list[tuple[str, str, torch.Tensor]]:
    """The parameters gradients reports, as (the assignment's name, where the student's model holds it, tensor).

    First conv1's and conv2's weight and bias, found by role (:func:`_roles`), then every other registered
    parameter under its own name.
    """
    out: list[tuple[str, str, torch.Tensor]] = []
    seen: set[int] = set()
    for role, (where, layer, _) in _roles(model).items():
        for attr in ("weight", "bias"):
            tensor = getattr(layer, attr, None)
            if isinstance(tensor, torch.Tensor) and id(tensor) not in seen:
                seen.add(id(tensor))
                out.append((f"{role}.{attr}", f"{where}.{attr}", tensor))
    for name, p in _named_parameters(model):
        if id(p) not in seen:
            seen.add(id(p))
            out.append((name, _shown(name), p))
    return out


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
    """Load the judge's weights into conv1/conv2, then run forward(x) twice on the same float32 x.

    The layers are found by role (:func:`_roles`), under the student's names or in a container.
    """
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
    """Load the judge's weights, backpropagate ``sum(forward(x) * upstream)``, report every ``.grad``.

    conv1/conv2's weight and bias are found by role (:func:`_roles`), registered or not, and reported under
    the assignment's names with the student's (``where``); other registered parameters under their own.
    """
    model = _build(student).to(student.device)
    problem = _load(model, params)
    if problem:
        return {"loaded": False, "problem": problem}
    parameters = _role_parameters(model)
    for _, _, p in parameters:
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
            {"name": name, "where": where, "requires_grad": bool(p.requires_grad), "grad": observe(p.grad)}
            for name, where, p in parameters
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
