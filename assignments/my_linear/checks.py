"""Judge side of my_linear: what each check asks, the expectations, and the verdicts."""

from __future__ import annotations

from typing import Any

import torch

from grader.check import CheckFailed, Context, check
from grader.compare import describe_observation, expect_close, require_tensor

TITLE = "MyLinear: a linear layer with registered parameters"
ALIASES = {"MyLinear": ["MyLiner", "Mylinear", "MyLinearLayer"]}

#: Mutants of the reference that no check can tell from it, and why (``grader validate --mutants``).
_INIT = "the statement leaves the initial values free (any shape-correct nn.Parameter is right)"
EQUIVALENT_MUTANTS = {
    "my_linear:__init__:constant@L15": _INIT,
    "my_linear:__init__:constant@L15#2": _INIT,
    "my_linear:__init__:div_to_mult@L15": _INIT,
    "my_linear:__init__:drop_scale@L15": _INIT,
    "my_linear:__init__:drop_exponent@L15": _INIT,
    "my_linear:__init__:pow_to_mult@L15": _INIT,
    "my_linear:__init__:exponent@L15": _INIT,
    "my_linear:__init__:exponent@L15#2": _INIT,
    "my_linear:__init__:drop_usub@L16": _INIT + ": uniform_(bound, bound) is a constant start",
    "my_linear:__init__:drop_usub@L18": _INIT + ": uniform_(bound, bound) is a constant start",
    "my_linear:__init__:swap_with_next@L16": "creating the bias before the weights only changes the random start",
}

IN, OUT = 5, 3
REGISTER_HINT = (
    "Wrap the tensors in nn.Parameter (self.weights = nn.Parameter(torch.randn(in_features, out_features))) "
    "so the module registers them: only registered parameters are returned by parameters(), saved in "
    "state_dict(), moved by .to() and updated by an optimizer."
)


def _structure(ctx: Context, bias: bool | None = True) -> dict[str, Any]:
    return dict(ctx.probe("structure", in_features=IN, out_features=OUT, bias=bias))


@check(points=1, hint="Subclass nn.Module and call super().__init__() first in __init__.")
def builds(ctx: Context) -> None:
    """MyLinear(in_features, out_features) builds an nn.Module."""
    info = _structure(ctx, bias=None)
    if not info["is_module"]:
        raise CheckFailed("MyLinear to be a subclass of nn.Module", "a class that does not inherit nn.Module",
                          "Write `class MyLinear(nn.Module):` and call super().__init__() in __init__.",
                          cause="not_a_module")


@check(points=1, depends=[builds], hint="Keep the constructor arguments: self.in_features = in_features, ...")
def stores_sizes(ctx: Context) -> None:
    """MyLinear(in_features, out_features) remembers in_features and out_features."""
    info = _structure(ctx, bias=None)
    for name, value in (("in_features", IN), ("out_features", OUT)):
        found = info[name]
        if found.get("number") != value:
            raise CheckFailed(f"self.{name} == {value} for MyLinear({IN}, {OUT})",
                              "no such attribute" if found["type"] == "missing" else describe_observation(found),
                              f"Store the argument: self.{name} = {name}.", cause="size_not_stored")


