"""Judge side of my_sgd: the judge's own SGD, in float64, and the verdicts on the student's trajectories.

The expected trajectories come from :func:`simulate`, a float64 transcription of ``torch.optim.SGD``
(dampening 0, no Nesterov), which ``tests/test_zoo_my_sgd.py`` keeps equal to ``torch.optim.SGD`` itself
for every problem these checks pose. Computing them here rather than with ``torch.optim.SGD`` spares the
judge the second or so that building a ``torch.optim`` optimizer first costs (it imports torch._dynamo).
The same function, given the name of a known mistake, computes what that mistake produces, so that a
failure can say which hyper-parameter is handled wrongly and how.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.check import CheckFailed, Context, check
from grader.compare import describe_observation, expect_close, require_tensor
from grader.session import StudentRaised

TITLE = "MySGD: SGD with momentum and weight decay as a torch.optim.Optimizer"
ALIASES = {"MySGD": ["MySgd", "MySGDOptimizer", "SGD", "MyOptimizer"]}

#: Mutants of the reference that no check can tell from it, and why (``grader validate --mutants``).
_VALIDATION = ("the statement asks for torch.optim.SGD's steps, not for its argument validation: rejecting a "
               "negative (or zero) lr, momentum or weight_decay is the reference's courtesy")
EQUIVALENT_MUTANTS = {
    "my_sgd:__init__:remove_if@L11": _VALIDATION,
    "my_sgd:__init__:remove_raise@L12": _VALIDATION,
    "my_sgd:__init__:lt_to_lte@L11": _VALIDATION,
    "my_sgd:__init__:swap_with_next@L11": _VALIDATION + "; the order only matters when two arguments are invalid",
    "my_sgd:__init__:remove_if@L13": _VALIDATION,
    "my_sgd:__init__:remove_raise@L14": _VALIDATION,
    "my_sgd:__init__:swap_with_next@L13": _VALIDATION + "; the order only matters when two arguments are invalid",
    "my_sgd:__init__:remove_if@L15": _VALIDATION,
    "my_sgd:__init__:remove_raise@L16": _VALIDATION,
    "my_sgd:step:drop_detach@L41": "step runs under no_grad and p.grad carries no graph (no create_graph=True in "
                                   "the statement), so clone(d_p) is already detached",
}

STEPS = 20
SHAPES = ((4,), (2, 3))
DEFAULTS = {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0}

NO_GRAD_HINT = (
    "step() changes the parameters in place while autograd is recording: decorate it with @torch.no_grad() "
    "(as torch.optim.SGD does) or make the updates inside `with torch.no_grad():`."
)
SAME_DEVICE_HINT = (
    "A tensor of yours is on another device than the parameters: create the momentum buffer from the gradient "
    "or the parameter (torch.clone(d_p).detach(), torch.zeros_like(p)); torch.zeros(p.shape) is always on the CPU."
)
SHAPE_HINT = (
    "Shapes of different parameters got mixed: keep one momentum buffer per parameter, in "
    "self.state[p]['momentum_buffer'], not one buffer (or one variable) shared by all parameters."
)
IN_PLACE = (
    "update each parameter in place under torch.no_grad(): p.add_(d_p, alpha=-lr) or p -= lr * d_p "
    "(`p = p - lr * d_p` only rebinds the loop variable and leaves the parameter as it was)"
)
PLAIN_HINT = (
    "Without momentum and weight decay, step() does p -= lr * p.grad for every parameter of every group, "
    "with lr = group['lr']: " + IN_PLACE + "."
)
WEIGHT_DECAY_HINT = (
    "weight_decay is applied wrongly: SGD adds weight_decay * p to the gradient before anything else, "
    "d_p = p.grad + weight_decay * p, then p -= lr * d_p."
)
MOMENTUM_HINT = (
    "momentum is applied wrongly: keep a buffer per parameter in self.state[p]['momentum_buffer']; at the first "
    "step buf = d_p (a copy), then buf = momentum * buf + d_p (no dampening, no Nesterov); then p -= lr * buf."
)
GROUPS_HINT = (
    "Each parameter group has its own hyper-parameters: loop `for group in self.param_groups:` and read "
    "group['lr'], group['momentum'] and group['weight_decay'] inside that loop, for that group's parameters "
    "(not self.defaults, attributes such as self.lr, or the constructor's arguments)."
)
SKIP_HINT = (
    "A parameter whose .grad is None (the loss does not use it) must be skipped entirely, neither decayed nor "
    "moved: `if p.grad is None: continue` at the top of the loop over a group's parameters."
)
STATE_HINT = (
    "Keep the momentum buffers in self.state[p]['momentum_buffer'] (self.state is the optimizer's per-parameter "
    "state): optimizer.state_dict() saves self.state and load_state_dict() restores it. A dict or list of your "
    "own (self.buffers, keyed by id(p), ...) is neither saved nor restored."
)
GROUPS_RAISED_HINT = (
    "MySGD was given parameter groups, a list of dicts such as [{'params': [p0]}, {'params': [p1, p2], 'lr': 0.1}], "
    "and failed on them. torch.optim.Optimizer's __init__ turns them into self.param_groups: call "
    "super().__init__(params, defaults) rather than keeping your own list of parameters, and loop "
    "`for group in self.param_groups: for p in group['params']:` in step()."
)
LR_CHANGE_HINT = (
    "Read the learning rate from group['lr'] at every step: learning-rate schedulers change it between steps."
)
CLOSURE_HINT = (
    "step(closure) must call closure() once, under torch.enable_grad() (step itself runs under torch.no_grad(), "
    "so the closure could not compute gradients otherwise), update with the gradients it computed, and return its "
    "loss: `loss = None; if closure is not None: with torch.enable_grad(): loss = closure()` ... `return loss`."
)
PRECISION_HINT = (
    "The values agree with SGD only to float32 precision (about 7 digits, where float64 keeps 15): part of the "
    "computation runs in float32. Create buffers with the parameter's dtype and device (torch.clone(d_p), "
    "torch.zeros_like(p)), not torch.zeros(p.shape)."
)

#: Mistakes of the update itself, that every trajectory shows: named in every trajectory check's verdict.
PLAIN_MISTAKES = ("unchanged", "ascent", "no_lr")
#: Mistakes of weight decay, and of momentum: named in the verdicts on the runs that use them, so that a check
#: about something else (skipping, state_dict, a changed lr) says what really made its run differ. Not in
#: param_groups': a group whose own weight_decay is ignored looks like "wd_ignored" there, and is a groups mistake.
WD_MISTAKES = ("wd_ignored", "wd_sign", "wd_twice", "wd_no_lr")
MOMENTUM_MISTAKES = ("no_momentum", "dampening_zero", "dampening", "nesterov")

#: Known mistakes: what each hint says. :func:`simulate` computes what each one produces.
MISTAKES = {
    "unchanged": "The parameters never change: " + IN_PLACE + ".",
    "ascent": "The parameters move uphill: subtract the step, p -= lr * d_p (or p.add_(d_p, alpha=-lr)).",
    "no_lr": "The learning rate is missing: p -= lr * d_p, with lr = group['lr'].",
    "wd_ignored": "weight_decay is ignored: SGD adds weight_decay * p to the gradient, d_p = p.grad + "
    "weight_decay * p, before the momentum and the lr.",
    "wd_sign": "weight_decay has the wrong sign: d_p = p.grad + weight_decay * p (it pulls the weights towards "
    "zero, so it is added to the gradient).",
    "wd_twice": "weight_decay is doubled: SGD adds weight_decay * p to the gradient, not 2 * weight_decay * p "
    "(the weight_decay of torch.optim is the coefficient in the gradient, not in the loss).",
    "wd_no_lr": "weight_decay is not scaled by the learning rate: p -= weight_decay * p shrinks the weights "
    "directly. SGD adds weight_decay * p to the gradient, d_p = p.grad + weight_decay * p, then p -= lr * d_p.",
    "no_momentum": "momentum has no effect: the buffer is not kept between steps or not used. Store it in "
    "self.state[p]['momentum_buffer'], update it with buf = momentum * buf + d_p and step with p -= lr * buf.",
    "dampening_zero": "momentum is dampened: buf = momentum * buf + (1 - momentum) * d_p, from a zero buffer, is "
    "an exponential average. SGD's buffer is buf = momentum * buf + d_p, starting from buf = d_p.",
    "dampening": "momentum is dampened: buf = momentum * buf + (1 - momentum) * d_p is an exponential average. "
    "SGD's buffer is buf = momentum * buf + d_p (dampening 0).",
    "nesterov": "This is Nesterov momentum (d_p + momentum * buf): SGD with nesterov=False steps with the "
    "buffer itself, p -= lr * buf.",
    "wd_after_momentum": "weight_decay is applied after the momentum: SGD adds weight_decay * p to the gradient "
    "first, d_p = p.grad + weight_decay * p, and the momentum buffer accumulates that d_p.",
    "defaults_everywhere": "Every group used the optimizer's default hyper-parameters: read group['lr'], "
    "group['momentum'] and group['weight_decay'] from each group, not self.defaults, self.lr or the "
    "constructor's arguments.",
    "first_group_only": "Only the first parameter group was updated: loop over all of self.param_groups.",
    "last_group_settings": "Every group used the last group's hyper-parameters: read group['lr'], "
    "group['momentum'] and group['weight_decay'] inside the loop over the groups, next to their parameters.",
    "none_as_zero": "A parameter without gradient moved: a missing gradient was treated as zero, so weight "
    "decay or momentum still moved it. Skip it entirely: `if p.grad is None: continue`.",
    "state_lost": "After load_state_dict() the momentum started over: the buffers were not in the state_dict. "
    + STATE_HINT,
    "lr_fixed": "A change of group['lr'] between steps had no effect: the learning rate was read once (in "
    "__init__, self.lr or self.defaults). " + LR_CHANGE_HINT,
    "lr_in_buffer": "The learning rate is inside the momentum buffer (buf = momentum * buf + lr * d_p, "
    "p -= buf): that equals SGD only while lr never changes. SGD keeps lr out of the buffer: "
    "buf = momentum * buf + d_p, then p -= lr * buf.",
}


class Problem:
    """A deterministic run: initial values, each step's gradients, how MySGD is built, what changes on the way.

    (A plain class: grader.assignment imports checks.py without registering it in sys.modules, which
    @dataclass needs when annotations are strings.)
    """

    def __init__(self, init: list[torch.Tensor], grads: list[list[torch.Tensor | None]], kwargs: dict[str, float],
                 words: str, groups: list[dict[str, Any]] | None = None, lrs: list[list[float] | None] | None = None,
                 resume_at: int | None = None) -> None:
        """``words`` says what the run is, for messages; ``lrs[t]`` sets each group's lr before step t."""
        self.init, self.grads, self.kwargs, self.words = init, grads, kwargs, words
        self.groups, self.lrs, self.resume_at = groups, lrs, resume_at

    def args(self) -> dict[str, Any]:
        """The probe's arguments."""
        return {"init": self.init, "grads": self.grads, "kwargs": self.kwargs, "groups": self.groups,
                "lrs": self.lrs, "resume_at": self.resume_at}


