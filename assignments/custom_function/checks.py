"""Judge side of custom_function: LinearFunction's forward and backward against exact values computed here.

``torch.autograd.gradcheck`` runs in the sandbox, next to the student's code, so its verdict could be forged:
it can only take points away. A gradient check passes when the judge's own comparison of every gradient
that backward returns with the exact derivative of ``input @ weight.T + bias`` passes, with gradcheck's
tolerances (atol 1e-5, rtol 1e-3, float64), and the sandbox's gradcheck agreed. Each returned gradient is
judged as autograd's engine delivers it: one of a shape that its input broadcasts to is summed to the input's
shape first, as the engine does (so ``grad_bias = grad_output`` is right, as gradcheck and training find).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from grader.check import CheckFailed, Context, check
from grader.compare import describe_observation, expect_close, require_tensor, show
from grader.session import StudentRaised

TITLE = "LinearFunction: a torch.autograd.Function with a hand-written backward, checked with gradcheck"
ALIASES = {"LinearFunction": ["Linear_Function", "LinearFunc", "MyLinearFunction", "linearFunction"]}

#: Mutants of the reference that no check can tell from it, and why (``grader validate --mutants``).
EQUIVALENT_MUTANTS = {
    "custom_function:forward:drop_unsqueeze@L15": "output += bias broadcasts bias over the rows: unsqueeze(0) "
                                                  "changes nothing",
    "custom_function:forward:drop_expand_as@L15": "output += bias.unsqueeze(0) broadcasts: expand_as changes nothing",
    "custom_function:backward:drop_condition@L28#2": "ctx.needs_input_grad is an optimisation: a gradient returned "
                                                     "for a bias that needs none is discarded by autograd",
}

#: gradcheck's tolerances, used by the judge for its own comparison of the analytical gradients
ATOL, RTOL = 1e-5, 1e-3
N, IN, OUT = 4, 3, 2  # all different, so that a transposed or unsummed gradient has the wrong shape
SIZES_NO_BIAS = (5, 4, 3)

SHAPES = (
    "Shapes: input (N, in_features), weight (out_features, in_features), bias (out_features,), grad_output "
    "(N, out_features). forward: input @ weight.T + bias, shape (N, out_features). backward: grad_input = "
    "grad_output @ weight, shape (N, in_features); grad_weight = grad_output.T @ input, shape (out_features, "
    "in_features); grad_bias = grad_output.sum(0), shape (out_features,)."
)
FORWARD_HINT = "forward must return input @ weight.T + bias (without the bias when it is None). " + SHAPES
BACKWARD_HINT = (
    "backward(ctx, grad_output) must return (grad_input, grad_weight, grad_bias): one value per input of forward, "
    "None for a bias that is None. " + SHAPES
)
COUNT_HINT = (
    "backward must return exactly one value per input that forward received (torch otherwise raises "
    "'function LinearFunctionBackward returned an incorrect number of gradients'): "
    "`return grad_input, grad_weight, grad_bias`, with grad_bias = None when bias is None."
)
BIAS_NONE_HINT = (
    "LinearFunction.apply(input, weight) has no bias, so its gradient must be None: compute grad_bias only "
    "`if bias is not None` and return None otherwise (torch raises 'returned an incorrect number of gradients' or "
    "'returned a gradient different than None' for a tensor there)."
)
STATIC_HINT = (
    "Declare both with @staticmethod: torch calls LinearFunction.forward(ctx, ...) and "
    "LinearFunction.backward(ctx, grad_output) on the class, never on an instance."
)

#: Plain words for torch errors seen in this exercise (pattern in the message -> hint).
ERROR_HINTS: tuple[tuple[str, str], ...] = (
    (r"incorrect number of gradients", COUNT_HINT),
    (r"gradient different than None at position 3", BIAS_NONE_HINT),
    (r"shapes cannot be multiplied|size mismatch|must match the size|mat2 must be a matrix", SHAPES),
    (r"tuple index out of range",
     "LinearFunction.apply(input, weight) passes two inputs, so ctx.needs_input_grad has two entries: test "
     "`bias is not None` before looking at ctx.needs_input_grad[2]."),
    (r"not enough values to unpack|saved_tensors",
     "backward reads what forward saved: call ctx.save_for_backward(input, weight, bias) in forward and unpack "
     "exactly those in backward: input, weight, bias = ctx.saved_tensors."),
    (r"missing 1 required positional argument: 'bias'",
     "Give bias a default: def forward(ctx, input, weight, bias=None), so LinearFunction.apply(input, weight) works."),
    (r"missing \d+ required positional argument", STATIC_HINT),
    (r"NoneType",
     "bias is None when LinearFunction.apply(input, weight) is called: add it (and compute its gradient) only "
     "`if bias is not None`."),
)


def _hint_for(message: str) -> str | None:
    return next((hint for pattern, hint in ERROR_HINTS if re.search(pattern, message)), None)


def _probe(ctx: Context, name: str, **args: Any) -> Any:
    """``ctx.probe``, adding a plain-words hint to the torch errors listed in ERROR_HINTS (and the engine's shapes)."""
    try:
        return ctx.probe(name, **args)
    except StudentRaised as raised:
        message = str(raised.info.get("message", ""))
        hint = _shape_hint(message) or _hint_for(message)
        if hint and not raised.info.get("hint"):
            raise raised.with_hint(hint) from None
        raise


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return x @ w.T if b is None else x @ w.T + b


def _case(ctx: Context, n: int, i: int, o: int, bias: str) -> dict[str, Any]:
    b = ctx.randn(o) + 0.5 if bias == "given" else None  # well away from zero, so a forgotten bias shows
    return {"x": ctx.randn(n, i), "w": ctx.randn(o, i), "b": b, "bias": bias}


def _bias_free(ctx: Context) -> str:
    """How the bias-free checks call apply: "omitted" (apply(input, weight)), or "none" when bias has no default.

    A forward whose bias has no default still works as apply(input, weight, None); the check `defines_function`
    alone takes its point for the missing default, so the behaviour checks call it that way and say so in a note.
    """
    info = _probe(ctx, "structure")
    if info["is_function"] and info["forward_three"] and not info["forward_two"]:
        note = ("forward's bias has no default, so the checks without a bias called LinearFunction.apply(input, "
                "weight, None) instead of LinearFunction.apply(input, weight); only the check `defines_function` "
                "takes a point for it.")
        if note not in ctx.notes:
            ctx.notes.append(note)
        return "none"
    return "omitted"


@check(points=1, hint=STATIC_HINT)
def defines_function(ctx: Context) -> None:
    """LinearFunction is a torch.autograd.Function with @staticmethod forward and backward, and apply() runs.

    forward(ctx, input, weight, bias=None) and backward(ctx, grad_output), as in the PyTorch documentation (or
    forward(input, weight, bias=None) with a separate setup_context(ctx, inputs, output), torch's newer style;
    ctx may have any name). bias must be optional, so that LinearFunction.apply(input, weight) works: this is the
    only check that takes a point for a bias without a default (the others then call apply(input, weight, None)).
    LinearFunction.apply(input, weight, bias) returns a tensor (its values are the next check's business).
    """
    info = _probe(ctx, "structure")
    if not info["is_function"]:
        raise CheckFailed("class LinearFunction(torch.autograd.Function)",
                          f"a class with base classes {', '.join(info['bases'])}",
                          "Subclass torch.autograd.Function: that gives the class its `apply`.",
                          cause="not_a_function")
    setup = info.get("setup_context") is not None
    for name in ("forward", "backward", "setup_context") if setup else ("forward", "backward"):
        if info[name] != "staticmethod":
            raise CheckFailed(f"{name} to be a @staticmethod", f"{name} is a plain {info[name]}", STATIC_HINT,
                              cause="not_staticmethod")
    form = "forward(input, weight, bias=None)" if setup else "forward(ctx, input, weight, bias=None)"
    wanted = f"{form} (your class defines setup_context, so torch calls forward without ctx)" if setup else form
    if not info["forward_three"]:
        raise CheckFailed(wanted, f"{info['forward_signature']}, which cannot take those arguments", FORWARD_HINT,
                          cause="wrong_signature")
    if not info["forward_two"]:
        raise CheckFailed(
            f"{wanted}: bias optional, so that LinearFunction.apply(input, weight) works",
            f"{info['forward_signature']}: bias has no default, so LinearFunction.apply(input, weight) raises "
            "TypeError (the other checks called LinearFunction.apply(input, weight, None) instead, and took no "
            "points for this)",
            f"Give bias a default: def {form}.",
            cause="bias_not_optional")
    if setup and not info["setup_context_three"]:
        raise CheckFailed("setup_context(ctx, inputs, output)",
                          "a setup_context that cannot be called as setup_context(ctx, inputs, output)",
                          "torch calls setup_context(ctx, inputs, output) after forward, with inputs the tuple of "
                          "forward's arguments: unpack it with input, weight, bias = inputs.", cause="wrong_signature")
    if not info["backward_one"]:
        raise CheckFailed("backward(ctx, grad_output)",
                          "a backward that cannot be called as backward(ctx, grad_output)", STATIC_HINT,
                          cause="wrong_signature")
    (out,) = _probe(ctx, "forward", cases=[_case(ctx, N, IN, OUT, "given")], dtype="float64")
    require_tensor(out, "the output of LinearFunction.apply(input, weight, bias)",
                   "forward must return the output tensor: return input @ weight.T + bias.")


@check(points=2, per_device=True, hint=FORWARD_HINT)
def forward(ctx: Context) -> None:
    """LinearFunction.apply(input, weight[, bias]) returns input @ weight.T (+ bias), in float64 and float32."""
    cases = [_case(ctx, N, IN, OUT, "given"), _case(ctx, *SIZES_NO_BIAS, _bias_free(ctx)), _case(ctx, 3, 2, 4, "none")]
    labels = {"given": "with bias", "omitted": "without bias: apply(input, weight)",
              "none": "with bias=None: apply(input, weight, None)"}
    for dtype in ("float64", "float32"):
        outs = _probe(ctx, "forward", cases=cases, dtype=dtype)
        for case, out in zip(cases, outs, strict=True):
            x, w = (case[k].to(getattr(torch, dtype)).double() for k in ("x", "w"))
            b = None if case["b"] is None else case["b"].to(getattr(torch, dtype)).double()
            what = f"the output of LinearFunction.apply {labels[case['bias']]} ({dtype}, input {tuple(x.shape)})"
            require_tensor(out, what, "forward must return the output tensor: return input @ weight.T + bias.")
            mistakes = {"no_transpose_square": (x @ w, "Use weight.T: weight is (out_features, in_features).")} \
                if w.shape[0] == w.shape[1] else {}
            if b is not None:
                mistakes["no_bias"] = (x @ w.T, "The bias is left out: add bias to input @ weight.T.")
            expect_close(out, _linear(x, w, b), what, dtype=dtype, device=ctx.device, mistakes=mistakes,
                         hint=FORWARD_HINT)


def _close(obs: dict[str, Any], expected: torch.Tensor, device: str | None) -> bool:
    """The judge's gradcheck criterion: same shape, on the device, |found - expected| <= atol + rtol |expected|."""
    found = obs.get("tensor")
    return (
        isinstance(found, torch.Tensor) and found.shape == expected.shape
        and (device is None or obs["device"].split(":")[0] == device)
        and bool(torch.allclose(found.double(), expected, rtol=RTOL, atol=ATOL))
    )


def _expandable(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """Whether ``shape`` broadcasts to ``to`` (torch's ``is_expandable_to``): every trailing size equal or 1."""
    return len(shape) <= len(to) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(to), strict=False))


