"""Judge side of custom_model: the expected structure, and forward and gradients computed here in float64.

Tolerances. The student's convolutions run in float32; the judge computes the same model in float64 on
the same float32-representable weights and inputs, so the only difference is float32 rounding inside
the convolutions: conv2 sums 500 products per output value, the gradient of conv2.weight sums
N x 20 x 20 = 800 of them. On CPU the greatest absolute error on the outputs was 2.0e-6 for values up to
4, which the float32 row of :data:`grader.compare.TOLERANCES` (rtol 2e-5, atol 2e-6) does not always
allow for values near zero. These checks therefore use their own tolerances, scaled to the size of what
is compared: ``rtol = 1e-4`` and ``atol = 1e-5 x max(1, max |expected|)``. Over 30 seeds the greatest
error, on the output and on each of the four gradients, was under 5% of that tolerance (1 and 2 threads).
cuDNN with TF32 off and deterministic algorithms (as the sandbox sets it) rounds differently but in the
same float32 order of magnitude; PyTorch's own CPU-vs-CUDA tests allow 1e-3. The recognised mistakes (a
missing ReLU, a sigmoid, ...) change values by 0.1-1, 3-4 orders of magnitude above the tolerance.
``follows_to`` (float64) checks dtype and device, not values.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from grader.check import CheckFailed, Context, check
from grader.compare import expect_close, require_tensor
from grader.session import SandboxLost, StudentRaised

TITLE = "A custom model: two convolutions with ReLUs, registered as submodules"
ALIASES = {"Model": ["MyModel", "CustomModel", "Net"]}
#: Mutants of the reference that no check can tell apart from it, with why (``grader validate --mutants``).
EQUIVALENT_MUTANTS = {
    "custom_model:__init__:swap_with_next@L13": "creating conv2 before conv1 changes only the random start and the "
                                                 "order of the submodules; the judge loads its own weights by role",
}

#: name -> (in_channels, out_channels, kernel_size) of the submodules the assignment asks for.
LAYERS = {"conv1": (1, 20, 5), "conv2": (20, 20, 5)}
PARAM_SHAPES = {
    "conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,), "conv2.weight": (20, 20, 5, 5), "conv2.bias": (20,),
}
TOTAL = 10_540
#: Tolerances for float32 convolutions against float64 (see the module docstring).
RTOL, ATOL_SCALE = 1e-4, 1e-5

INIT_HINT = (
    "In __init__, after super().__init__(), create the layers as attributes: "
    "self.conv1 = nn.Conv2d(1, 20, 5) and self.conv2 = nn.Conv2d(20, 20, 5)."
)
CREATE_ONCE = ("Create the layers once, in __init__ (self.conv1 = nn.Conv2d(1, 20, 5) and "
               "self.conv2 = nn.Conv2d(20, 20, 5)), and only call them in forward.")
REGISTER_HINT = (
    INIT_HINT + " nn.Module registers a layer when it is assigned to an attribute (or kept in nn.ModuleList / "
    "nn.ModuleDict); a layer in a plain Python list or dict is invisible to parameters(), .to() and optimizers."
)
FORWARD_HINT = (
    "forward(x) must return relu(conv2(relu(conv1(x)))), with a ReLU after each convolution, using the "
    "layers self.conv1 and self.conv2 created in __init__."
)
GRADIENT_VALUES_HINT = (
    "Every parameter gets a gradient, but not the one autograd computes for relu(conv2(relu(conv1(x)))) with "
    "the grader's weights: when forward_values fails too, fix forward first; otherwise look for randomness "
    "(dropout) or values that forward changes as it runs."
)
GRAPH_HINT = (
    "Compute forward with the layers themselves and differentiable operations: no torch.no_grad(), .detach(), "
    ".data or .numpy() in forward, and no requires_grad_(False) on the parameters."
)


# ---------------------------------------------------------------------------------------------- helpers


def _conv_repr(info: dict[str, Any]) -> str:
    """A convolution as torch prints it: ``Conv2d(20, 10, kernel_size=(5, 5))`` plus non-default options."""
    text = f"Conv2d({info['in_channels']}, {info['out_channels']}, kernel_size={tuple(info['kernel_size'])}"
    if info["stride"] != [1, 1]:
        text += f", stride={tuple(info['stride'])}"
    padding = info["padding"]
    if padding not in ([0, 0], "valid"):
        text += f", padding={padding!r}" if isinstance(padding, str) else f", padding={tuple(padding)}"
    if info["dilation"] != [1, 1]:
        text += f", dilation={tuple(info['dilation'])}"
    if info["groups"] != 1:
        text += f", groups={info['groups']}"
    if not info["bias"]:
        text += ", bias=False"
    if info["padding_mode"] != "zeros":
        text += f", padding_mode={info['padding_mode']!r}"
    return text + ")"


def _config_differences(name: str, info: dict[str, Any]) -> list[str]:
    """What differs between a student's Conv2d and ``nn.Conv2d(in, out, 5)``, in words."""
    cin, cout, k = LAYERS[name]
    wanted = {"in_channels": cin, "out_channels": cout, "kernel_size": [k, k], "stride": [1, 1],
              "dilation": [1, 1], "groups": 1, "bias": True, "padding_mode": "zeros"}
    out = [f"{key} is {_plain(info[key])}, not {_plain(value)}" for key, value in wanted.items()
           if info[key] != value and key != "bias"]
    if not info["bias"]:
        out.append("it has no bias (bias=False), but nn.Conv2d keeps one by default")
    if info["padding"] not in ([0, 0], "valid"):
        out.append(f"padding is {_plain(info['padding'])}, not 0")
    return out


