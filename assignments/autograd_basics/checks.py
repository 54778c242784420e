"""Judge side of autograd_basics: Q = 3a^3 - b^2 and its vector-Jacobian product, expected values computed here."""

from __future__ import annotations

from typing import Any

import torch

from grader.check import CheckFailed, Context, check
from grader.compare import describe_observation, expect_close, require_tensor, show
from grader.session import StudentRaised

TITLE = "Autograd basics: Q = 3a^3 - b^2 and Q.backward(gradient=external_grad)"
ALIASES: dict[str, list[str]] = {
    "q_function": ["Q_function", "qfunction", "q_func"],
    "q_gradients": ["Q_gradients", "q_gradient", "q_grads"],
}

#: Mutants of the reference that no check can tell from it, and why (``grader validate --mutants``).
EQUIVALENT_MUTANTS = {
    "autograd_basics:q_gradients:drop_clone@L19": "a.detach() is already a new leaf: requires_grad_ on it and "
                                                  "backward leave the caller's tensor unchanged (only storage is "
                                                  "shared, and nothing writes to it)",
    "autograd_basics:q_gradients:drop_clone@L20": "b.detach() is already a new leaf: requires_grad_ on it and "
                                                  "backward leave the caller's tensor unchanged (only storage is "
                                                  "shared, and nothing writes to it)",
}

COURSE_A, COURSE_B, COURSE_G = [2.0, 3.0], [6.0, 4.0], [1.0, 1.0]
SHAPES = ((5,), (3, 4), (2, 3, 2))

Q_HINT = "Q = 3 * a**3 - b**2, with torch operations on a and b (no .item(), numpy, torch.tensor(...) or .detach())."
COPY_HINT = (
    "Work on leaf copies inside q_gradients: a = a.detach().clone().requires_grad_(True) (the same for b), "
    "then Q = q_function(a, b); Q.backward(gradient=external_grad); return a.grad, b.grad."
)
IGNORED_G = (
    "external_grad is not used: pass gradient=external_grad to Q.backward() (a vector-Jacobian product), "
    "do not call Q.sum().backward() or Q.backward(torch.ones_like(Q))."
)
TWICE_G = ("external_grad is applied twice: Q.backward(gradient=external_grad) already multiplies by it; "
           "do not also multiply Q or the gradients by external_grad.")
A_SQUARED = "These are the gradients of 3a^2, not 3a^3: Q must use a**3 (dQ/da = 9a^2)."
NONE_GRAD = (
    "is None: backward never reached that tensor. .grad is only filled on a leaf tensor that requires grad: "
    "make the copy with a.detach().clone().requires_grad_(True) (requires_grad_ last, not before .clone() or "
    ".to()), call Q.backward(gradient=external_grad), then read .grad of that copy."
)


#: Plain-words hints for torch errors that student code commonly runs into here (text in the message -> hint).
ERROR_HINTS = (
    ("does not require grad and does not have a grad_fn",
     "Q is not connected to a and b in the autograd graph, so backward has nothing to differentiate. Build Q "
     "from a and b with torch operations (no torch.tensor(...), .item(), numpy, .detach() or .data), outside "
     "torch.no_grad() (under it autograd records nothing), and make the copies require grad before computing Q: "
     "a = a.detach().clone().requires_grad_(True)."),
    ("grad can be implicitly created only for scalar outputs",
     "Q is a vector, so Q.backward() needs to know how to weight its entries: call "
     "Q.backward(gradient=external_grad) (that is the vector-Jacobian product the exercise asks for)."),
    ("can only change requires_grad flags of leaf variables", COPY_HINT),
    ("leaf Variable that requires grad is being used in an in-place operation", COPY_HINT),
    ("Mismatch in shape", "external_grad must have the shape of Q: pass it unchanged as Q.backward(gradient=...)."),
    ("bitwise_xor", "In Python `^` is a bitwise xor, not a power: write a**3 and b**2."),
    ("backward through the graph a second time",
     "backward() frees the graph it went through, so a second Q.backward() (or torch.autograd.grad) on the same Q "
     "fails. One Q.backward(gradient=external_grad) fills both a.grad and b.grad: call it once, on a Q built in "
     "this call from fresh leaf copies. " + COPY_HINT),
)


def _probe(ctx: Context, name: str, **args: Any) -> dict[str, Any]:
    """``ctx.probe``, with a plain-words hint added to the torch errors listed in ERROR_HINTS."""
    try:
        return dict(ctx.probe(name, **args))
    except StudentRaised as raised:
        message = str(raised.info.get("message", ""))
        hint = next((hint for text, hint in ERROR_HINTS if text in message), None)
        if hint and not raised.info.get("hint"):
            raise raised.with_hint(hint) from None
        raise