def _as_delivered(obs: dict[str, Any], shape: torch.Size) -> dict[str, Any]:
    """A gradient that backward returned, as autograd's engine delivers it to its input.

    The engine accepts a gradient of any shape that the input's shape broadcasts to, and sums it down to the
    input's shape (``sum_to_size``): grad_bias = grad_output, of shape (N, out_features), reaches the bias as
    grad_output.sum(0), and ``.grad``, gradcheck and training all see that. Any other shape is left as it was
    (the engine raises for it).
    """
    found = obs.get("tensor")
    if not isinstance(found, torch.Tensor) or found.shape == shape or not _expandable(tuple(shape), tuple(found.shape)):
        return obs
    return {**obs, "tensor": found.sum_to_size(shape), "shape": list(shape)}


def _expect_gradient(obs: dict[str, Any], expected: torch.Tensor, what: str, device: str | None,
                     mistakes: dict[str, tuple[torch.Tensor, str]]) -> None:
    """Pass when gradcheck's tolerances hold for the gradient as autograd delivers it; else fail, naming the mistake."""
    if obs.get("type") == "None":
        raise CheckFailed(f"{what}: a tensor of shape {tuple(expected.shape)}", "None",
                          "backward returned None for an input that requires grad: compute it. " + SHAPES,
                          cause="grad_none")
    delivered = _as_delivered(obs, expected.shape)
    if delivered is not obs:
        what += (f" (backward returned shape {tuple(obs['shape'])}; autograd sums that to the input's shape "
                 f"{tuple(expected.shape)}, which is what is compared)")
        obs = delivered
    if not _close(obs, expected, device):
        expect_close(obs, expected, what, device=device, mistakes=mistakes, hint=BACKWARD_HINT)