def _plain(value: Any) -> str:
    return str(tuple(value)) if isinstance(value, list) else str(value)


def _f32(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded to float32 and back: the exact values the student's float32 code receives."""
    return t.float().double()


def _weights(ctx: Context) -> dict[str, torch.Tensor]:
    """The judge's conv1/conv2 weights (float32-representable), scaled like a default initialisation."""
    return {
        "conv1.weight": _f32(ctx.randn(20, 1, 5, 5) / 5),
        "conv1.bias": _f32(ctx.randn(20) / 5),
        "conv2.weight": _f32(ctx.randn(20, 20, 5, 5) / 500**0.5),
        "conv2.bias": _f32(ctx.randn(20) / 5),
    }


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "none": lambda t: t,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": F.leaky_relu,
}


def _model(p: dict[str, torch.Tensor], x: torch.Tensor, act1: str = "relu", act2: str = "relu") -> torch.Tensor:
    """``act2(conv2(act1(conv1(x))))`` in float64: the reference forward, or a known mistake."""
    h = ACTIVATIONS[act1](F.conv2d(x, p["conv1.weight"], p["conv1.bias"]))
    return ACTIVATIONS[act2](F.conv2d(h, p["conv2.weight"], p["conv2.bias"]))


def _variant_words(act1: str, act2: str) -> str:
    """What a forward with activations ``act1``, ``act2`` got wrong, in words."""
    if act1 == act2 == "none":
        return "there is no ReLU at all"
    if act1 == act2:
        return f"a {act1.replace('_', ' ')} replaces the ReLU after both convolutions"
    words = {"none": "the ReLU after {} is missing", "sigmoid": "a sigmoid replaces the ReLU after {}",
             "tanh": "a tanh replaces the ReLU after {}", "leaky_relu": "a leaky ReLU replaces the ReLU after {}"}
    parts = [words[act].format(layer) for act, layer in ((act1, "conv1"), (act2, "conv2")) if act != "relu"]
    return " and ".join(parts)


def _variants() -> Iterator[tuple[str, str]]:
    for act1 in ACTIVATIONS:
        for act2 in ACTIVATIONS:
            if (act1, act2) != ("relu", "relu"):
                yield act1, act2