def _settings(problem: Problem, mistake: str | None) -> list[tuple[list[int], dict[str, float]]]:
    defaults = {**DEFAULTS, **problem.kwargs}
    if problem.groups is None:
        return [(list(range(len(problem.init))), dict(defaults))]
    groups = [(list(g["params"]), {**defaults, **{k: v for k, v in g.items() if k != "params"}})
              for g in problem.groups]
    if mistake == "defaults_everywhere":
        return [(indices, dict(defaults)) for indices, _ in groups]
    if mistake == "last_group_settings":
        return [(indices, dict(groups[-1][1])) for indices, _ in groups]
    return groups


def _update(p: torch.Tensor, g: torch.Tensor, buf: torch.Tensor | None, h: dict[str, float],
            mistake: str | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One parameter's step, as torch.optim.SGD does it (``mistake=None``) or as a known mistake does it."""
    lr, momentum, wd = h["lr"], h["momentum"], h["weight_decay"]
    if mistake == "unchanged":
        return p, buf
    decay = {"wd_sign": -wd, "wd_twice": 2 * wd, "wd_ignored": 0.0, "wd_after_momentum": 0.0, "wd_no_lr": 0.0}
    d_p = g + decay.get(mistake or "", wd) * p
    if momentum != 0 and mistake != "no_momentum":
        if mistake == "dampening_zero":
            buf = (torch.zeros_like(p) if buf is None else buf) * momentum + (1 - momentum) * d_p
        elif mistake == "dampening":
            buf = d_p.clone() if buf is None else buf * momentum + (1 - momentum) * d_p
        elif mistake == "lr_in_buffer":
            buf = lr * d_p if buf is None else buf * momentum + lr * d_p
            return p - buf, buf
        else:
            buf = d_p.clone() if buf is None else buf * momentum + d_p
        d_p = d_p + momentum * buf if mistake == "nesterov" else buf
    if mistake == "wd_after_momentum":
        d_p = d_p + wd * p
    if mistake == "wd_no_lr":
        return p - lr * d_p - wd * p, buf
    if mistake == "ascent":
        return p + lr * d_p, buf
    if mistake == "no_lr":
        return p - d_p, buf
    return p - lr * d_p, buf


def simulate(problem: Problem, mistake: str | None = None) -> list[torch.Tensor]:
    """Each parameter's values after each step, shape ``(steps, *shape)``, in float64.

    ``mistake=None`` is torch.optim.SGD; a key of :data:`MISTAKES` is what that mistake produces.
    """
    settings = _settings(problem, mistake)
    params = [v.double().clone() for v in problem.init]
    bufs: list[torch.Tensor | None] = [None] * len(params)
    seen: list[list[torch.Tensor]] = [[] for _ in params]
    for t, step_grads in enumerate(problem.grads):
        new_lrs = problem.lrs[t] if problem.lrs is not None else None
        if new_lrs is not None and mistake != "lr_fixed":
            for (_, h), lr in zip(settings, new_lrs, strict=True):
                h["lr"] = lr
        if problem.resume_at == t and mistake == "state_lost":
            bufs = [None] * len(params)
        for number, (indices, h) in enumerate(settings):
            if mistake == "first_group_only" and number > 0:
                continue
            for i in indices:
                g = step_grads[i]
                if g is None and mistake != "none_as_zero":
                    continue
                grad = torch.zeros_like(params[i]) if g is None else g.double()
                params[i], bufs[i] = _update(params[i], grad, bufs[i], h, mistake)
        for i, p in enumerate(params):
            seen[i].append(p.clone())
    return [torch.stack(s) for s in seen]


def _problem(ctx: Context, kwargs: dict[str, float], words: str, *, shapes: tuple[tuple[int, ...], ...] = SHAPES,
             missing: dict[int, Any] | None = None, **extra: Any) -> Problem:
    """Random initial values and gradients from the check's seed; ``missing[i](t)`` True: no gradient at step t."""
    init = [ctx.randn(*shape) for shape in shapes]
    grads: list[list[torch.Tensor | None]] = []
    for t in range(STEPS):
        row: list[torch.Tensor | None] = []
        for i, shape in enumerate(shapes):
            g = ctx.randn(*shape)
            row.append(None if missing and i in missing and missing[i](t) else g)
        grads.append(row)
    return Problem(init=init, grads=grads, kwargs=kwargs, words=words, **extra)


def _probe(ctx: Context, name: str, **args: Any) -> Any:
    """``ctx.probe``, adding a hint to exceptions whose cause is clear in this assignment."""
    try:
        return ctx.probe(name, **args)
    except StudentRaised as raised:
        message = str(raised.info.get("message", ""))
        known = (
            ("a leaf Variable that requires grad is being used in an in-place operation", NO_GRAD_HINT),
            ("Expected all tensors to be on the same device", SAME_DEVICE_HINT),
            ("must match the size of tensor", SHAPE_HINT),
            ("does not require grad and does not have a grad_fn",
             "The closure ran with gradients switched off (step runs under @torch.no_grad()), so its "
             "loss.backward() failed: call it as `with torch.enable_grad(): loss = closure()`."),
        )
        for words, hint in known:
            if words in message and not raised.info.get("hint"):
                raised.info["hint"] = hint
        raise


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-7, atol: float = 1e-9) -> bool:
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def _cannot_run(obs: dict[str, Any], problem: Problem) -> None:
    """Say in words why the run could not be made: what it needs from an Optimizer that this MySGD lacks."""
    if obs["cannot"] == "param_groups":
        found = ("MySGD has no param_groups attribute" if obs["type"] == "NoneType"
                 else f"MySGD's param_groups is a {obs['type']}, not a list of dicts")
        needs = ("passes MySGD parameter groups (a list of dicts, each with its own hyper-parameters)"
                 if problem.groups is not None else
                 "changes group['lr'] in optimizer.param_groups between steps, as learning-rate schedulers do")
        raise CheckFailed(
            f"optimizer.param_groups, a list of dicts, for the run {problem.words}", found,
            f"This run {needs}, which needs the param_groups that torch.optim.Optimizer builds: write "
            "`class MySGD(torch.optim.Optimizer)`, call super().__init__(params, defaults) instead of keeping "
            "your own list of parameters, and loop `for group in self.param_groups:` in step().",
            summary="This check could not run: it needs the optimizer's param_groups.",
            cause="no_param_groups",
        )
    raise CheckFailed(
        f"optimizer.state_dict() and load_state_dict() of torch.optim.Optimizer, for the run {problem.words}",
        ("a MySGD that is a torch.optim.Optimizer but never ran its __init__ (no param_groups, no state)"
         if obs.get("is_optimizer") else f"a {obs['type']} that is not a torch.optim.Optimizer"),
        "state_dict() and load_state_dict() come from torch.optim.Optimizer and save self.param_groups and "
        "self.state: write `class MySGD(torch.optim.Optimizer)`, call super().__init__(params, defaults), and "
        "keep the momentum buffers in self.state[p]['momentum_buffer'].",
        summary="This check could not run: it needs the optimizer's state_dict().",
        cause="no_optimizer_state",
    )