def _judge_returned(ctx: Context, returned: dict[str, Any], x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                    bias: str, g: torch.Tensor) -> None:
    """One direct call of backward(ctx, grad_output) against the exact gradients."""
    n_inputs = 3 if bias in ("given", "none") else 2
    call = "LinearFunction.apply(input, weight, bias)" if bias == "given" else (
        "LinearFunction.apply(input, weight)" if bias == "omitted" else "LinearFunction.apply(input, weight, None)")
    if not returned["sequence"]:
        raise CheckFailed(f"backward to return a tuple of {n_inputs} gradients for {call}",
                          describe_observation(returned["what"]), COUNT_HINT, cause="wrong_gradient_count")
    items = returned["items"]
    if len(items) < n_inputs:
        raise CheckFailed(f"backward to return {n_inputs} values (grad_input, grad_weight, grad_bias) for {call}",
                          f"{len(items)} value{'s' if len(items) != 1 else ''}", COUNT_HINT,
                          cause="wrong_gradient_count")
    bias_item = items[2] if len(items) > 2 else None
    if any(item["type"] != "None" for item in items[3:]):
        raise CheckFailed(f"backward to return 3 values at most for {call}", f"{len(items)} values", COUNT_HINT,
                          cause="wrong_gradient_count")
    if b is None and bias_item is not None and bias_item["type"] != "None":
        raise CheckFailed(f"grad_bias to be None for {call}", describe_observation(bias_item), BIAS_NONE_HINT,
                          cause="bias_grad_not_none")
    for_g = f"for {call} and a random grad_output of shape {tuple(g.shape)}"
    _expect_gradient(items[0], g @ w, f"grad_input (the gradient for `input`) {for_g}", ctx.device, {})
    weight_mistakes = {"transposed": (x.T @ g, "grad_weight is transposed: it has the shape of weight, "
                                      "(out_features, in_features): grad_output.T @ input, not input.T @ grad_output.")}
    _expect_gradient(items[1], g.T @ x, f"grad_weight (the gradient for `weight`) {for_g}", ctx.device,
                     weight_mistakes)
    if b is not None:
        assert bias_item is not None
        _expect_gradient(bias_item, g.sum(0), f"grad_bias (the gradient for `bias`) {for_g}", ctx.device, {
            "mean": (g.mean(0), "grad_bias is the sum over the batch, not the mean: grad_output.sum(0)."),
            "wrong_dim": (g.sum(1), "grad_bias is summed over the wrong dimension: grad_output.sum(0) sums the "
                                    "batch (rows) and keeps out_features."),
            "summed_all": (g.sum(), "grad_bias is one number, the sum of all of grad_output: the bias has one "
                                    "entry per output feature, so sum over the batch only: grad_output.sum(0)."),
        })