def _variant_cause(act1: str, act2: str) -> str:
    """The identifier of a forward with activations ``act1``, ``act2``: ReLUs left out, or another activation."""
    return "missing_relu" if {act1, act2} <= {"relu", "none"} else "wrong_activation"


def _variant_hint(act1: str, act2: str) -> str:
    words = _variant_words(act1, act2)
    return (f"{words[0].upper()}{words[1:]}: forward must apply a ReLU after each convolution, "
            "relu(conv2(relu(conv1(x)))) (F.relu, torch.relu or an nn.ReLU module).")


def _close(found: torch.Tensor, expected: torch.Tensor) -> bool:
    atol = ATOL_SCALE * max(1.0, float(expected.abs().max())) if expected.numel() else ATOL_SCALE
    return (found.shape == expected.shape and bool(torch.isfinite(found).all())
            and bool(torch.allclose(found, expected, rtol=RTOL, atol=atol)))


def _judge(obs: Any, expected: torch.Tensor, what: str, device: str | None,
           mistakes: Callable[[], Iterator[tuple[torch.Tensor, str, str]]] = lambda: iter(()),
           hint: str | None = None, fallback: str | None = None) -> None:
    """Compare a float32 result with the float64 expectation at this module's tolerances.

    ``mistakes`` yields (what a known mistake gives, its hint, its cause). The failure message is
    :func:`grader.compare.expect_close`'s. Its hint is, first found: the known mistake the values match
    (within the same tolerances), ``hint``, the pattern :func:`grader.diagnose.diagnose` recognises,
    ``fallback``; its cause is the known mistake's, else the diagnosed pattern's.
    """
    found = require_tensor(obs, what)
    right_kind = obs["dtype"] == "float32" and (device is None or obs["device"].split(":")[0] == device)
    if right_kind and _close(found.double(), expected):
        return
    cause = None
    if right_kind:
        for wrong, mistake_hint, mistake_cause in mistakes():
            if _close(found.double(), wrong):
                hint, cause = mistake_hint, mistake_cause
                break
    try:
        expect_close(obs, expected, what, dtype="float32", device=device, hint=hint)
    except CheckFailed as failed:
        if failed.summary is None:  # wrong dtype, device or type: expect_close's own hint says what to do
            raise
        raise CheckFailed(failed.expected, failed.found, hint or failed.hint or fallback,
                          summary=failed.summary, cause=cause or failed.cause) from None
    greatest = float((found.double() - expected).abs().max()) if found.shape == expected.shape else float("nan")
    raise CheckFailed(f"{what} within rtol {RTOL:g}, atol {ATOL_SCALE:g} x max|expected| of the expected values",
                      f"values that differ by up to {greatest:.3g}", hint, cause=cause)


def _structure(ctx: Context) -> dict[str, Any]:
    return dict(ctx.probe("structure"))


def _call_problem(obs: dict[str, Any]) -> str | None:
    """A hint when forward used convolutions that are not registered submodules, else None.

    ``obs`` holds the probe's ``calls`` (every Conv2d forward called) and ``reassigned`` (the children
    that forward itself assigned). A layer kept in a plain container that plays conv1 or conv2 (its ``role``)
    got the grader's weights like a registered one, so it explains no wrong value: only the checks about
    registration mention it (they look at the containers themselves).
    """
    if obs["reassigned"]:
        names = " and ".join(f"self.{n}" for n in obs["reassigned"])
        return (f"forward assigns {names} each time it runs: a layer created in forward gets new random weights "
                "at every call and is never trained (and one that exists only after forward ran is not there for "
                "parameters() or an optimizer). " + CREATE_ONCE)
    for call in obs["calls"]:
        if call["name"] is None and call["role"] is None:
            layer = _conv_repr(call)
            if call["held_in"]:
                return (f"forward uses the {layer} kept in {call['held_in']}, a plain Python container, so the "
                        "module does not register it. " + REGISTER_HINT)
            return (f"forward creates a new {layer} each time it runs (a layer created inside forward): it gets "
                    "new random weights at every call, is not in parameters() and is never trained. " + CREATE_ONCE)
    return None


