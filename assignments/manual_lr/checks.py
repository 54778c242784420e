"""Judge side of manual_lr: expectations come from formulas and from autograd, computed here in float64."""

from __future__ import annotations

from typing import Any

import torch

from grader.check import CheckFailed, Context, check
from grader.compare import describe_observation, expect_close, require_tensor

TITLE = "Logistic regression without autograd: forward, hand-written backward, optimize"
ALIASES = {"LR": ["LogisticRegression", "Lr"]}

#: Mutants of the reference that no check can tell apart from it, with why (``grader validate --mutants``).
_DEVICE = ("the device only matters on CUDA: on a CPU-only machine the tensor lands on the CPU either way (on a GPU, "
           "initial_state kills it, and a declared mutant that loses points is only noted)")
_DTYPE = "float32 is torch's default dtype, which the statement assumes: leaving dtype=torch.float32 out is the same"
_NO_GRAPH = "nothing in manual_lr requires grad (no autograd by design), so .detach() returns the same values"
EQUIVALENT_MUTANTS = {
    "manual_lr:__init__:drop_kwarg_device@L15": _DEVICE,
    "manual_lr:__init__:drop_kwarg_dtype@L15": _DTYPE,
    "manual_lr:__init__:drop_kwarg_device@L16": _DEVICE,
    "manual_lr:__init__:drop_kwarg_dtype@L16": _DTYPE,
    "manual_lr:__init__:drop_kwarg_device@L18": _DEVICE,
    "manual_lr:__init__:drop_kwarg_dtype@L18": _DTYPE,
    "manual_lr:__init__:drop_kwarg_device@L19": _DEVICE,
    "manual_lr:__init__:drop_kwarg_dtype@L19": _DTYPE,
    "manual_lr:__init__:drop_to@L21": _DEVICE,
    "manual_lr:__init__:drop_kwarg_device@L21": _DEVICE,
    "manual_lr:forward:detach@L27": _NO_GRAPH,
    "manual_lr:forward:detach@L27#2": _NO_GRAPH,
    "manual_lr:optimize:detach@L48": _NO_GRAPH,
    "manual_lr:optimize:detach@L48#2": _NO_GRAPH,
    "manual_lr:optimize:detach@L49": _NO_GRAPH,
    "manual_lr:optimize:detach@L49#2": _NO_GRAPH,
}

DIM, M = 3, 8
AUTOGRAD_HINT = (
    "backward must compute the gradients by hand with the formulas dw = (1/m) x (yhat - y)^T and "
    "db = (1/m) sum(yhat - y): no loss.backward(), torch.autograd.grad or requires_grad."
)


def _scalar(obs: Any, what: str) -> torch.Tensor:
    """A one-value tensor as a 0-d tensor (shape () is asked for; (1,) and (1, 1) are accepted)."""
    t = require_tensor(obs, what, f"{what} should be a tensor holding one value, e.g. torch.scalar_tensor(0.0).")
    if t.numel() != 1:
        raise CheckFailed(f"{what} to be a scalar (one value)", f"shape {tuple(t.shape)}",
                          "Sum over the samples so that a single number remains (torch.sum(...)).", cause="not_scalar")
    return t.reshape(())


def _scalar_obs(obs: dict[str, Any], what: str) -> dict[str, Any]:
    return {**obs, "tensor": _scalar(obs, what), "shape": []}


@check(points=1, hint="Define class LR(nn.Module) with __init__(self, dim, lr=...), as in the course notes.")
def builds(ctx: Context) -> None:
    """LR(dim) can be built."""
    ctx.probe("initial_state", dim=DIM)