def _shape_hint(message: str) -> str | None:
    """The hint for autograd's engine refusing a gradient of the wrong shape, or None for another message."""
    found = re.search(r"invalid gradient at index (\d+) - got \[([\d, ]*)\] but expected shape compatible with "
                      r"\[([\d, ]*)\]", message)
    if not found:
        return None
    index = int(found.group(1))
    name = ("grad_input", "grad_weight", "grad_bias")[index] if index < 3 else f"gradient {index}"
    return (f"{name} has shape [{found.group(2)}], which autograd cannot sum down to its input's shape "
            f"[{found.group(3)}]: return a gradient of the input's shape. " + SHAPES)


def _engine_hint(message: str) -> str:
    return _shape_hint(message) or _hint_for(message) or BACKWARD_HINT


def _judge_backward(ctx: Context, bias: str, sizes: tuple[int, int, int]) -> None:
    """gradcheck on the judge's side, then the sandbox's torch.autograd.gradcheck, for one way to call apply."""
    case = _case(ctx, *sizes, bias)
    x, w, b = case["x"], case["w"], case["b"]
    upstreams = [ctx.randn(sizes[0], sizes[2]) for _ in range(2)]
    obs = _probe(ctx, "backward", x=x, w=w, b=b, bias=bias, upstreams=upstreams, dtype="float64", gradcheck=True)
    require_tensor(obs["output"], "the output of forward", "forward must return the output tensor.")
    if not obs["own_node"]:
        raise CheckFailed("the output of LinearFunction.apply to be recorded with LinearFunction's backward",
                          f"an output whose grad_fn is {obs['output'].get('grad_fn')}",
                          "Return a new tensor from forward (not one of its inputs), and call LinearFunction.apply, "
                          "never forward directly.", cause="graph_cut")
    for returned, g in zip(obs["raw"], upstreams, strict=True):
        _judge_returned(ctx, returned, x, w, b, bias, g)
    engine = obs["engine"]
    if engine["raised"]:
        raise CheckFailed("loss.backward() through LinearFunction to work",
                          f"torch's autograd engine raised {engine['raised']}", _engine_hint(engine["raised"]))
    names = ["input", "weight"] + (["bias"] if b is not None else [])
    exact = {"input": upstreams[0] @ w, "weight": upstreams[0].T @ x, "bias": upstreams[0].sum(0)}
    for name, grad in zip(names, engine["grads"], strict=False):
        if not _close(grad, exact[name], ctx.device):
            _expect_gradient(grad, exact[name], f"the gradient autograd gives `{name}` through LinearFunction",
                             ctx.device, {})
    report = obs["gradcheck"]
    if not report["ok"]:
        args = {"given": "(input, weight, bias)", "none": "(input, weight, None)"}.get(bias, "(input, weight)")
        which = f" for `{report['input']}`" if report["input"] else ""
        out = require_tensor(obs["output"], "the output of forward").double()
        expected_out = _linear(x, w, b)
        forward_wrong = out.shape != expected_out.shape or not torch.allclose(out, expected_out, rtol=1e-7, atol=1e-9)
        found = f"gradcheck(LinearFunction.apply, {args}) failed{which}: {report['error']}"
        if forward_wrong:
            found += f"; your forward gives {show(out)} where input @ weight.T + bias is {show(expected_out)}"
        raise CheckFailed(
            f"torch.autograd.gradcheck(LinearFunction.apply, {args}) in float64 to pass",
            found,
            "backward returns the exact gradient of input @ weight.T + bias, but gradcheck compares it with the "
            "numerical derivative of YOUR forward, and that forward computes something else: fix forward "
            "(see the check `forward`)." if forward_wrong else
            "gradcheck differentiates forward numerically and compares with backward: make sure forward and backward "
            "do not modify their inputs in place and give the same result every time.",
            cause="forward_wrong" if forward_wrong else "gradcheck_failed",
        )