def _calls(ctx: Context) -> dict[str, Any]:
    """Which convolutions forward calls (float32, on the device), for explaining a failure.

    Only a hint depends on it, so when the student's code cannot even be asked (no forward, a forward that
    never ends), the answer is "nothing seen" and the failure being explained stays what it is.
    """
    try:
        return dict(ctx.probe("calls", x=_f32(ctx.randn(1, 1, 28, 28))))
    except (StudentRaised, SandboxLost):
        return {"calls": [], "reassigned": []}


def _require_loaded(ctx: Context, obs: dict[str, Any]) -> None:
    """Fail when the grader could not load its weights into the layers playing conv1 and conv2.

    The layers are found by role, under the student's names or in a container (the probe's ``_roles``), so
    this fails only when a layer is missing (created in forward, say) or does not have the asked shapes.
    """
    if obs["loaded"]:
        return
    missing = obs["problem"].startswith("no nn.Conv2d")
    raise CheckFailed("a layer for each of the assignment's conv1 = nn.Conv2d(1, 20, 5) and conv2 = "
                      "nn.Conv2d(20, 20, 5), with the weight and bias shapes those have, so the grader can load "
                      "its own values into them", obs["problem"],
                      (_call_problem(_calls(ctx)) if missing else None) or INIT_HINT,
                      cause="submodule_missing" if missing else "wrong_conv_config")


def _as_written(name: str, where: str, suffix: str = ".grad") -> str:
    """``conv1.weight.grad``, and where the student's model holds it when that differs.

    For example ``conv1.weight.grad (your c1.weight.grad)``.
    """
    return f"{name}{suffix}" if where == name else f"{name}{suffix} (your {where}{suffix})"


# ---------------------------------------------------------------------------------------------- checks


@check(points=1, hint="Write `class Model(nn.Module):` and call super().__init__() first in __init__.")
def builds(ctx: Context) -> None:
    """Model() builds an nn.Module."""
    info = _structure(ctx)
    if not info["is_module"]:
        raise CheckFailed("Model() to be an nn.Module", f"a {info['type']}",
                          "Write `class Model(nn.Module):` and call super().__init__() in __init__.",
                          cause="not_a_module")


@check(points=2, depends=[builds], hint=REGISTER_HINT)
def submodules_registered(ctx: Context) -> None:
    """conv1 = nn.Conv2d(1, 20, 5) and conv2 = nn.Conv2d(20, 20, 5) are registered submodules (named_children())."""
    info = _structure(ctx)
    children = {c["name"]: c for c in info["children"]}
    expected = ("named_children() to hold conv1 = Conv2d(1, 20, kernel_size=(5, 5)) and "
                "conv2 = Conv2d(20, 20, kernel_size=(5, 5))")
    missing = [name for name in LAYERS if name not in children]
    if missing:
        listed = ", ".join(
            f"{c['name']} ({_conv_repr(c) if c['is_conv2d'] else c['type']})" for c in info["children"]
        ) or "nothing"
        found = f"no submodule named {' or '.join(missing)}; named_children(): {listed}"
        containers = [u for u in info["unregistered"] if "modules" in u["what"]]
        if containers:
            found += "; not registered: " + "; ".join(f"self.{u['name']} is {u['what']}" for u in containers)
        raise CheckFailed(expected, found, _missing_hint(ctx, info, missing, containers),
                          cause="not_registered" if containers else "submodule_missing")
    for name in LAYERS:
        child = children[name]
        if not child["is_conv2d"]:
            raise CheckFailed(expected, f"{name} is a {child['type']}, not an nn.Conv2d",
                              f"Make {name} a convolution: self.{name} = nn.Conv2d{LAYERS[name]}.", cause="not_conv2d")
        differences = _config_differences(name, child)
        if differences:
            cin, cout, k = LAYERS[name]
            raise CheckFailed(
                expected, f"{name} is {_conv_repr(child)}",
                f"{name}: {'; '.join(differences)}. Create it exactly as nn.Conv2d({cin}, {cout}, {k}): "
                f"{cin} input channel{'s' if cin > 1 else ''}, {cout} output channels, a {k}x{k} kernel, and the "
                "default stride, padding and bias.",
                cause="wrong_conv_config",
            )