def _form(obs: dict[str, Any]) -> tuple[str, str, str] | None:
    """(expected, found, hint) when the student's names or w's layout differ from the assignment's, else None.

    The other checks judge the LR under the student's own names and layout (the probes find each attribute by
    its role), so this is the one place where a consistent difference of form costs points.
    """
    layout, shapes = obs["layout"], obs["shapes"]
    renamed = [(role, layout[role]) for role in ("w", "b", "grads", "lr") if layout[role] != role]
    rekeyed = [(role, layout[role]) for role in ("dw", "db") if layout[role] != role]
    if not renamed and not rekeyed and not layout["transposed"]:
        return None
    told = []
    if renamed:
        asked = " and ".join(f"`{role}`" for role, _ in renamed)
        defined = " and ".join(f"`{name}`" for _, name in renamed)
        told.append(f"The assignment asks for {asked}; your LR defines {defined}.")
    if rekeyed:
        asked = " and ".join(repr(role) for role, _ in rekeyed)
        used = " and ".join(repr(key) for _, key in rekeyed)
        keys = "keys" if len(rekeyed) > 1 else "key"
        told.append(f"The assignment asks for the grads {keys} {asked}; your grads uses {used}.")
    if layout["transposed"]:
        told.append(f"Your `{layout['w']}` is a row, shape (1, dim); the assignment stores w as a column, "
                    "torch.zeros(dim, 1), and computes w.T @ x.")
    told.append("Use the assignment's names and shapes: the course's code and tests use them. (The other checks "
                "judged your LR under your names and in your layout, so this is the only check that costs you "
                "points for it.)")

    def form(names: dict[str, str], w_shape: list[int], dw_shape: list[int]) -> str:
        return (f"self.{names['w']} {tuple(w_shape)}, self.{names['b']}, self.{names['grads']}[{names['dw']!r}] "
                f"{tuple(dw_shape)}, self.{names['grads']}[{names['db']!r}], self.{names['lr']}")

    column = [DIM, 1]
    as_asked = {role: role for role in ("w", "b", "grads", "lr", "dw", "db")}
    return (form(as_asked, column, column), form(layout, shapes.get("w", column), shapes.get("dw", column)),
            " ".join(told))


@check(points=2, per_device=True, depends=[builds],
       hint="In __init__: w = torch.zeros(dim, 1), b = torch.scalar_tensor(0), grads = {'dw': zeros like w, "
            "'db': scalar 0}, all float32 and created on the module-level `device`.")
def initial_state(ctx: Context) -> None:
    """LR(dim) starts with w = zeros (dim, 1), b = 0, grads {'dw', 'db'} of zeros and lr = 0.01, on the device."""
    obs = ctx.probe("initial_state", dim=DIM)
    form = _form(obs)
    if form is not None:
        expected, found, hint = form
        raise CheckFailed(expected, found, hint, cause="renamed_or_transposed")
    device_hint = ("Create every tensor with device=device (the module-level variable the grader sets), "
                   "not on a hard-coded device.")
    expect_close(obs["w"], torch.zeros(DIM, 1), f"w of LR({DIM})", dtype="float32", device=ctx.device,
                 hint=device_hint)
    expect_close(_scalar_obs(obs["b"], "b"), torch.tensor(0.0), "b", dtype="float32", device=ctx.device)
    if obs["grads_type"] != "dict" or sorted(obs["grads"]) != ["db", "dw"]:
        raise CheckFailed("grads to be a dict with keys 'dw' and 'db'",
                          f"a {obs['grads_type']} with keys {obs['grads_keys']}",
                          "self.grads = {'dw': torch.zeros(dim, 1), 'db': torch.scalar_tensor(0)}",
                          cause="grads_not_dict")
    expect_close(obs["grads"]["dw"], torch.zeros(DIM, 1), "grads['dw']", dtype="float32", device=ctx.device)
    expect_close(_scalar_obs(obs["grads"]["db"], "grads['db']"), torch.tensor(0.0), "grads['db']",
                 device=ctx.device)
    lr = obs["lr"]
    if lr.get("type") in ("float", "int"):  # a plain number works on every device: accepted
        if abs(lr["number"] - 0.01) > 1e-9:
            raise CheckFailed("self.lr == 0.01 (the default learning rate)", f"self.lr == {lr['number']!r}",
                              "Keep the learning rate argument: self.lr = lr.", cause="lr_not_stored")
        return
    expect_close(_scalar_obs(lr, "self.lr"), torch.tensor(0.01), "self.lr (the default learning rate)",
                 device=ctx.device, hint="Keep the learning rate argument: self.lr = lr (moved to device).")


def _logistic_case(ctx: Context, m: int = M) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w = ctx.randn(DIM, 1).float().double()
    b = (ctx.randn(()) + 0.75).float().double()  # well away from zero, so a forgotten bias shows
    x = ctx.randn(DIM, m).float().double()
    return w, b, x


@check(points=2, per_device=True, depends=[builds],
       hint="forward(x) = sigmoid(w.T @ x + b), with x of shape (dim, m) and a result of shape (1, m).")
def forward(ctx: Context) -> None:
    """forward(x) returns sigmoid(w.T @ x + b), of shape (1, m), for non-zero w and b."""
    w, b, x = _logistic_case(ctx)
    obs = ctx.probe("forward", dim=DIM, w=w, b=b, x=x)
    z = w.T @ x + b
    expect_close(
        obs, torch.sigmoid(z), "forward(x)", dtype="float32", device=ctx.device,
        mistakes={
            "no_bias": (torch.sigmoid(w.T @ x), "The bias is left out: forward must compute sigmoid(w.T @ x + b)."),
            "no_sigmoid": (z, "The sigmoid is missing: forward returns w.T @ x + b, not probabilities."),
            "sign": (torch.sigmoid(-z), "The sign is flipped: sigmoid(z) = 1 / (1 + exp(-z))."),
        },
    )