@check(points=3, per_device=True, hint=BACKWARD_HINT)
def gradcheck_with_bias(ctx: Context) -> None:
    """With a bias: backward's gradients for input, weight and bias are exact, and gradcheck passes (float64).

    The judge compares every gradient that backward returns with the exact derivative of input @ weight.T + bias,
    with gradcheck's tolerances (atol 1e-5, rtol 1e-3), and torch.autograd.gradcheck(LinearFunction.apply,
    (input, weight, bias)) must pass too.
    """
    _judge_backward(ctx, "given", (N, IN, OUT))


@check(hidden=True, points=2, per_device=True, hint=BIAS_NONE_HINT)
def gradcheck_without_bias(ctx: Context) -> None:
    """Without a bias: gradients for input and weight are exact, the bias gets None, and gradcheck passes (float64).

    LinearFunction.apply(input, weight) is called with two inputs (apply(input, weight, None) when forward's bias
    has no default: the check `defines_function` takes that point); torch.autograd.gradcheck(LinearFunction.apply,
    (input, weight)) must pass too.
    """
    _judge_backward(ctx, _bias_free(ctx), SIZES_NO_BIAS)


#: The layers whose weight is frozen (requires_grad=False) in used_in_a_module's second run: the second layer's,
#: so that there needs_input_grad is (True, False, True) and a backward that reads the wrong flag loses a gradient.
FROZEN = (1,)