def run_and_judge(ctx: Context, problem: Problem, mistakes: tuple[str, ...], hint: str) -> None:
    """Run ``problem`` in the sandbox and compare every parameter after every step with torch.optim.SGD's.

    On a difference, the whole trajectory is compared with each known mistake's, and the message shows
    the first parameter and step that differ.
    """
    obs = _probe(ctx, "trajectory", **problem.args())
    if isinstance(obs, dict) and "cannot" in obs:
        _cannot_run(obs, problem)
    expected = simulate(problem)
    params = obs.get("params") if isinstance(obs, dict) else None
    if not isinstance(params, list) or len(params) != len(expected):
        raise CheckFailed(f"{len(expected)} parameter trajectories", repr(obs)[:200], "Tell your course staff.")
    found = []
    for i, (o, e) in enumerate(zip(params, expected, strict=True)):
        what = f"parameter {i} (shape {tuple(e.shape[1:])})"
        t = require_tensor(o, what)
        if o["dtype"] != "float64" or o["device"].split(":")[0] != ctx.device:
            # expect_close says what is wrong with the dtype or the device, on the first step
            expect_close({**o, "tensor": t[0], "shape": list(t.shape[1:])}, e[0], f"{what} after step 1",
                         dtype="float64", device=ctx.device)
        if tuple(t.shape) != tuple(e.shape):
            raise CheckFailed(f"{what} to keep its shape {tuple(e.shape[1:])}",
                              f"shape {tuple(t.shape[1:])}", "Update the parameters in place; do not reshape them.",
                              cause="wrong_shape")
        found.append(t.double())
    if all(_close(f, e) for f, e in zip(found, expected, strict=True)):
        return
    identified, cause = None, None  # the recognised mistake's hint and name
    for name in mistakes:
        wrong = simulate(problem, name)
        if all(_close(f, w, 1e-5, 1e-7) for f, w in zip(found, wrong, strict=True)):
            identified, cause = MISTAKES[name], name
            break
    if identified is None and all(_close(f, e, 1e-4, 1e-5) for f, e in zip(found, expected, strict=True)):
        identified, cause = PRECISION_HINT, "precision"
    i = next(i for i, (f, e) in enumerate(zip(found, expected, strict=True)) if not _close(f, e))
    step = next(s for s in range(STEPS) if not _close(found[i][s], expected[i][s]))
    at_step = {**params[i], "tensor": found[i][step], "shape": list(found[i].shape[1:])}
    what = f"parameter {i} after step {step + 1} of {STEPS} ({problem.words})"
    # a recognised mistake: hand expect_close the found values as that mistake, so that it reports
    # expected and found in full and gives the mistake's hint
    expect_close(at_step, expected[i][step], what, dtype="float64", device=ctx.device,
                 mistakes={cause or "identified": (found[i][step], identified)} if identified else None, hint=hint)
    raise CheckFailed(f"the same values as torch.optim.SGD for {what}", "other values", hint)  # not reached