def _exact(a: torch.Tensor, b: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return 9 * a**2 * g, -2 * b * g


def _known_results(a: torch.Tensor, b: torch.Tensor, g: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The right gradients and those of recognisable mistakes, as (a_grad, b_grad)."""
    da, db = _exact(a, b, g)
    return {
        "right": (da, db),
        "ignores_g": (9 * a**2, -2 * b),
        "g_twice": (da * g, db * g),
        "a_squared": (6 * a * g, db),
    }


def _cast(t: torch.Tensor, dtype: str) -> torch.Tensor:
    """The judge's float64 value as the student sees it in ``dtype``, back in float64."""
    return t.to(getattr(torch, dtype)).double()


def _q_mistakes(a: torch.Tensor, b: torch.Tensor) -> dict[str, tuple[torch.Tensor, str]]:
    return {
        "a_squared": (3 * a**2 - b**2, "You computed 3a^2 - b^2: the power of a is 3 (3 * a**3)."),
        "plus": (3 * a**3 + b**2, "The sign of b^2 is wrong: Q = 3a^3 - b^2."),
        "no_three": (a**3 - b**2, "The factor 3 is missing: Q = 3 * a**3 - b**2."),
        "cubed_3a": ((3 * a) ** 3 - b**2, "(3*a)**3 is 27a^3: write 3 * a**3 (** binds tighter than *)."),
    }


@check(points=2, per_device=True, hint=Q_HINT)
def q_function_values(ctx: Context) -> None:
    """q_function(a, b) returns 3a^3 - b^2: the course example and random 1-D to 3-D inputs, float64 and float32."""
    cases = [(torch.tensor(COURSE_A, dtype=torch.float64), torch.tensor(COURSE_B, dtype=torch.float64))]
    cases += [(ctx.randn(*shape), ctx.randn(*shape)) for shape in SHAPES]
    for dtype in ("float64", "float32"):
        for a, b in cases:
            obs = _probe(ctx, "q_function", a=a, b=b, dtype=dtype, requires_grad=False)
            a_, b_ = _cast(a, dtype), _cast(b, dtype)
            what = f"q_function(a, b) for {dtype} a, b of shape {tuple(a.shape)}"
            expect_close(obs["output"], 3 * a_**3 - b_**2, what, dtype=dtype, device=ctx.device,
                         mistakes=_q_mistakes(a_, b_), hint=Q_HINT)


@check(points=1, per_device=True, hint=Q_HINT)
def q_function_differentiable(ctx: Context) -> None:
    """q_function(a, b) is differentiable: with inputs that require grad, Q has a grad_fn and d(sum Q) = 9a^2, -2b."""
    a, b = ctx.randn(3, 2), ctx.randn(3, 2)
    obs = _probe(ctx, "q_function", a=a, b=b, dtype="float64", requires_grad=True)
    out = obs["output"]
    require_tensor(out, "q_function(a, b)", "Return the tensor Q = 3 * a**3 - b**2.")
    if not out["requires_grad"] or out["grad_fn"] is None:
        raise CheckFailed(
            "Q to be part of the autograd graph (requires_grad=True and a grad_fn) when a and b require grad",
            f"a tensor with requires_grad={out['requires_grad']} and grad_fn={out['grad_fn']}",
            "Q was cut from the graph: build it with torch operations on a and b themselves, not from .item(), "
            ".tolist(), numpy, torch.tensor(...), .detach() or .data, and not under torch.no_grad().",
            cause="graph_cut",
        )
    grads = obs["grads"]
    mistakes = {
        "a": {"a_squared": (6 * a, "6a is the derivative of 3a^2: Q must use a**3 (dQ/da = 9a^2).")},
        "b": {"plus": (2 * b, "+2b is the derivative of +b^2: Q = 3a^3 - b^2 subtracts b^2.")},
    }
    for name, expected, formula in (("a", 9 * a**2, "9a^2"), ("b", -2 * b, "-2b")):
        if grads[name]["type"] == "None":
            raise CheckFailed(f"Q to depend on {name} through autograd (d(sum Q)/d{name} = {formula})",
                              f"no gradient reaches {name}",
                              f"Use {name} itself in Q (not a copy made with .detach(), .data or "
                              f"torch.tensor({name})).", cause="graph_cut")
        expect_close(grads[name], expected, f"the gradient of Q.sum() with respect to {name} ({formula})",
                     dtype="float64", device=ctx.device, mistakes=mistakes[name], hint=Q_HINT)


def _pair(obs: dict[str, Any], call: int = 0) -> list[dict[str, Any]]:
    """The two observed gradients of a q_gradients call, or a failure saying what came back instead."""
    got = obs["calls"][call]
    if not got["pair"]:
        what = describe_observation(got["what"])
        if got["length"] is not None:
            what = f"a {got['what']['type']} of {got['length']} values"
        raise CheckFailed("q_gradients to return a pair (a_grad, b_grad)", what,
                          "End q_gradients with `return a.grad, b.grad` (a tuple of two tensors).", cause="not_a_pair")
    return list(got["items"])


def _judge_gradients(ctx: Context, obs: dict[str, Any], a: torch.Tensor, b: torch.Tensor, g: torch.Tensor,
                     dtype: str, what: str, call: int = 0) -> None:
    """Compare one call's (a_grad, b_grad) with the exact values, naming recognisable mistakes."""
    items = _pair(obs, call)
    a_, b_, g_ = _cast(a, dtype), _cast(b, dtype), _cast(g, dtype)
    known = _known_results(a_, b_, g_)
    uniform = bool((g_ == 1).all())
    for i, name in enumerate(("a", "b")):
        if items[i]["type"] == "None":
            raise CheckFailed(f"the gradient for {name} (a tensor)", "None", f"{name}.grad {NONE_GRAD}",
                              cause="grad_none")
        mistakes: dict[str, tuple[torch.Tensor, str]] = {}
        if not uniform:
            mistakes["ignores_g"] = (known["ignores_g"][i], IGNORED_G)
            mistakes["g_twice"] = (known["g_twice"][i], TWICE_G)
        if name == "a":
            mistakes["a_squared"] = (known["a_squared"][0], A_SQUARED)
        expect_close(items[i], known["right"][i], f"{name}_grad {what}", dtype=dtype, device=ctx.device,
                     mistakes=mistakes, hint=COPY_HINT)


@check(points=1, per_device=True, hint=COPY_HINT)
def course_example(ctx: Context) -> None:
    """Course example: q_gradients(a=[2., 3.], b=[6., 4.], external_grad=[1., 1.]) gives [36., 81.], [-12., -8.]."""
    a, b, g = (torch.tensor(v, dtype=torch.float64) for v in (COURSE_A, COURSE_B, COURSE_G))
    obs = _probe(ctx, "q_gradients", a=a, b=b, g=g, dtype="float32")
    _judge_gradients(ctx, obs, a, b, g, "float32", "for the course example")


@check(hidden=True, points=1, per_device=True, hint=COPY_HINT)
def random_shapes(ctx: Context) -> None:
    """q_gradients works for 1-D, 2-D and 3-D a, b (external_grad of ones), in float64 and float32."""
    for dtype in ("float64", "float32"):
        for shape in SHAPES:
            a, b, g = ctx.randn(*shape), ctx.randn(*shape), torch.ones(shape, dtype=torch.float64)
            obs = _probe(ctx, "q_gradients", a=a, b=b, g=g, dtype=dtype)
            _judge_gradients(ctx, obs, a, b, g, dtype, f"for {dtype} inputs of shape {shape}")


@check(points=2, per_device=True, hint=IGNORED_G)
def external_gradient_used(ctx: Context) -> None:
    """With a non-uniform external_grad g, q_gradients returns autograd's vector-Jacobian product 9a^2*g, -2b*g."""
    a, b = ctx.randn(3, 4), ctx.randn(3, 4)
    g = ctx.randn(3, 4)
    g[0, 0] = -abs(float(g[0, 0])) - 0.5  # at least one clearly negative weight
    g[1, 1] = abs(float(g[1, 1])) + 1.5  # and one clearly away from 1
    obs = _probe(ctx, "q_gradients", a=a, b=b, g=g, dtype="float64")
    _judge_gradients(ctx, obs, a, b, g, "float64", "for a random external_grad of shape (3, 4)")
    if not obs["backward_ran"]:
        raise CheckFailed(
            "the gradients to be computed by autograd (Q.backward(gradient=external_grad) or torch.autograd.grad)",
            "no backward pass ran while q_gradients was called: the formulas were written by hand",
            "The exercise is about autograd: build Q from leaf copies that require grad and call "
            "Q.backward(gradient=external_grad); do not write 9 * a**2 * external_grad yourself.",
            cause="no_autograd",
        )


def _match(items: list[dict[str, Any]], known: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> str | None:
    """Which judge-computed result (the right one or a known mistake) a call returned, if any."""
    tensors = [i.get("tensor") for i in items]
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    for name, (da, db) in known.items():
        pairs = zip((da, db), tensors, strict=True)
        if all(t.shape == e.shape and torch.allclose(t.double(), e, rtol=1e-6, atol=1e-9) for e, t in pairs):
            return name
    return None


@check(points=1, per_device=True, hint=COPY_HINT)
def no_accumulation(ctx: Context) -> None:
    """Calling q_gradients twice with the same tensors returns the same gradients (nothing accumulates)."""
    a, b = ctx.randn(4), ctx.randn(4)
    g = torch.ones(4, dtype=torch.float64)
    obs = _probe(ctx, "q_gradients", a=a, b=b, g=g, dtype="float64", repeat=2)
    known = _known_results(a, b, g)
    first, second = _pair(obs, 0), _pair(obs, 1)
    which = _match(first, known)
    if which is None:
        # the first call is wrong in a way the judge cannot reproduce: judge it against the right values
        _judge_gradients(ctx, obs, a, b, g, "float64", "(first call)")
        return
    expected = known[which]
    if _match(second, {which: expected}):
        return
    if _match(second, {"doubled": (2 * expected[0], 2 * expected[1])}):
        raise CheckFailed(
            "the second call q_gradients(a, b, g) to return the same gradients as the first",
            "twice the first result: " + show(require_tensor(second[0], "a_grad")) + " after "
            + show(expected[0]) + " for a",
            "The gradients accumulated: .grad of a tensor that lives between calls (a module-level tensor, or the "
            "caller's a and b after a.requires_grad_()) keeps adding up, because backward() adds to .grad. "
            + COPY_HINT,
            cause="accumulated",
        )
    for i, name in enumerate(("a", "b")):
        expect_close(second[i], expected[i], f"{name}_grad on the second call with the same a, b, external_grad",
                     dtype="float64", device=ctx.device, hint=COPY_HINT)


def _judge_caller(obs: dict[str, Any], a: torch.Tensor, b: torch.Tensor, g: torch.Tensor, requires_grad: bool) -> None:
    flag = "requires_grad=True" if requires_grad else "requires_grad=False"
    caller = obs["caller"]
    for name, value in (("a", a), ("b", b), ("external_grad", g)):
        seen = caller["g" if name == "external_grad" else name]
        found = require_tensor(seen, f"the caller's {name}")
        if found.shape != value.shape or not torch.equal(found.double(), value):
            raise CheckFailed(f"the caller's {name} to keep its values {show(value)}", show(found),
                              f"q_gradients changed {name} in place (an operation ending in _, `{name} *= ...` or "
                              f"{name}.data = ...): compute on copies. " + COPY_HINT, cause="input_modified")
        wants = requires_grad and name != "external_grad"
        if seen["requires_grad"] != wants:
            raise CheckFailed(
                f"the caller's {name} to keep requires_grad={wants}",
                f"requires_grad={seen['requires_grad']} after q_gradients(a, b, external_grad)",
                f"q_gradients switched on requires_grad of the caller's own tensor ({name}.requires_grad_() or "
                f"{name}.requires_grad = True): that changes the caller's data, and the next call accumulates into "
                f"its .grad. Make a copy instead: {name} = {name}.detach().clone().requires_grad_(True).",
                cause="input_requires_grad_changed",
            )
    for name in ("a", "b"):
        grad = caller[f"{name}_grad"]
        if grad["type"] != "None":
            raise CheckFailed(
                f"the caller's {name}.grad to stay None (for a caller's tensor with {flag})",
                f"{name}.grad = {describe_observation(grad)}",
                "Q.backward() wrote into the caller's own tensor: the copy is still connected to it (a.clone() "
                "without .detach(), a.requires_grad_() on the argument, or the argument used directly). "
                + COPY_HINT,
                cause="input_grad_written",
            )
    for i, name in enumerate(("a_grad", "b_grad")):
        call = obs["calls"][0]
        if call["pair"] and call["caller_tensor"][i]:
            raise CheckFailed(f"{name} to be a new tensor", "the caller's own input tensor was returned", COPY_HINT,
                              cause="input_returned")


@check(hidden=True, points=1, per_device=True, hint=COPY_HINT)
def caller_untouched(ctx: Context) -> None:
    """q_gradients leaves the caller's a, b and external_grad as they were: values, requires_grad and .grad (None)."""
    for requires_grad in (False, True):
        a, b, g = ctx.randn(2, 3), ctx.randn(2, 3), ctx.randn(2, 3)
        obs = _probe(ctx, "q_gradients", a=a, b=b, g=g, dtype="float64", caller_requires_grad=requires_grad)
        _judge_caller(obs, a, b, g, requires_grad)