@check(points=2, hint=REGISTER_HINT, depends=[builds])
def parameters_registered(ctx: Context) -> None:
    """weights (in_features, out_features) and bias (out_features,) are registered nn.Parameters."""
    info = _structure(ctx)
    params = {p["name"]: p for p in info["parameters"]}
    unregistered = info["unregistered"]
    if unregistered:
        listed = "; ".join(f"self.{u['name']} is {u['what']}" for u in unregistered)
        derived = [u["name"] for u in unregistered if "computed from" in u["what"]]
        raise CheckFailed(
            "weights and bias registered with the module (listed by named_parameters())",
            f"registered: {sorted(params) or 'nothing'}; not registered: {listed}",
            f"self.{derived[0]} was wrapped in nn.Parameter and then converted (.double(), .float(), .to(), "
            ".cuda()): that returns a plain tensor computed from the parameter, not a leaf and not registered. "
            "Create the tensor with the dtype you want first, then wrap it: "
            "nn.Parameter(torch.randn(..., dtype=...))." if derived else REGISTER_HINT,
            cause="parameter_converted" if derived else "not_parameter",
        )
    expected = {"weights": [IN, OUT], "bias": [OUT]}
    layout = info["layout"]
    if sorted(params) != sorted(expected):
        renamed = [(role, layout[role]) for role in expected if layout[role] != role and layout[role] in params]
        hint = "Name the attributes exactly `weights` and `bias` and register nothing else as a parameter."
        if renamed:
            asked = " and ".join(f"`{role}`" for role, _ in renamed)
            defined = " and ".join(f"`{name}`" for _, name in renamed)
            hint = (f"The assignment asks for {asked}; your MyLinear defines {defined}. Rename "
                    f"{'them' if len(renamed) > 1 else 'it'}: the course's code and tests use the assignment's "
                    "names. (The other checks judged your layer under your names, so this is the only check that "
                    "costs you points for it.)")
            if layout["transposed"]:
                hint += (f" Your `{layout['weights']}` is also stored (out_features, in_features), torch.nn.Linear's "
                         "layout; the course stores weights as (in_features, out_features) and computes x @ weights.")
        raise CheckFailed(f"named_parameters() to be exactly {sorted(expected)}", f"{sorted(params)}", hint,
                          cause="wrong_parameter_names")
    for name, shape in expected.items():
        p = params[name]
        if p["shape"] != shape:
            transposed = p["shape"] == list(reversed(shape))
            raise CheckFailed(
                f"{name} of shape {tuple(shape)} for MyLinear({IN}, {OUT})",
                f"shape {tuple(p['shape'])}",
                "The course stores weights as (in_features, out_features) and computes x @ weights; you "
                "stored the transpose (torch.nn.Linear's convention). (The other checks judged your layer in "
                "your layout, so this is the only check that costs you points for it.)" if transposed else
                "weights is (in_features, out_features); bias is (out_features,).",
                cause="weights_transposed" if transposed else "wrong_shape",
            )
        if not p["requires_grad"]:
            raise CheckFailed(f"{name}.requires_grad == True", "requires_grad == False",
                              "Do not pass requires_grad=False or build the parameter from .data or .detach().",
                              cause="requires_grad_false")
        if p["dtype"] != "float32":
            raise CheckFailed(f"{name} in the default dtype float32", f"dtype {p['dtype']}",
                              "Create parameters with the default dtype; callers convert with .to().", cause="dtype")


@check(
    points=1,
    hint="With bias=False set self.bias = None (or register_parameter('bias', None)) and skip it in forward.",
    depends=[builds],
)
def no_bias(ctx: Context) -> None:
    """MyLinear(..., bias=False) has no bias: bias is None, only weights is a parameter, forward works."""
    info = _structure(ctx, bias=False)
    if info["bias"]["type"] != "None":
        found = "no bias attribute" if info["bias"]["type"] == "missing" else describe_observation(info["bias"])
        raise CheckFailed("self.bias is None when bias=False", found, cause="bias_false_ignored")
    names = [p["name"] for p in info["parameters"]]
    weights_name = info["layout"]["weights"]  # the student's own name for it: parameters_registered charges a rename
    if names != [weights_name]:
        raise CheckFailed(f"named_parameters() == [{weights_name!r}] when bias=False", f"{names}",
                          cause="bias_false_ignored")
    weights = ctx.randn(IN, OUT)
    x = ctx.randn(4, IN)
    (out,) = ctx.probe("forward", in_features=IN, out_features=OUT, bias=False, weights=weights,
                       bias_values=None, inputs=[x], dtype="float64")
    expect_close(out, x @ weights, "forward(x) without bias", dtype="float64")