# ---- construction ----

def _number(obs: Any) -> float | None:
    if isinstance(obs, dict) and "number" in obs:
        return float(obs["number"])
    if isinstance(obs, dict) and isinstance(obs.get("tensor"), torch.Tensor) and obs["tensor"].numel() == 1:
        return float(obs["tensor"].item())
    return None


def _check_group(obs: dict[str, Any], values: dict[str, float], call: str, hint: str) -> None:
    """``param_groups`` is one dict holding both parameters and the hyper-parameters ``values``."""
    groups = obs["param_groups"]
    if groups is None:
        raise CheckFailed(f"{call} to have a list param_groups", f"param_groups is a {obs['param_groups_type']}",
                          "Call super().__init__(params, defaults) with defaults = dict(lr=lr, momentum=momentum, "
                          "weight_decay=weight_decay): torch.optim.Optimizer builds param_groups.",
                          cause="no_super_init")
    if len(groups) != 1 or groups[0].get("type") != "dict":
        raise CheckFailed(f"{call} to have one parameter group", f"{len(groups)} groups: {groups}",
                          "Pass the parameters on to super().__init__(params, defaults) as they came.")
    group = groups[0]
    if group["params"] != [0, 1]:
        raise CheckFailed(f"param_groups[0]['params'] of {call} to hold the two parameters given",
                          f"{group['params']}", "Pass the parameters on to super().__init__(params, defaults).")
    missing = [k for k in values if k not in group["values"]]
    if missing:
        raise CheckFailed(
            f"param_groups[0] of {call} to hold " + ", ".join(f"'{k}'" for k in values),
            f"a group with the keys {group['keys']}",
            "Build defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay) and pass it to "
            "super().__init__(params, defaults): with exactly these names, each group carries its own "
            "hyper-parameters, and state_dict() and learning-rate schedulers find them.",
            cause="defaults_missing",
        )
    for key, value in values.items():
        number = _number(group["values"][key])
        if number is None or abs(number - value) > 1e-12 * max(1.0, abs(value)):
            raise CheckFailed(f"param_groups[0]['{key}'] == {value!r} for {call}",
                              describe_observation(group["values"][key]), hint)