def _missing_hint(ctx: Context, info: dict[str, Any], missing: list[str],
                  containers: list[dict[str, str]]) -> str:
    """Why conv1/conv2 are not children: kept in a list, created in forward, nested, or misnamed."""
    if containers:
        held = ", ".join(f"self.{u['name']}" for u in containers)
        return f"The layers in {held} are not registered. " + REGISTER_HINT
    problem = _call_problem(_calls(ctx))
    if problem:
        return problem
    names = [c["name"] for c in info["children"]]
    layout = info["layout"]
    # The layers the other checks judged in place of the missing ones: registered, under other names.
    judged = {role: layout[role]["where"] for role in missing if role in layout and layout[role]["registered"]}
    only_here = ("(The other checks judged your model on these layers, so this is the only check that costs you "
                 "points for it.)") if len(judged) == len(missing) else ""
    if judged and len(judged) == len(missing) and all(where in names for where in judged.values()):
        asked = " and ".join(f"`{role}`" for role in judged)
        defined = " and ".join(f"`{where}`" for where in judged.values())
        return (f"The assignment asks for {asked}; your model defines {defined}. Rename "
                f"{'them' if len(judged) > 1 else 'it'}: the course's code and tests use the assignment's names. "
                + only_here)
    nested = info["nested_convs"]
    if nested:
        where = ", ".join(f"{c['name']} ({_conv_repr(c)})" for c in nested)
        return (f"The convolutions sit inside another module ({where}); the assignment asks for direct "
                "attributes conv1 and conv2 (you may keep your container and also write "
                "self.conv1 = ..., self.conv2 = ... pointing at the same layers). " + INIT_HINT
                + (" " + only_here if only_here else ""))
    for name in missing:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            return f"Did you mean `{close[0]}`? Name the attribute exactly `{name}`: the grader looks for that name."
    return INIT_HINT


@check(points=1, depends=[builds], hint=INIT_HINT)
def parameter_count(ctx: Context) -> None:
    """The model has 10,540 parameters (sum of p.numel() over model.parameters())."""
    info = _structure(ctx)
    params = info["parameters"]
    total = sum(int(p["numel"]) for p in params)
    if total == TOTAL:
        return
    expected = f"{TOTAL:,} parameters: " + ", ".join(
        f"{name} {shape} = {_numel(shape):,}" for name, shape in PARAM_SHAPES.items())
    found = f"{total:,} parameters" + (": " + ", ".join(
        f"{p['name']} {tuple(p['shape'])} = {int(p['numel']):,}" for p in params) if params else "")
    containers = [u for u in info["unregistered"] if "modules" in u["what"]]
    raise CheckFailed(expected, found, _count_hint(info, total),
                      cause="not_registered" if containers else "wrong_parameter_count")


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _count_hint(info: dict[str, Any], total: int) -> str:
    params = {p["name"]: tuple(p["shape"]) for p in info["parameters"]}
    containers = [u for u in info["unregistered"] if "modules" in u["what"]]
    if total == 0:
        if containers:
            names = "; ".join(f"self.{u['name']} is {u['what']}" for u in containers)
            return f"Nothing is registered: {names}. " + REGISTER_HINT
        return "Nothing is registered: the model has no layers when __init__ ends. " + INIT_HINT
    notes = []
    missing = [n for n in PARAM_SHAPES if n not in params]
    if missing and all(n.endswith(".bias") for n in missing) and all(n in params for n in PARAM_SHAPES
                                                                     if n.endswith(".weight")):
        notes.append(f"no bias: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing. nn.Conv2d has a "
                     "bias by default (20 values here); do not pass bias=False")
    elif missing:
        notes.append(f"Missing: {', '.join(missing)} (registered: {', '.join(params) or 'nothing'})")
    for name, shape in PARAM_SHAPES.items():
        if name in params and params[name] != shape:
            notes.append(f"shape of {name}: {params[name]} instead of {shape}")
    extra = [n for n in params if n not in PARAM_SHAPES]
    if extra:
        notes.append(f"extra parameters: {', '.join(extra)}: the model should hold only conv1 and conv2")
    if containers:
        notes.append("not registered: " + "; ".join(f"self.{u['name']} is {u['what']}" for u in containers))
    text = "; ".join(notes)
    return (text[:1].upper() + text[1:] + ". " if text else "") + (
        "conv1 = nn.Conv2d(1, 20, 5) has 20 x 1 x 5 x 5 + 20 = 520 parameters and conv2 = nn.Conv2d(20, 20, 5) "
        "has 20 x 20 x 5 x 5 + 20 = 10,020.")