@check(hidden=True, points=1, per_device=True, depends=[builds],
       hint="Write sigmoid(z) = 1 / (1 + torch.exp(-z)); exp(z) / (1 + exp(z)) overflows to inf/inf = NaN.")
def sigmoid_stable(ctx: Context) -> None:
    """sigmoid(z) is right and stays finite for |z| up to 1000."""
    z = torch.tensor([[-1000.0, -100.0, -20.0, -1.0, 0.0, 0.5, 20.0, 100.0, 1000.0]], dtype=torch.float64)
    obs = ctx.probe("sigmoid", z=z)
    expect_close(obs, torch.sigmoid(z), "sigmoid(z) for z = [-1000, -100, -20, -1, 0, 0.5, 20, 100, 1000]",
                 device=ctx.device)


def _backward_case(ctx: Context) -> dict[str, torch.Tensor]:
    """w, b, x, yhat = forward(x), y and autograd's gradients (dw, db) of the mean binary cross-entropy."""
    w, b, x = _logistic_case(ctx)
    y = (torch.rand(1, M, generator=ctx.generator) > 0.5).double()
    w.requires_grad_(True)
    b.requires_grad_(True)
    yhat = torch.sigmoid(w.T @ x + b)
    loss = torch.nn.functional.binary_cross_entropy(yhat, y)
    dw, db = torch.autograd.grad(loss, [w, b])
    return {"w": w.detach(), "b": b.detach(), "x": x, "yhat": yhat.detach().float().double(), "y": y, "dw": dw,
            "db": db}


def _judge_backward(ctx: Context, obs: dict[str, Any], case: dict[str, torch.Tensor]) -> None:
    if obs["grads_type"] != "dict":
        raise CheckFailed("self.grads to be a dict after backward", f"a {obs['grads_type']}",
                          "Store the results in the dict: self.grads['dw'] = ..., self.grads['db'] = ...",
                          cause="grads_not_dict")
    x, yhat, y = case["x"], case["yhat"], case["y"]
    squared = (yhat - y) * yhat * (1 - yhat)  # dL/dz of the mean squared error through the sigmoid
    squared_hint = ("This is the gradient of the squared error, (yhat - y) * yhat * (1 - yhat): for the binary "
                    "cross-entropy the sigmoid's derivative cancels, and dz = yhat - y.")
    expect_close(obs["dw"], case["dw"], "grads['dw'] after backward(x, yhat, y)", device=ctx.device, batch=M,
                 features=DIM, hint="dw = (1/m) * x @ (yhat - y).T, of shape (dim, 1).",
                 mistakes={"squared_error": (x @ squared.T / M, squared_hint)})
    expect_close(_scalar_obs(obs["db"], "grads['db']"), case["db"], "grads['db'] after backward(x, yhat, y)",
                 device=ctx.device, batch=M, features=DIM, hint="db = (1/m) * sum(yhat - y), a scalar.",
                 mistakes={"squared_error": (squared.sum() / M, squared_hint)})


@check(points=2, per_device=True, depends=[builds], hint=AUTOGRAD_HINT)
def backward(ctx: Context) -> None:
    """backward(x, yhat, y) stores autograd's gradient of the mean binary cross-entropy in grads['dw'], grads['db']."""
    case = _backward_case(ctx)
    obs = ctx.probe("backward", dim=DIM, w=case["w"], b=case["b"], x=case["x"], yhat=case["yhat"], y=case["y"],
                    autograd_off=False)
    _judge_backward(ctx, obs, case)


@check(points=1, per_device=True, depends=[builds], hint=AUTOGRAD_HINT)
def backward_without_autograd(ctx: Context) -> None:
    """backward works with autograd switched off (under torch.no_grad()) and never calls autograd.

    Judged on its own, whatever the backward check found: a hand-written backward with a wrong formula is still
    hand-written. It passes when, under torch.no_grad(), it gives the right gradients or the same gradients it
    gives with autograd on (their values are the backward check's business).
    """
    case = _backward_case(ctx)
    inputs = {k: case[k] for k in ("w", "b", "x", "yhat", "y")}
    obs = ctx.probe("backward", dim=DIM, **inputs, autograd_off=True)
    if obs["autograd"]:
        raise CheckFailed("a hand-written backward that does not call autograd",
                          f"calls to {', '.join(sorted(set(obs['autograd'])))}", AUTOGRAD_HINT, cause="autograd_used")
    try:
        _judge_backward(ctx, obs, case)
        return
    except CheckFailed as wrong:
        differs = wrong
    with_autograd = ctx.probe("backward", dim=DIM, **inputs, autograd_off=False)
    if with_autograd["grads_type"] != "dict":
        raise differs
    if not all(_same_tensor(obs[role], with_autograd[role]) for role in ("dw", "db")):
        raise CheckFailed("the same gradients with autograd switched off as with it on",
                          f"different ones; with autograd off: {differs.found}", AUTOGRAD_HINT,
                          summary=differs.summary, cause="differs_without_autograd")