@check(points=1, hint="Write class MySGD(torch.optim.Optimizer) and call super().__init__(params, defaults).")
def builds(ctx: Context) -> None:
    """MySGD(params, lr=..., momentum=..., weight_decay=...) is a torch.optim.Optimizer holding them in param_groups."""
    values = {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01}
    obs = _probe(ctx, "construct", kwargs=values)
    if not obs["is_optimizer"]:
        raise CheckFailed("MySGD to be a subclass of torch.optim.Optimizer",
                          f"a class whose bases are {obs['bases']}",
                          "Write `class MySGD(torch.optim.Optimizer):` and call super().__init__(params, defaults): "
                          "the base class gives param_groups, state, zero_grad(), state_dict() and load_state_dict().",
                          cause="not_an_optimizer")
    if not obs.get("initialised", True) and obs["param_groups"] is None:
        raise CheckFailed("MySGD to be initialised through super().__init__(params, defaults)",
                          "a torch.optim.Optimizer subclass without param_groups or state: its __init__ never "
                          "calls super().__init__",
                          "Call super().__init__(params, defaults) with defaults = dict(lr=lr, momentum=momentum, "
                          "weight_decay=weight_decay) instead of keeping your own list of parameters: "
                          "torch.optim.Optimizer builds param_groups and state, which zero_grad(), state_dict(), "
                          "load_state_dict() and learning-rate schedulers use.",
                          cause="no_super_init")
    _check_group(obs, values, "MySGD([p0, p1], lr=0.05, momentum=0.8, weight_decay=0.01)",
                 "Put the constructor's arguments in defaults: "
                 "dict(lr=lr, momentum=momentum, weight_decay=weight_decay).")