@check(points=1, per_device=True, depends=[builds],
       hint="Two 5x5 convolutions without padding take a 28x28 image to 24x24, then 20x20, with 20 channels.")
def output_shape(ctx: Context) -> None:
    """forward maps an input of shape (N, 1, 28, 28) to an output of shape (N, 20, 20, 20), for N = 1 and 3."""
    inputs = [_f32(ctx.randn(n, 1, 28, 28)) for n in (1, 3)]
    outs = ctx.probe("output_shapes", inputs=inputs)
    for x, out in zip(inputs, outs, strict=True):
        n = x.shape[0]
        t = require_tensor(out, f"forward(x) for x of shape {tuple(x.shape)}")
        wanted = (n, 20, 20, 20)
        if tuple(t.shape) != wanted:
            raise CheckFailed(f"an output of shape {wanted} for an input of shape {tuple(x.shape)}",
                              f"shape {tuple(t.shape)}", _shape_hint(tuple(t.shape), n), cause="wrong_output_shape")


def _shape_hint(shape: tuple[int, ...], n: int) -> str:
    if len(shape) != 4:
        return ("The output should stay a 4-D feature map (N, channels, height, width): do not flatten, view or "
                "squeeze it, and do not add pooling or linear layers.")
    if shape[0] != n:
        return f"The batch dimension changed from {n} to {shape[0]}: keep it, do not reshape across samples."
    notes = []
    if shape[1] != 20:
        notes.append(f"The output has {shape[1]} channels: conv2 must produce 20 (nn.Conv2d(20, 20, 5)).")
    if shape[2:] != (20, 20):
        side = shape[2]
        more = "less" if side > 20 else "more"
        notes.append(
            f"The image is {shape[2]}x{shape[3]}, not 20x20: it shrinks {more} than two 5x5 convolutions without "
            "padding make it (28 -> 24 -> 20). Check kernel_size (5), padding (0) and stride (1), and add no pooling.")
    return " ".join(notes)


@check(points=2, per_device=True, depends=[builds], hint=FORWARD_HINT)
def forward_values(ctx: Context) -> None:
    """forward(x) = relu(conv2(relu(conv1(x)))), with the grader's weights loaded into conv1 and conv2.

    The layers are found by role (the probe's ``_roles``): a model that names them otherwise or keeps them in
    a container, registered or not, is judged on its own layers; submodules_registered charges the form.
    """
    params = _weights(ctx)
    x = _f32(ctx.randn(2, 1, 28, 28))
    obs = ctx.probe("forward", params=params, x=x)
    _require_loaded(ctx, obs)
    first, second = obs["outputs"]
    call_problem = _call_problem(obs)
    a, b = require_tensor(first, "forward(x)").double(), require_tensor(second, "forward(x)").double()
    if a.shape == b.shape and bool(torch.isfinite(a).all()) and not _close(b, a):
        raise CheckFailed("the same output each time forward runs on the same input",
                          f"two calls on the same x whose outputs differ by up to {float((a - b).abs().max()):.3g}",
                          call_problem or "forward must be deterministic: no randomness (dropout, torch.rand) and no "
                          "layers created inside forward. " + INIT_HINT, cause="nondeterministic")
    expected = _model(params, x)

    def mistakes() -> Iterator[tuple[torch.Tensor, str, str]]:
        for act1, act2 in _variants():
            yield _model(params, x, act1, act2), _variant_hint(act1, act2), _variant_cause(act1, act2)

    _judge(first, expected, f"forward(x) for x of shape {tuple(x.shape)}", ctx.device, mistakes,
           hint=call_problem)