def _same_tensor(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two observations hold tensors of one shape and the same values (NaN matching NaN)."""
    if not (isinstance(a.get("tensor"), torch.Tensor) and isinstance(b.get("tensor"), torch.Tensor)):
        return False
    x, y = a["tensor"].double(), b["tensor"].double()
    return x.shape == y.shape and torch.allclose(x, y, rtol=1e-5, atol=1e-7, equal_nan=True)


@check(points=1, per_device=True, depends=[builds],
       hint="optimize() must do one gradient-descent step: self.w = self.w - self.lr * self.grads['dw'], "
            "and the same for b with grads['db'].")
def optimize(ctx: Context) -> None:
    """optimize() takes one step: w - lr * dw and b - lr * db."""
    w, b, _ = _logistic_case(ctx)
    dw, db, lr = ctx.randn(DIM, 1).float().double(), ctx.randn(()).float().double(), 0.1
    obs = ctx.probe("optimize", dim=DIM, w=w, b=b, dw=dw, db=db, lr=lr)
    lr32 = torch.tensor(lr, dtype=torch.float32).double()
    expect_close(
        obs["w"], w - lr32 * dw, "w after optimize()", dtype="float32", device=ctx.device,
        mistakes={
            "ascent": (w + lr32 * dw, "w moved uphill: subtract the gradient (w - lr * dw), do not add it."),
            "no_lr": (w - dw, "The learning rate is missing: w - lr * dw."),
            "unchanged": (w, "w did not change: assign the result back, self.w = self.w - self.lr * ..."),
        },
    )
    expect_close(
        _scalar_obs(obs["b"], "b"), b - lr32 * db, "b after optimize()", device=ctx.device,
        mistakes={
            "ascent": (b + lr32 * db, "b moved uphill: subtract the gradient (b - lr * db)."),
            "unchanged": (b, "b did not change: optimize must update b too, and assign the result back: "
                                "self.b = self.b - self.lr * self.grads['db']."),
        },
    )


def _separable(ctx: Context, m: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes split by a random plane, with a margin, as x (dim, m) and y (1, m)."""
    direction = ctx.randn(DIM, 1)
    direction /= direction.norm()
    x = ctx.randn(DIM, m)
    side = (direction.T @ x).squeeze(0)
    x = x + direction * (0.5 * torch.sign(side))  # push every point 0.5 away from the plane
    y = (side > 0).double().unsqueeze(0)
    return x.float().double(), y


@check(hidden=True, points=2, per_device=True, depends=[builds],
       hint="Training repeats forward, backward and optimize; when they fail on their own, fix them first. If each "
            "passes on its own, look for state that is not updated between steps (e.g. optimize using stale "
            "gradients).")
def learns(ctx: Context) -> None:
    """Training with forward / backward / optimize separates a linearly separable data set (>= 95% accuracy).

    Runs whatever the other checks found: it judges what training does, not how each step is written.
    """
    x, y = _separable(ctx)
    obs = ctx.probe("train", x=x, y=y, lr=0.5, epochs=300)
    w = require_tensor(obs["w"], "w after training")
    if w.numel() != DIM:
        raise CheckFailed(f"w of shape ({DIM}, 1) after training", f"shape {tuple(w.shape)}",
                          "w changed shape during training: a gradient whose shape is not w's broadcasts in "
                          "w - lr * dw ((dim, 1) - (1, dim) is a (dim, dim) matrix). grads['dw'] must have w's shape.",
                          cause="w_shape_changed")
    w = w.double().reshape(DIM, 1)
    b = _scalar(obs["b"], "b after training").double()
    accuracy = float(((w.T @ x + b > 0).double() == y).double().mean())
    if not accuracy >= 0.95:
        raise CheckFailed(
            "at least 95% training accuracy after 300 steps with lr = 0.5 on separable data",
            f"{accuracy:.1%} (final w = {describe_observation(obs['w'])}, b = {float(b):.4g})",
        )