DEFAULTS_HINT = ("The defaults are those of the signature __init__(self, params, lr=1e-3, momentum=0.0, "
                 "weight_decay=0.0).")


@check(points=1, hint="Use the signature __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0).")
def defaults(ctx: Context) -> None:
    """MySGD(params) has the default hyper-parameters lr=1e-3, momentum=0, weight_decay=0.

    Each value is read from param_groups[0] where it is there, else from the default of __init__'s argument
    of that name: a hyper-parameter missing from param_groups is charged once, by ``builds``.
    """
    obs = _probe(ctx, "construct", kwargs={})
    groups = obs["param_groups"]
    group = groups[0] if groups and groups[0].get("type") == "dict" else None
    in_group = group["values"] if group else {}
    signature = obs.get("signature", {})
    for key, value in DEFAULTS.items():
        where = f"param_groups[0]['{key}'] of MySGD([p0, p1])" if key in in_group else f"the default of {key}"
        found = in_group.get(key, signature.get(key))
        if found is None:
            raise CheckFailed(f"MySGD's default {key} to be {value!r}",
                              f"{key} is neither in param_groups[0] nor an argument of __init__ with a default",
                              DEFAULTS_HINT, cause="defaults_wrong")
        number = _number(found)
        if number is None or abs(number - value) > 1e-12 * max(1.0, abs(value)):
            raise CheckFailed(f"{where} == {value!r}", describe_observation(found), DEFAULTS_HINT,
                              cause="defaults_wrong")