def _mlp_expected(x: torch.Tensor, layers: list[dict[str, Any]], g: torch.Tensor,
                  frozen: tuple[int, ...] = ()) -> list[dict[str, torch.Tensor]]:
    params = [{k: v.clone().requires_grad_(not (k == "w" and i in frozen)) for k, v in layer.items() if v is not None}
              for i, layer in enumerate(layers)]
    h = x
    for i, p in enumerate(params):
        h = torch.nn.functional.linear(h, p["w"], p.get("b"))
        if i < len(params) - 1:
            h = torch.tanh(h)
    (h * g).sum().backward()
    return [{k: v.grad for k, v in p.items() if v.requires_grad} for p in params]


@check(points=2, per_device=True,
       hint="Return None (or anything) for inputs that need no gradient, and tensors of the inputs' shapes for the "
            "others; use ctx.needs_input_grad to skip work if you like.")
def used_in_a_module(ctx: Context) -> None:
    """A float32 two-layer nn.Module built on LinearFunction.apply gets the right gradients from loss.backward().

    The module's input does not require grad (ctx.needs_input_grad[0] is False in the first layer) and its
    hidden layer does: gradients flow through both layers into every weight and bias. The module is then run
    again with the second layer's weight frozen (requires_grad=False), so that there needs_input_grad is
    (True, False, True): a backward that reads the wrong flag of ctx.needs_input_grad loses the gradient of the
    hidden layer or of the bias. Judged on its own, whatever the gradient checks found: a Function with a wrong
    gradient can still be used in a module, and is judged there by what the module gets.
    """
    x = ctx.randn(6, 4).float().double()
    layers = [{"w": ctx.randn(5, 4).float().double(), "b": ctx.randn(5).float().double()},
              {"w": ctx.randn(3, 5).float().double(), "b": ctx.randn(3).float().double()}]
    g = ctx.randn(6, 3).float().double()
    for frozen in ((), FROZEN):
        obs = _probe(ctx, "mlp", x=x, layers=layers, upstream=g, dtype="float32", frozen=list(frozen))
        _judge_module(ctx, obs, x, layers, g, frozen)


def _judge_module(ctx: Context, obs: dict[str, Any], x: torch.Tensor, layers: list[dict[str, Any]], g: torch.Tensor,
                  frozen: tuple[int, ...]) -> None:
    """One run of used_in_a_module: the output, then every gradient a parameter that requires grad received."""
    require_tensor(obs["output"], "the output of the module")
    if "grads" not in obs:
        raise CheckFailed("the module's output to require grad (its parameters do)",
                          f"an output with requires_grad={obs['output'].get('requires_grad')}",
                          "Return the result of the computation from forward; LinearFunction.apply connects it.",
                          cause="graph_cut")
    h = torch.tanh(_linear(x, layers[0]["w"], layers[0]["b"]))
    no_bias = _linear(torch.tanh(_linear(x, layers[0]["w"], None)), layers[1]["w"], None)
    expect_close(obs["output"], _linear(h, layers[1]["w"], layers[1]["b"]), "the module's output", dtype="float32",
                 device=ctx.device, hint=FORWARD_HINT,
                 mistakes={"no_bias": (no_bias, "The bias is left out: forward must add bias to input @ weight.T.")})
    expected = _mlp_expected(x, layers, g, frozen)
    run = (f" (with layer {', '.join(str(i + 1) for i in frozen)}'s weight frozen, requires_grad=False: there "
           "ctx.needs_input_grad is (True, False, True))") if frozen else ""
    for i, (seen, exp) in enumerate(zip(obs["grads"], expected, strict=True)):
        for key, name in (("w", "weight"), ("b", "bias")):
            if key not in exp:
                continue
            what = f"layer {i + 1}'s {name}.grad after loss.backward(){run}"
            if seen[key]["type"] == "None":
                raise CheckFailed(what, "None",
                                  f"backward returned None for `{name}`: it must return its gradient whenever "
                                  "ctx.needs_input_grad says it is needed"
                                  + (": check each input's own flag, ctx.needs_input_grad[0] for input, [1] for "
                                     "weight, [2] for bias." if frozen else "."), cause="grad_none")
            mistakes = {"mean": (exp[key] / x.shape[0], "grad_bias is the sum over the batch, not the mean: "
                                                        "grad_output.sum(0).")} if key == "b" else {}
            expect_close(seen[key], exp[key], what, dtype="float32", device=ctx.device, hint=BACKWARD_HINT,
                         mistakes=mistakes)