@check(points=2, per_device=True, depends=[builds], hint=GRAPH_HINT)
def gradients(ctx: Context) -> None:
    """Backpropagating through forward gives conv1, conv2 and every registered parameter autograd's gradient.

    conv1 and conv2 are found by role, like forward_values; their gradients are read from the layers
    themselves, so layers the module does not register are judged too (submodules_registered charges that).
    """
    params = _weights(ctx)
    x = _f32(ctx.randn(2, 1, 28, 28))
    upstream = _f32(ctx.randn(2, 20, 20, 20))
    obs = ctx.probe("gradients", params=params, x=x, upstream=upstream)
    _require_loaded(ctx, obs)
    if not obs["output_requires_grad"]:
        raise CheckFailed("the output of forward to be part of the autograd graph (requires_grad=True)",
                          "an output that does not require grad", _graph_hint(obs, None), cause="graph_cut")
    observed = {p["name"]: p for p in obs["parameters"]}
    for p in obs["parameters"]:  # conv1's, conv2's, then every other registered parameter
        if p["grad"]["type"] == "None":
            layer = p["name"].rsplit(".", 1)[0]
            raise CheckFailed(f"{_as_written(p['name'], p['where'])} to hold a gradient after backward()",
                              f"{p['name']}.grad is None",
                              _graph_hint(obs, layer, p["requires_grad"], p["where"].rsplit(".", 1)[0]),
                              cause="graph_cut" if p["requires_grad"] else "requires_grad_false")
    expected = _grads(params, x, upstream)
    for name, exp in expected.items():
        if name not in observed:
            raise CheckFailed(f"a registered parameter {name}", "none", INIT_HINT, cause="not_registered")

        def mistakes(name: str = name) -> Iterator[tuple[torch.Tensor, str, str]]:
            for act1, act2 in _variants():
                yield (_grads(params, x, upstream, act1, act2)[name],
                       f"These are the gradients of a forward in which {_variant_words(act1, act2)}: every "
                       "parameter gets a gradient, but forward is not relu(conv2(relu(conv1(x)))). Fix forward "
                       "(see forward_values).", _variant_cause(act1, act2))

        _judge(observed[name]["grad"], exp, _as_written(name, observed[name]["where"]), ctx.device, mistakes,
               hint=_call_problem(obs), fallback=GRADIENT_VALUES_HINT)


def _grads(params: dict[str, torch.Tensor], x: torch.Tensor, upstream: torch.Tensor, act1: str = "relu",
           act2: str = "relu") -> dict[str, torch.Tensor]:
    """Autograd's float64 gradients of ``sum(model(x) * upstream)`` for each parameter."""
    leaves = {name: value.clone().requires_grad_(True) for name, value in params.items()}
    out = _model(leaves, x, act1, act2)
    grads = torch.autograd.grad((out * upstream).sum(), list(leaves.values()))
    return dict(zip(leaves, grads, strict=True))