# ---- trajectories ----

@check(points=1, per_device=True, hint=PLAIN_HINT)
def plain_sgd(ctx: Context) -> None:
    """With lr only, 20 steps follow torch.optim.SGD(params, lr=0.1): p -= lr * grad."""
    problem = _problem(ctx, {"lr": 0.1}, "lr=0.1")
    run_and_judge(ctx, problem, PLAIN_MISTAKES, PLAIN_HINT)


@check(points=1, per_device=True, hint=WEIGHT_DECAY_HINT)
def weight_decay(ctx: Context) -> None:
    """With weight_decay, 20 steps follow torch.optim.SGD(params, lr=0.1, weight_decay=0.1)."""
    problem = _problem(ctx, {"lr": 0.1, "weight_decay": 0.1}, "lr=0.1, weight_decay=0.1")
    run_and_judge(ctx, problem, (*WD_MISTAKES, *PLAIN_MISTAKES),
                  WEIGHT_DECAY_HINT)


@check(points=2, per_device=True, hint=MOMENTUM_HINT)
def momentum(ctx: Context) -> None:
    """With momentum, 20 steps follow torch.optim.SGD(params, lr=0.05, momentum=0.9)."""
    problem = _problem(ctx, {"lr": 0.05, "momentum": 0.9}, "lr=0.05, momentum=0.9")
    run_and_judge(ctx, problem, (*MOMENTUM_MISTAKES, *PLAIN_MISTAKES),
                  MOMENTUM_HINT)


@check(points=1, per_device=True,
       hint="weight_decay and momentum combine wrongly: d_p = p.grad + weight_decay * p first, then "
            "buf = momentum * buf + d_p, then p -= lr * buf.")
def momentum_weight_decay(ctx: Context) -> None:
    """With momentum and weight_decay, 20 steps follow SGD(params, lr=0.05, momentum=0.9, weight_decay=0.1)."""
    problem = _problem(ctx, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1},
                       "lr=0.05, momentum=0.9, weight_decay=0.1")
    run_and_judge(ctx, problem, ("wd_after_momentum", *WD_MISTAKES, *MOMENTUM_MISTAKES, *PLAIN_MISTAKES),
                  "weight_decay and momentum combine wrongly: d_p = p.grad + weight_decay * p first, then "
                  "buf = momentum * buf + d_p, then p -= lr * buf.")