def _linear_cases(ctx: Context) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    weights = ctx.randn(IN, OUT)
    bias = ctx.randn(OUT) + 0.5  # well away from zero, so a forgotten bias shows
    inputs = [ctx.randn(7, IN), ctx.randn(2, 4, IN), ctx.randn(IN)]
    return weights, bias, inputs


@check(points=2, per_device=True, depends=[builds],
       hint="forward(x) must return x @ self.weights + self.bias for x of any shape (..., in_features).")
def forward(ctx: Context) -> None:
    """forward(x) equals x @ weights + bias, for inputs with any batch dimensions, in float32 and float64."""
    weights, bias, inputs = _linear_cases(ctx)
    for dtype in ("float32", "float64"):
        outs = ctx.probe("forward", in_features=IN, out_features=OUT, bias=True, weights=weights,
                         bias_values=bias, inputs=inputs, dtype=dtype)
        for x, out in zip(inputs, outs, strict=True):
            w, b = weights.to(getattr(torch, dtype)).double(), bias.to(getattr(torch, dtype)).double()
            x = x.to(getattr(torch, dtype)).double()
            expect_close(
                out, x @ w + b, f"forward(x) for a {dtype} x of shape {tuple(x.shape)}",
                dtype=dtype, device=ctx.device,
                mistakes={"no_bias": (x @ w, "The bias is left out: add self.bias to x @ self.weights.")},
            )


@check(points=2, per_device=True, depends=[builds],
       hint="Compute forward with differentiable torch operations on the parameters themselves.")
def gradients(ctx: Context) -> None:
    """Backpropagating through forward gives weights and bias the same gradients as autograd's reference."""
    weights, bias = ctx.randn(IN, OUT), ctx.randn(OUT)
    x, upstream = ctx.randn(6, IN), ctx.randn(6, OUT)
    for dtype in ("float32", "float64"):
        obs = ctx.probe("gradients", in_features=IN, out_features=OUT, weights=weights, bias_values=bias,
                        x=x, upstream=upstream, dtype=dtype)
        if not obs["output_requires_grad"]:
            raise CheckFailed("the output of forward to be part of the autograd graph (requires_grad)",
                              "an output that does not require grad",
                              "forward cuts the graph: do not use .data, .detach(), .item() or torch.no_grad() "
                              "on the parameters in forward.", cause="graph_cut")
        kind = getattr(torch, dtype)
        xd, gd = x.to(kind).double(), upstream.to(kind).double()
        expected = {"weights": xd.T @ gd, "bias": gd.sum(0)}
        for name, exp in expected.items():
            grad = obs["grads"][name]
            if grad["type"] == "None" and not obs["requires_grad"][name]:
                raise CheckFailed(f"{name}.grad to hold the gradient after backward()",
                                  f"{name}.requires_grad == False",
                                  f"`{name}` has requires_grad=False, so autograd computes no gradient for it: "
                                  "do not pass requires_grad=False (nn.Parameter requires grad by default).",
                                  cause="requires_grad_false")
            if grad["type"] == "None":
                raise CheckFailed(
                    f"{name}.grad to hold the gradient after backward()", f"{name}.grad is None",
                    f"No gradient reaches `{name}`: "
                    + ("is the bias used in forward?" if name == "bias" else
                       "is it used through .data or .detach(), or is it not a leaf tensor?"),
                    cause="no_bias" if name == "bias" else "graph_cut",
                )
            require_tensor(grad, f"{name}.grad")
            expect_close(grad, exp, f"{name}.grad ({dtype})", dtype=dtype, device=ctx.device)