def _graph_hint(obs: dict[str, Any], layer: str | None, requires_grad: bool = True,
                where: str | None = None) -> str:
    """Why no gradient reaches ``layer`` (or the output, when ``layer`` is None).

    ``layer`` is the assignment's name (``conv1``, or a registered extra's own name); ``where`` is where the
    student's model holds it (``c1``, ``features[0]``), used in the words.
    """
    calls = obs["calls"]
    problem = _call_problem(obs)
    if problem:
        return problem
    shown = where or layer
    if not requires_grad:
        return (f"self.{shown}'s parameters have requires_grad=False, so autograd computes no gradient for them: "
                "do not freeze them (requires_grad_(False)).")
    used = [c for c in calls if layer is None or c["role"] == layer or (layer not in LAYERS and c["name"] == layer)]
    if layer is not None and layer in LAYERS and not used:
        return (f"No gradient reaches self.{shown}: forward never calls self.{shown}. "
                f"Use the layers of __init__ in forward: {FORWARD_HINT}")
    if any(not c["grad_enabled"] for c in used):
        which = "forward" if layer is None else f"self.{shown}"
        return f"{which} runs under torch.no_grad(), so autograd records nothing: remove the no_grad block."
    if layer is not None and used and all(c["output_requires_grad"] for c in used):
        return (f"self.{shown} is called, but its output is cut from the graph before it reaches the result "
                "(.detach(), .data, .numpy() or torch.tensor(...) on it): use the tensor itself.")
    if layer is not None and layer not in LAYERS:
        return f"{shown} is registered but not used in forward: remove it, the model needs only conv1 and conv2."
    return GRAPH_HINT


@check(hidden=True, points=1, per_device=True, depends=[builds],
       hint="Keep every layer registered and create nothing in forward with a fixed device or dtype.")
def follows_to(ctx: Context) -> None:
    """model.to(device, torch.float64) moves every parameter, and forward then works on a float64 input there."""
    x = ctx.randn(2, 1, 28, 28)
    try:
        obs = ctx.probe("follows_to", x=x)
    except StudentRaised as raised:
        text = str(raised.info.get("message"))
        mismatch = ("should be the same", "same device", "same dtype", "expected scalar type", "Expected all tensors",
                    "found at least two devices", "Input type")
        if any(words in text for words in mismatch):
            raise StudentRaised({**raised.info, "hint": _follow_hint(ctx)}) from None
        raise
    for p in obs["parameters"]:
        if p["dtype"] != "float64" or p["device"].split(":")[0] != ctx.device:
            raise CheckFailed(f"{p['name']} to be float64 on {ctx.device} after model.to({ctx.device!r}, "
                              "torch.float64)", f"{p['dtype']} on {p['device']}",
                              "Do not override Module.to(), and create parameters as nn.Parameter so they move "
                              "with the module.", cause="not_moved")
        if p["type"] != "Parameter" or not p["is_leaf"]:
            raise CheckFailed(f"{p['name']} to stay an nn.Parameter after model.to()", f"a plain {p['type']}",
                              "Do not replace parameters with param.to(...): call .to() on the module.",
                              cause="parameter_replaced")
    out = obs["output"]
    require_tensor(out, "forward(x) after model.to(float64)")
    if out["dtype"] != "float64" or out["device"].split(":")[0] != ctx.device:
        raise CheckFailed(f"forward of a float64 input on {ctx.device} to return float64 on {ctx.device}",
                          f"{out['dtype']} on {out['device']}",
                          "Do not hard-code .cpu(), .cuda(), .float() or a dtype in forward: follow the input.",
                          cause="hard_coded_dtype")


def _follow_hint(ctx: Context) -> str:
    """Why forward mixes devices or dtypes after model.to(): unregistered layers, or hard-coded conversions."""
    info = _structure(ctx)
    containers = [u for u in info["unregistered"] if "modules" in u["what"]]
    if containers:
        names = "; ".join(f"self.{u['name']} is {u['what']}" for u in containers)
        return f"model.to() did not move the layers it does not know about: {names}. " + REGISTER_HINT
    problem = _call_problem(_calls(ctx))
    if problem:
        return "model.to() cannot move a layer it does not hold: " + problem
    return ("forward mixes devices or dtypes after model.to(...): every layer must be registered with the module, "
            "and forward must not hard-code .cuda(), .cpu(), .float() or dtype=... (follow the input).")