@check(points=1, per_device=True, hint=GROUPS_HINT)
def param_groups(ctx: Context) -> None:
    """Two parameter groups, each with its own lr, momentum and weight_decay, each follow their own SGD.

    The second group's momentum is 1.0 (a valid value: the buffer sums every gradient): a step that tests
    `momentum != 1` instead of `!= 0` skips its buffer.
    """
    groups = [{"params": [0]}, {"params": [1, 2], "lr": 0.1, "momentum": 1.0, "weight_decay": 0.1}]
    problem = _problem(ctx, {"lr": 0.02, "momentum": 0.5}, "MySGD([{'params': [p0]}, {'params': [p1, p2], "
                       "'lr': 0.1, 'momentum': 1.0, 'weight_decay': 0.1}], lr=0.02, momentum=0.5)",
                       shapes=((4,), (2, 3), (3,)), groups=groups)
    try:
        run_and_judge(ctx, problem, ("defaults_everywhere", "first_group_only", "last_group_settings",
                                     *PLAIN_MISTAKES), GROUPS_HINT)
    except StudentRaised as raised:
        if raised.info.get("hint"):
            raise
        raise raised.with_hint(GROUPS_RAISED_HINT) from None


@check(hidden=True, points=1, per_device=True, hint=SKIP_HINT)
def skips_params_without_grad(ctx: Context) -> None:
    """Parameters whose .grad is None are left alone (one never has a gradient, one only every other step).

    The weight decay is 1.0 here (a valid value): a step that tests `weight_decay != 1` instead of `!= 0`
    skips it.
    """
    problem = _problem(ctx, {"lr": 0.1, "weight_decay": 1.0},
                       "lr=0.1, weight_decay=1.0; parameter 1 never has a gradient, parameter 2 only at odd steps",
                       shapes=((4,), (2, 3), (3,)), missing={1: lambda t: True, 2: lambda t: t % 2 == 1})
    run_and_judge(ctx, problem, ("none_as_zero", *WD_MISTAKES, *PLAIN_MISTAKES), SKIP_HINT)


@check(points=1, per_device=True, hint=STATE_HINT)
def state_dict_round_trip(ctx: Context) -> None:
    """Saving state_dict() after 10 steps and loading it into a new MySGD continues the same trajectory."""
    problem = _problem(ctx, {"lr": 0.05, "momentum": 0.9},
                       "lr=0.05, momentum=0.9; after step 10 the optimizer is saved with torch.save(state_dict()) "
                       "and loaded into a new MySGD", resume_at=10)
    run_and_judge(ctx, problem, ("state_lost", *MOMENTUM_MISTAKES, *PLAIN_MISTAKES), STATE_HINT)


@check(points=1, per_device=True, hint=LR_CHANGE_HINT)
def lr_change(ctx: Context) -> None:
    """A change of group['lr'] between steps (what a scheduler does) takes effect, with momentum."""
    lrs: list[list[float] | None] = [None] * STEPS
    lrs[7], lrs[14] = [0.02], [0.005]
    problem = _problem(ctx, {"lr": 0.05, "momentum": 0.9},
                       "lr=0.05, momentum=0.9; group['lr'] set to 0.02 before step 8 and 0.005 before step 15",
                       lrs=lrs)
    run_and_judge(ctx, problem, ("lr_fixed", "lr_in_buffer", *MOMENTUM_MISTAKES, *PLAIN_MISTAKES),
                  LR_CHANGE_HINT)


@check(hidden=True, points=1, hint=CLOSURE_HINT)
def closure(ctx: Context) -> None:
    """step(closure) calls the closure once, steps with the gradient it computed and returns its loss."""
    init, target, lr = ctx.randn(5), ctx.randn(5), 0.1
    obs = _probe(ctx, "closure", init=init, target=target, lr=lr)
    if obs["calls"] != 1:
        raise CheckFailed("step(closure) to call closure() exactly once", f"{obs['calls']} calls", CLOSURE_HINT,
                          cause="closure_calls")
    loss = float(((init - target) ** 2).sum())
    returned = _number(obs["returned"])
    if returned is None or abs(returned - loss) > 1e-9 * max(1.0, abs(loss)):
        raise CheckFailed(f"step(closure) to return the closure's loss, {loss:.6g}",
                          describe_observation(obs["returned"]), CLOSURE_HINT, cause="closure_loss_not_returned")
    expect_close(obs["after"], init - lr * 2 * (init - target), "the parameter after step(closure) with lr=0.1",
                 dtype="float64", hint=CLOSURE_HINT)