@check(hidden=True, points=1, per_device=True, depends=[builds], hint=REGISTER_HINT)
def follows_to(ctx: Context) -> None:
    """model.to(device, torch.float64) converts weights and bias, which stay registered leaf parameters."""
    x = ctx.randn(3, IN)
    obs = ctx.probe("follows_to", in_features=IN, out_features=OUT, x=x)
    for name in ("weights", "bias"):
        tensor = obs[name]
        if tensor["type"] == "missing":
            raise CheckFailed(f"an attribute `{name}`", "none", REGISTER_HINT, cause="missing_attribute")
        if tensor.get("dtype") != "float64" or tensor["device"].split(":")[0] != ctx.device:
            raise CheckFailed(
                f"{name} to be float64 on {ctx.device} after .to({ctx.device!r}, torch.float64)",
                f"{tensor.get('dtype')} on {tensor.get('device')}",
                f"`{name}` did not move with the module, so it is not registered. " + REGISTER_HINT,
                cause="not_parameter",
            )
        if tensor["type"] != "Parameter" or not tensor["is_leaf"]:
            raise CheckFailed(f"{name} to still be an nn.Parameter after .to()", f"a plain {tensor['type']}",
                              "Do not overwrite parameters with param.to(...): that returns a plain tensor. "
                              "Call .to() on the module.", cause="parameter_replaced")
    if obs["output"]["type"] == "raised":
        raise CheckFailed("forward(x) to work on a float64 x after model.to(float64)",
                          f"it raised {obs['output']['repr']}{obs['output'].get('where', '')}",
                          "The parameters did move to float64, so forward itself fixes a dtype or a device: "
                          "`x.float()`, `.cuda()`, or a tensor it creates without `dtype=x.dtype, "
                          "device=x.device`. Use x and the parameters as they come.", cause="raised_after_to")
    out = require_tensor(obs["output"], "forward(x) after .to(float64)")
    if obs["output"]["dtype"] != "float64":
        raise CheckFailed("forward of a float64 x on a float64 model to be float64", obs["output"]["dtype"],
                          cause="hard_coded_dtype")
    if out.shape != (3, OUT):
        raise CheckFailed(f"output shape {(3, OUT)}", f"{tuple(out.shape)}")


@check(points=1, depends=[builds], hint=REGISTER_HINT)
def optimizer(ctx: Context) -> None:
    """torch.optim.SGD(model.parameters()) can be built and one step moves weights and bias."""
    x, lr = ctx.randn(4, IN), 0.1
    obs = ctx.probe("optimizer_step", in_features=IN, out_features=OUT, x=x, lr=lr)
    if obs["n_params"] != 2:
        found = f"{obs['n_params']} tensors" + (
            " (torch.optim.SGD raises 'optimizer got an empty parameter list')" if obs["n_params"] == 0 else "")
        raise CheckFailed("parameters() to yield 2 tensors (weights, bias)", found, REGISTER_HINT,
                          cause="not_parameter")
    if obs["output_requires_grad"] is False:
        raise CheckFailed("forward(x) to be connected to the parameters, so that loss.backward() reaches them",
                          "an output that does not require grad",
                          "forward cuts the graph: do not use .data, .detach() or torch.no_grad() in forward.",
                          cause="graph_cut")
    before_w = require_tensor(obs["before"]["weights"], "weights").double()
    before_b = require_tensor(obs["before"]["bias"], "bias").double()
    if tuple(before_w.shape) != (IN, OUT) or tuple(before_b.shape) != (OUT,):
        raise CheckFailed(f"weights of shape {(IN, OUT)} and bias of shape {(OUT,)}",
                          f"{tuple(before_w.shape)} and {tuple(before_b.shape)}",
                          "weights is (in_features, out_features); bias is (out_features,).", cause="wrong_shape")
    xd = x.float().double()
    expected_w = before_w - lr * xd.sum(0).unsqueeze(1).expand(IN, OUT)
    expected_b = before_b - lr * xd.shape[0]
    for name, before, expected in (("weights", before_w, expected_w), ("bias", before_b, expected_b)):
        stuck = f"`{name}` did not move: no gradient reached it. Is it used in forward, without .data or .detach()?"
        mistakes = {"unchanged": (before, stuck)}
        expect_close(obs["after"][name], expected, f"{name} after one SGD step", mistakes=mistakes)
