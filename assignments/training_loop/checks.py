"""Judge side of training_loop: the judge replays the training run itself and judges the recorded protocol.

The sandbox runs the student's ``train`` on a small model, loss and ``torch.optim.SGD`` (with momentum, so a
stale gradient changes the trajectory) and records the real order of events: forward passes, backward passes
(with whether ``.grad`` still held an earlier gradient), ``zero_grad`` calls and ``step`` calls (with the state
of the gradient each step used). Here, the judge recomputes the run in float64 with its own autograd and the
SGD update formula, compares the returned losses and the trained parameters, and judges the protocol by its
behaviour rather than its literal order: every ``backward`` must find fresh gradients and every ``step``
must use the gradient of a ``backward`` since the previous step; ``zero_grad`` at the start or at the end of
an iteration are both right. A protocol check passes only when the record is clean *and* the trained
parameters are ones the judge reproduced, so a record alone never earns a point.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from grader.check import CheckFailed, Context, check
from grader.compare import expect_close, tolerance
from grader.session import StudentRaised

TITLE = "The training loop: zero_grad, forward, loss, backward, step; and evaluation in eval mode"
ALIASES = {"train": ["train_model", "train_loop", "training_loop"], "evaluate": ["evaluate_model", "eval_model"]}

#: Mutants of the reference that no check can tell from it, and why (``grader validate --mutants``).
EQUIVALENT_MUTANTS = {
    "training_loop:train:remove_train@L17": "the statement's loop does not set the mode and train is handed a model "
                                            "in training mode: model.train() there is optional",
    "training_loop:train:swap_with_next@L20": "zero_grad() after the forward pass and before backward() still gives "
                                              "every backward() fresh gradients (the forward pass touches no .grad)",
    "training_loop:train:swap_with_next@L24": "recording loss.item() before step() records the same value: the loss "
                                              "was computed before the step",
}

FEATURES, CLASSES, SAMPLES = 4, 3, 24
EPOCHS, LR, MOMENTUM = 5, 0.1, 0.9
EVAL_SAMPLES = 40
#: The model train is tested on: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).
TRAIN_LAYERS: list[list[Any]] = [["linear", FEATURES, 8], ["relu"], ["linear", 8, CLASSES]]
#: A model whose output depends on the mode: BatchNorm and Dropout, as evaluate must handle.
EVAL_LAYERS: list[list[Any]] = [
    ["linear", FEATURES, 16], ["batchnorm", 16], ["relu"], ["dropout", 0.5], ["linear", 16, CLASSES],
]

ZERO_GRAD_HINT = "Call optimizer.zero_grad() each iteration; without it gradients from earlier epochs add up."
ZERO_GRAD_PLACE_HINT = (
    "optimizer.zero_grad() was called, but not between one backward() and the next, so gradients from "
    "earlier epochs add up: call it at the start of every iteration (or right after optimizer.step())."
)
STEP_BEFORE_BACKWARD_HINT = (
    "step() ran before backward(): the first step sees no gradient (and each later one a gradient of the "
    "past). The order is zero_grad(), outputs = model(inputs), loss = criterion(outputs, labels), "
    "loss.backward(), optimizer.step()."
)
ZEROED_BEFORE_STEP_HINT = (
    "zero_grad() between backward() and step() throws the gradient away, so step() has nothing to apply: "
    "call zero_grad() at the start of the iteration (or after step()), never between backward() and step()."
)
NO_STEP_HINT = "Call optimizer.step() after loss.backward() in every epoch: without it the parameters never change."
NO_BACKWARD_HINT = (
    "Call loss.backward() every epoch, on the loss computed from model(inputs) in that epoch (without "
    "torch.no_grad(), .detach() or .item() in between)."
)
ITEM_HINT = (
    "Append loss.item() to the list, not the loss tensor: .item() gives a Python float, while the tensor "
    "keeps its whole autograd graph alive, so memory grows with every epoch."
)
FORWARD_IN_LOOP_HINT = (
    "Compute outputs = model(inputs) and loss = criterion(outputs, labels) inside the loop: backward() frees "
    "the graph of its forward pass, and the parameters change at every step, so each epoch needs its own "
    "forward pass."
)
EVAL_HINT = (
    "Call model.eval() before the forward pass in evaluate: in training mode Dropout zeroes random "
    "activations and BatchNorm normalises with the batch's statistics and updates its running statistics."
)
TRAIN_MODE_HINT = (
    "Do not call model.eval() in train (call model.train() at its start if anything): Dropout and BatchNorm behave "
    "differently in eval mode, so on a network that has them the training would not be the one asked for."
)
NO_GRAD_HINT = (
    "Run evaluate's forward pass under `with torch.no_grad():` (or torch.inference_mode()): evaluation needs "
    "no gradients, and recording the graph costs memory and time. Calling .detach() on the output is too "
    "late: the graph was already recorded."
)
ACCURACY_HINT = (
    "accuracy = (torch.argmax(model(inputs), dim=1) == labels).float().mean().item(): the fraction of samples "
    "whose highest-scoring class is the label."
)

#: Student exceptions whose cause is clear in this assignment: probe -> (words in the message, hint).
RAISED_HINTS = {
    "train": (
        ("backward through the graph a second time", FORWARD_IN_LOOP_HINT),
        ("modified by an inplace operation",
         "The parameters were changed in place (by optimizer.step()) between a forward pass and its backward(): "
         "call loss.backward() before optimizer.step(), and compute outputs and loss inside the loop, once per "
         "epoch."),
        ("does not require grad and does not have a grad_fn", NO_BACKWARD_HINT),
    ),
    "evaluate": (
        ("must match the size of tensor",
         "Compare torch.argmax(outputs, dim=1), one predicted class per sample (shape (m,)), with labels "
         "(shape (m,)): dim=1 is the class dimension of outputs (m, classes)."),
    ),
}


def _probe(ctx: Context, name: str, **args: Any) -> dict[str, Any]:
    """ctx.probe, with this assignment's hint for student exceptions whose cause is recognisable."""
    try:
        return dict(ctx.probe(name, **args))
    except StudentRaised as raised:
        message = str(raised.info.get("message", ""))
        for words, hint in RAISED_HINTS.get(name, ()):
            if words in message:
                raised.info["hint"] = hint
                break
        raise


def _one_thread(func: Callable[[Context], None]) -> Callable[[Context], None]:
    """Run a check's arithmetic on one thread.

    It is tiny, and on a loaded machine waking a second OpenMP thread costs tens of milliseconds per
    operation (measured: 49 ms against 0.04 ms for one cross-entropy gradient), seconds per check.
    """

    @functools.wraps(func)
    def run(ctx: Context) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            func(ctx)
        finally:
            torch.set_num_threads(threads)

    return run


# --------------------------------------------------------------------------------------------------
# The judge's own model arithmetic (float64)
# --------------------------------------------------------------------------------------------------


def _forward(layers: list[list[Any]], state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The model's output in eval mode, computed with functional ops on the judge's values."""
    h = x
    for i, (kind, *_args) in enumerate(layers):
        if kind == "linear":
            h = F.linear(h, state[f"{i}.weight"], state[f"{i}.bias"])
        elif kind == "relu":
            h = torch.relu(h)
        elif kind == "batchnorm":
            h = F.batch_norm(h, state[f"{i}.running_mean"], state[f"{i}.running_var"], state[f"{i}.weight"],
                             state[f"{i}.bias"], training=False, eps=1e-5)
        # dropout is the identity in eval mode
    return h


def _rounded(t: torch.Tensor) -> torch.Tensor:
    """Values a float32 tensor holds exactly, in float64: the student's model sees the same numbers."""
    return t.float().double()


def _state(ctx: Context, layers: list[list[Any]]) -> dict[str, torch.Tensor]:
    """Random values for every entry of the model's state_dict, in the ranges nn.Linear and BatchNorm use."""
    state: dict[str, torch.Tensor] = {}
    for i, (kind, *args) in enumerate(layers):
        if kind == "linear":
            fan_in, fan_out = args
            state[f"{i}.weight"] = _rounded(ctx.randn(fan_out, fan_in) / math.sqrt(fan_in))
            state[f"{i}.bias"] = _rounded(0.3 * ctx.randn(fan_out))
        elif kind == "batchnorm":
            (size,) = args
            state[f"{i}.weight"] = _rounded(1 + 0.2 * ctx.randn(size))
            state[f"{i}.bias"] = _rounded(0.2 * ctx.randn(size))
            state[f"{i}.running_mean"] = _rounded(0.5 + 0.5 * ctx.randn(size))
            spread = torch.rand(size, generator=ctx.generator, dtype=torch.float64)
            state[f"{i}.running_var"] = _rounded(0.25 + 2 * spread)
    return state


def _sent(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state as the probe loads it: float32, plus BatchNorm's batch counter."""
    sent = {name: value.float() for name, value in state.items()}
    for name in list(state):
        if name.endswith(".running_var"):
            sent[name.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return sent


class TrainCase(NamedTuple):
    """One training run the judge asks for: initial parameters, data and the optimizer's settings."""

    state: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor

    def args(self) -> dict[str, Any]:
        """The probe's arguments for this run."""
        return {"layers": TRAIN_LAYERS, "state": _sent(self.state), "inputs": self.x.float(), "labels": self.y,
                "lr": LR, "momentum": MOMENTUM, "epochs": EPOCHS}


class Trajectory(NamedTuple):
    """A run of SGD with momentum: ``params[k]`` after k steps, ``losses[t]`` and ``grads[t]`` of epoch t."""

    params: list[dict[str, torch.Tensor]]
    losses: list[float]
    grads: list[dict[str, torch.Tensor]]


def _train_case(ctx: Context) -> TrainCase:
    state = _state(ctx, TRAIN_LAYERS)
    x = _rounded(ctx.randn(SAMPLES, FEATURES))
    y = torch.randint(0, CLASSES, (SAMPLES,), generator=ctx.generator)
    return TrainCase(state, x, y)


def _trajectory(case: TrainCase, steps: int, accumulate: bool = False) -> Trajectory:
    """``steps`` steps of torch.optim.SGD(lr, momentum), by its formula.

    buf = grad at the first step, then momentum * buf + grad; p = p - lr * buf. With ``accumulate`` the
    gradients are never zeroed: each step uses their running sum.
    """
    params = {k: v.clone() for k, v in case.state.items()}
    run = Trajectory(params=[params], losses=[], grads=[])
    buffers: dict[str, torch.Tensor] | None = None
    total: dict[str, torch.Tensor] | None = None
    for _ in range(steps):
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        loss = F.cross_entropy(_forward(TRAIN_LAYERS, leaves, case.x), case.y)
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values())), strict=True))
        total = grads if total is None else {k: total[k] + grads[k] for k in grads}
        used = total if accumulate else grads
        buffers = {k: g.clone() for k, g in used.items()} if buffers is None else {
            k: MOMENTUM * buffers[k] + used[k] for k in used}
        params = {k: params[k] - LR * buffers[k] for k in params}
        run.params.append(params)
        run.losses.append(float(loss.detach()))
        run.grads.append(grads)
    return run


# --------------------------------------------------------------------------------------------------
# Reading the record of events
# --------------------------------------------------------------------------------------------------


class Protocol:
    """What the record of one train() call shows, judged by behaviour rather than by the literal order.

    (A plain class: the assignment loader does not register checks.py in sys.modules, which @dataclass needs.)
    """

    def __init__(self) -> None:
        self.forwards = self.backwards = self.steps = self.zero_grads = 0
        self.stale_backward: int | None = None  # the first backward (1-based) finding an earlier gradient in .grad
        self.empty_step: tuple[int, bool] | None = None  # first step with no gradient; True if a backward preceded
        self.repeated_step: int | None = None  # first step with no backward since the previous step

    def problem(self) -> tuple[str, str, str] | None:
        """The first protocol mistake, as (what was found, hint, cause), or None."""
        if self.backwards == 0:
            return ("no gradient reached the model's parameters: backward() never ran on the model", NO_BACKWARD_HINT,
                    "no_backward")
        if self.steps == 0:
            return "optimizer.step() was never called", NO_STEP_HINT, "no_step"
        if self.empty_step is not None:
            number, had_backward = self.empty_step
            if had_backward:
                return (f"step() number {number} found no gradient in .grad although backward() had run: "
                        "the gradient was cleared in between", ZEROED_BEFORE_STEP_HINT, "zero_grad_before_step")
            return (f"step() number {number} ran before any backward() of its epoch and found no gradient",
                    STEP_BEFORE_BACKWARD_HINT, "step_before_backward")
        if self.stale_backward is not None:
            return (f"backward() number {self.stale_backward} of {self.backwards} found the parameters' .grad "
                    "still holding an earlier gradient, so the new gradient was added to it",
                    *self.accumulation_hint_and_cause())
        if self.repeated_step is not None:
            return (f"step() number {self.repeated_step} ran without a new backward() since the previous step, "
                    "reusing an old gradient", "Call optimizer.step() once per epoch, right after loss.backward().",
                    "step_without_backward")
        return None

    def accumulation_hint_and_cause(self) -> tuple[str, str]:
        """Gradients that accumulate: zero_grad() never called, or called in the wrong place."""
        if self.zero_grads == 0:
            return ZERO_GRAD_HINT, "missing_zero_grad"
        return ZERO_GRAD_PLACE_HINT, "zero_grad_misplaced"


def _events(obs: dict[str, Any]) -> list[dict[str, Any]]:
    events = obs.get("events")
    if isinstance(events, list) and all(isinstance(e, dict) and isinstance(e.get("event"), str) for e in events):
        return events
    raise CheckFailed("a record of the forward, backward, zero_grad and step calls", "a record that cannot be read",
                      "Do not replace or remove the hooks of the model and the optimizer you are given.",
                      cause="hooks_removed")


def _protocol(obs: dict[str, Any]) -> Protocol:
    p = Protocol()
    backward_since_step = False
    for event in _events(obs):
        kind = event["event"]
        if kind == "forward":
            p.forwards += 1
        elif kind == "zero_grad":
            p.zero_grads += 1
        elif kind == "backward":
            p.backwards += 1
            if event.get("stale") and p.stale_backward is None:
                p.stale_backward = p.backwards
            backward_since_step = True
        elif kind == "step":
            p.steps += 1
            grads = event.get("grads")
            states = set(grads.values()) if isinstance(grads, dict) else set()
            if states <= {"none", "zero"}:
                if p.empty_step is None:
                    p.empty_step = (p.steps, backward_since_step)
            elif not backward_since_step and p.repeated_step is None:
                p.repeated_step = p.steps
            backward_since_step = False
    return p


def _matches(observed: dict[str, Any], expected: dict[str, torch.Tensor], slack: float = 5.0) -> bool:
    """Whether every observed tensor (dtype-aware tolerance, times ``slack``) equals the expected one."""
    for name, want in expected.items():
        obs = observed.get(name)
        if not isinstance(obs, dict) or not isinstance(obs.get("tensor"), torch.Tensor):
            return False
        found = obs["tensor"].double()
        rtol, atol = tolerance(str(obs.get("dtype")))
        if found.shape != want.shape or not torch.allclose(found, want, rtol=slack * rtol, atol=slack * atol):
            return False
    return True


def _reproduced(obs: dict[str, Any], runs: list[Trajectory]) -> bool:
    """Whether the trained parameters are those of one of ``runs`` after 1 to EPOCHS + 1 steps."""
    return any(_matches(obs["parameters"], run.params[k]) for run in runs for k in range(1, EPOCHS + 2))


def _cleared_or(grads: dict[str, Any], fresh: dict[str, torch.Tensor]) -> bool:
    """Whether every final gradient is absent, zero, or exactly one fresh gradient ``fresh``."""
    for name, want in fresh.items():
        obs = grads.get(name)
        if isinstance(obs, dict) and obs.get("type") == "None":
            continue
        if not isinstance(obs, dict) or not isinstance(obs.get("tensor"), torch.Tensor):
            return False
        if not (bool((obs["tensor"] == 0).all()) or _matches({name: obs}, {name: want})):
            return False
    return True


# --------------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------------


def _losses(result: dict[str, Any]) -> list[Any]:
    return [item.get("value") for item in result.get("items", [])]


def _described(item: dict[str, Any]) -> str:
    if item.get("type") == "Tensor":
        shape = item.get("shape")
        kind = "a 0-d torch.Tensor" if shape == [] else f"a torch.Tensor of shape {tuple(shape or [])}"
        value = f" holding {item['value']:.6g}" if isinstance(item.get("value"), float) else ""
        graph = ", requires_grad=True" if item.get("requires_grad") else ""
        return f"{kind}{value} ({item.get('dtype')} on {item.get('device')}{graph})"
    kind = str(item.get("type"))
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    if isinstance(item.get("value"), float):
        return f"{article} {kind} ({item['value']:.6g})"
    return f"{article} {kind}" + (f": {item['repr']}" if item.get("repr") else "")


@check(points=1, hint="Append one loss per epoch to a list and return the list at the end of train.")
@_one_thread
def epochs_count(ctx: Context) -> None:
    """train returns a list with one loss per epoch."""
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    result = obs["result"]
    length = result.get("length")
    expected = f"a list of {EPOCHS} losses for epochs={EPOCHS}"
    if length is None:
        what = result.get("what") or {}
        hint = ("Collect the losses in a list (losses.append(loss.item()) in the loop) and `return losses` at the "
                "end of train.")
        if what.get("type") == "generator":
            hint = "train uses `yield`, so calling it runs nothing until someone iterates. " + hint
        raise CheckFailed(expected, "None" if what.get("type") == "NoneType" else _described(what), hint,
                          cause="no_list_returned")
    if length != EPOCHS:
        steps = _protocol(obs).steps
        if steps == length:
            fewer = "range(1, epochs) runs one time fewer" if length < EPOCHS else (
                "range(epochs + 1) or `while epoch <= epochs` runs one time more")
            hint = f"The loop ran {length} times: `for epoch in range(epochs):` runs exactly `epochs` times ({fewer})."
        else:
            hint = (f"The model took {steps} optimizer steps but {length} losses came back: append exactly one "
                    "loss per epoch, after its backward() and step().")
        raise CheckFailed(expected, f"{length} values", hint,
                          cause="wrong_epoch_count" if steps == length else "one_loss_per_epoch")


@check(points=1, hint=ITEM_HINT)
@_one_thread
def returns_floats(ctx: Context) -> None:
    """train's losses are Python floats (loss.item()), not tensors."""
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    result = obs["result"]
    if result.get("type") not in ("list", "tuple"):
        what = result.get("what")
        found = f"a {result.get('type')}" if what is None else _described(what)
        hint = ("Return a list of floats: [loss.item() for each epoch] (a tensor of losses converts with .tolist())."
                if result.get("type") == "Tensor" else "Return the list of losses at the end of train.")
        raise CheckFailed("a list of Python floats", found, hint, cause="no_list_returned")
    items = result.get("items", [])
    if not items:
        raise CheckFailed("a list of Python floats, one per epoch", "an empty list",
                          "Append loss.item() to the list in every epoch.", cause="empty_list")
    for index, item in enumerate(items):
        if item.get("is_float"):
            continue
        found = f"losses[{index}] is {_described(item)}"
        if item.get("type") == "Tensor":
            hint = ITEM_HINT
        elif item.get("type") in ("int", "bool"):
            hint = "Append the loss value itself, loss.item(), a float."
        else:
            hint = "Append loss.item(): a plain Python float (float(...) converts a NumPy number)."
        raise CheckFailed("every value in the returned list to be a Python float", found, hint,
                          cause="loss_tensor_not_item" if item.get("type") == "Tensor" else "loss_not_float")


RUNNING_TOTAL_HINT = (
    "These are running totals (loss of epoch 1, then the sum of epochs 1 and 2, ...): append each epoch's own "
    "loss, losses.append(loss.item()), not a sum kept across epochs."
)


@check(points=2, per_device=True,
       hint="Record each epoch's loss, computed by criterion(model(inputs), labels) before that epoch's step().")
@_one_thread
def loss_values(ctx: Context) -> None:
    """train's losses equal those of the reference run (same model, data and SGD with momentum).

    A list of the wrong length is judged on the epochs it shares with the asked-for run (the first
    min(len, epochs) values): the count itself is the business of `epochs_count` alone. The losses must also
    come from forward passes in training mode: the model is handed over in training mode, and a train that
    switches it to eval mode (model.eval()) computes other losses on any network with Dropout or BatchNorm.
    """
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    values = _losses(obs["result"])
    if not values:
        what = obs["result"].get("what")
        found = "an empty list" if what is None else _described(what)
        raise CheckFailed(f"a list of {EPOCHS} losses to compare with the reference run's", found,
                          "Return the list of losses, one loss.item() appended per epoch.", cause="no_losses")
    for index, (item, value) in enumerate(zip(obs["result"].get("items", []), values, strict=True)):
        if not isinstance(value, float):
            raise CheckFailed("each returned loss to be a number", f"losses[{index}] is {_described(item)}",
                              ITEM_HINT, cause="loss_not_float")
    shared = min(len(values), EPOCHS)
    ref, acc = _trajectory(case, EPOCHS + 1), _trajectory(case, EPOCHS, accumulate=True)
    expected = torch.tensor(ref.losses[:shared], dtype=torch.float64)
    found = {"tensor": torch.tensor(values[:shared], dtype=torch.float64), "dtype": "float32", "device": "cpu",
             "shape": [shared]}
    what = "the list of losses returned by train"
    if len(values) != EPOCHS:
        what += (f" (its first {shared} of {len(values)} values, the epochs it shares with a run of {EPOCHS}; the "
                 "count is the check epochs_count's business)")
    problem = _protocol(obs).problem()
    expect_close(
        found, expected, what,
        mistakes={
            "accumulated": (torch.tensor(acc.losses[:shared]), ZERO_GRAD_HINT),
            "frozen": (torch.full((shared,), ref.losses[0]),
                       "The loss never changes, so the parameters never changed. "
                       + (problem[1] if problem else "Does step() see the gradient of backward()?")),
            "after_step": (torch.tensor(ref.losses[1:shared + 1]),
                           "These are the losses after each step: record the loss computed in the epoch's own "
                           "forward pass, before optimizer.step()."),
            "running_total": (torch.cumsum(expected, 0), RUNNING_TOTAL_HINT),
        },
        hint=problem[1] if problem else None,
    )
    forwards = [event for event in _events(obs) if event["event"] == "forward"]
    in_eval = [index for index, event in enumerate(forwards, 1) if event.get("model_training") is False]
    if in_eval:
        raise CheckFailed("every forward pass of train to run in training mode (model.training True), as the model "
                          "was handed over", f"forward pass {in_eval[0]} of {len(forwards)} ran in eval mode",
                          TRAIN_MODE_HINT, cause="eval_mode_in_train")


@check(points=2, per_device=True,
       hint="Each epoch: optimizer.zero_grad(), outputs = model(inputs), loss = criterion(outputs, labels), "
            "loss.backward(), optimizer.step().")
@_one_thread
def trained_parameters(ctx: Context) -> None:
    """After train, the model's parameters equal the reference run's (SGD with momentum, `epochs` steps)."""
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    ref, acc = _trajectory(case, EPOCHS + 1), _trajectory(case, EPOCHS, accumulate=True)
    problem = _protocol(obs).problem()
    unchanged = "The parameters did not change. " + (problem[1] if problem else NO_STEP_HINT)
    for name, expected in ref.params[EPOCHS].items():
        mistakes = {
            "unchanged": (ref.params[0][name], unchanged),
            "accumulated": (acc.params[EPOCHS][name], "The parameters match a run where gradients accumulate. "
                            + (problem[1] if problem else ZERO_GRAD_HINT)),
        }
        for k in (EPOCHS - 1, EPOCHS + 1):
            mistakes[f"steps_{k}"] = (
                ref.params[k][name],
                f"The parameters match {k} optimizer steps instead of {EPOCHS}: the loop must run exactly `epochs` "
                "times (for epoch in range(epochs)), with one step() each.")
        expect_close(obs["parameters"].get(name), expected, f"parameter {name} after train(..., epochs={EPOCHS})",
                     dtype="float32", device=ctx.device, mistakes=mistakes, hint=problem[1] if problem else None)


@check(points=1, per_device=True, hint=ZERO_GRAD_HINT)
@_one_thread
def fresh_gradients(ctx: Context) -> None:
    """Every backward() starts from fresh gradients (zero_grad at the start or at the end of the iteration)."""
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    p = _protocol(obs)
    expected = "every loss.backward() to find the parameters' .grad empty or zero (gradients zeroed every epoch)"
    if p.backwards == 0:
        raise CheckFailed(expected, "no gradient reached the model's parameters: backward() never ran on the model",
                          NO_BACKWARD_HINT, cause="no_backward")
    if p.stale_backward is not None:
        found = (f"backward() number {p.stale_backward} of {p.backwards} found .grad still holding an earlier "
                 "gradient, so the new gradient was added to it")
        hint, cause = p.accumulation_hint_and_cause()
        raise CheckFailed(expected, found, hint, cause=cause)
    # The record looks right; the judge confirms it with its own arithmetic: the parameters are those of a correct
    # run, or (a step problem, judged by step_after_backward) unchanged with no accumulated gradient left.
    ref = _trajectory(case, EPOCHS + 1)
    frozen = _matches(obs["parameters"], ref.params[0]) and _cleared_or(obs["grads"], ref.grads[0])
    if not (_reproduced(obs, [ref]) or frozen):
        problem = p.problem()
        raise CheckFailed(expected + ", in a run the grader can reproduce",
                          "fresh-looking gradients, but trained parameters that match no run the grader reproduces",
                          problem[1] if problem else "Fix trained_parameters first.",
                          cause=problem[2] if problem else None)


@check(points=1, per_device=True, hint=STEP_BEFORE_BACKWARD_HINT)
@_one_thread
def step_after_backward(ctx: Context) -> None:
    """Every optimizer.step() uses the gradient of a loss.backward() run since the previous step."""
    case = _train_case(ctx)
    obs = _probe(ctx, "train", **case.args())
    p = _protocol(obs)
    expected = "each optimizer.step() to follow a loss.backward() and to use its gradient"
    if p.steps == 0:
        raise CheckFailed(expected, "optimizer.step() was never called", NO_STEP_HINT, cause="no_step")
    if p.backwards == 0:
        raise CheckFailed(expected, "no gradient reached the model's parameters: backward() never ran on the model",
                          NO_BACKWARD_HINT, cause="no_backward")
    problem = p.problem()
    if problem is not None and (p.empty_step is not None or p.repeated_step is not None):
        raise CheckFailed(expected, problem[0], problem[1], cause=problem[2])
    # Confirmed by the judge's arithmetic: a run with steps after backward (accumulating gradients is the
    # concern of fresh_gradients, so that trajectory counts here too).
    runs = [_trajectory(case, EPOCHS + 1), _trajectory(case, EPOCHS + 1, accumulate=True)]
    if not _reproduced(obs, runs):
        raise CheckFailed(expected + ", in a run the grader can reproduce",
                          "steps after backward, but trained parameters that match no run the grader reproduces",
                          problem[1] if problem else "Fix trained_parameters first.",
                          cause=problem[2] if problem else None)


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------


class EvalCase(NamedTuple):
    """A model, data whose predictions are unambiguous (no near-ties), labels and the expected accuracy."""

    layers: list[list[Any]]
    state: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    correct: int

    @property
    def accuracy(self) -> float:
        """The expected accuracy, a fraction."""
        return self.correct / len(self.y)

    def args(self) -> dict[str, Any]:
        """The probe's arguments for this evaluation."""
        return {"layers": self.layers, "state": _sent(self.state), "inputs": self.x.float(), "labels": self.y}


def _eval_case(ctx: Context, layers: list[list[Any]]) -> EvalCase:
    state = _state(ctx, layers)
    x = _rounded(ctx.randn(4 * EVAL_SAMPLES, FEATURES))
    logits = _forward(layers, state, x)
    top2 = logits.topk(2, dim=1).values
    x = x[(top2[:, 0] - top2[:, 1]) > 1e-3][:EVAL_SAMPLES]  # float32 and float64 agree on every argmax
    predictions = _forward(layers, state, x).argmax(dim=1)
    keep = torch.rand(len(x), generator=ctx.generator) < 0.6
    y = torch.where(keep, predictions, torch.randint(0, CLASSES, (len(x),), generator=ctx.generator))
    correct = int((predictions == y).sum())
    if correct in (0, len(y)):  # an accuracy of 0 or 1 would hide a count or a percentage
        y[0] = (y[0] + 1) % CLASSES if correct else predictions[0]
        correct = int((predictions == y).sum())
    return EvalCase(layers, state, x, y, correct)


def _value(obs: dict[str, Any]) -> float | None:
    value = obs["result"].get("value")
    return value if isinstance(value, float) and math.isfinite(value) else None


def _misreading(value: float, case: EvalCase) -> tuple[str, str] | None:
    """(hint, cause) for a value that is a known misreading of the accuracy, or None."""
    n = len(case.y)
    known = (
        (case.correct, f"You returned the number of correct predictions ({case.correct}); divide by the number of "
                       f"samples ({n}) to get a fraction in [0, 1].", "correct_count"),
        (100 * case.accuracy, "That is a percentage; return a fraction in [0, 1] (do not multiply by 100).",
         "percentage"),
        (1 - case.accuracy, "That is the error rate (1 - accuracy): count the predictions that equal the labels.",
         "error_rate"),
        (0.0, "No prediction matched its label. Often torch.argmax(outputs) without dim=: it returns one index "
         "into the whole flattened output, which is no class; take the argmax over the classes, "
         "torch.argmax(outputs, dim=1), for one prediction per sample. Integer division (//) also gives 0.",
         "zero_accuracy"),
    )
    flat = _flat_argmax_accuracy(case)
    if flat != 0.0:  # the flattened index happens to be a class: that value names the mistake by itself
        known += ((flat, "torch.argmax(outputs) without dim= returns one index into the whole flattened output, "
                   "compared with every label; take the argmax over the classes, torch.argmax(outputs, dim=1), "
                   "for one prediction per sample.", "argmax_without_dim"),)
    for wrong, hint, cause in known:
        if abs(value - wrong) <= 1e-6 * max(1.0, abs(wrong)):
            return hint, cause
    return None


def _flat_argmax_accuracy(case: EvalCase) -> float:
    """What ``(torch.argmax(outputs) == labels).float().mean()`` gives: argmax over the flattened output."""
    flat = int(_forward(case.layers, case.state, case.x).argmax())
    return float((case.y == flat).double().mean())


def _accuracy_mistake(value: float, case: EvalCase) -> str | None:
    """The hint for a value that is a known misreading of the accuracy, or None."""
    found = _misreading(value, case)
    return found[0] if found else None


def _accuracy_cause(value: float, case: EvalCase) -> str | None:
    """The identifier of the misreading :func:`_accuracy_mistake` recognises in ``value``, or None."""
    found = _misreading(value, case)
    return found[1] if found else None


def _forwards(obs: dict[str, Any]) -> list[dict[str, Any]]:
    forwards = [e for e in _events(obs) if e["event"] == "forward"]
    if not forwards:
        raise CheckFailed("evaluate to run the model on the inputs", "no forward pass through the model",
                          "Compute outputs = model(inputs) in evaluate.", cause="no_forward")
    return forwards


@check(points=2, per_device=True, hint=ACCURACY_HINT)
@_one_thread
def evaluate_accuracy(ctx: Context) -> None:
    """evaluate returns the accuracy: the fraction of samples whose argmax over classes is the label."""
    case = _eval_case(ctx, TRAIN_LAYERS)
    obs = _probe(ctx, "evaluate", **case.args())
    value = _value(obs)
    n = len(case.y)
    expected = f"{case.accuracy:.6g} ({case.correct} of {n} predictions right)"
    if value is None:
        raise CheckFailed(expected, _described(obs["result"]),
                          "Return the accuracy as a number: " + ACCURACY_HINT)
    if abs(value - case.accuracy) > 1e-6:
        raise CheckFailed(expected, f"{value:.6g}", _accuracy_mistake(value, case) or ACCURACY_HINT,
                          summary="evaluate(model, inputs, labels) is not the accuracy.",
                          cause=_accuracy_cause(value, case))
    for name, want in case.state.items():
        found = obs["state"].get(name, {})
        if not _matches({name: found}, {name: want}, slack=1.0):
            raise CheckFailed(f"evaluate to leave the model's parameters unchanged ({name})",
                              f"{name} changed", "evaluate only measures the model: no backward(), no step().",
                              cause="evaluate_trains")


@check(points=1, hint="Return accuracy.item() (or float(...)): a Python float, not a tensor.")
@_one_thread
def evaluate_returns_float(ctx: Context) -> None:
    """evaluate returns a Python float, not a tensor."""
    case = _eval_case(ctx, TRAIN_LAYERS)
    obs = _probe(ctx, "evaluate", **case.args())
    result = obs["result"]
    if result.get("is_float"):
        return
    if result.get("type") == "Tensor":
        hint = ("Return accuracy.item(): the signature says float, and a tensor keeps its device (a CUDA tensor "
                "costs a GPU round trip every time it is printed or compared).")
    elif result.get("type") == "int":
        hint = "An int cannot be a fraction: divide the number of correct predictions by the number of samples."
    else:
        hint = "Return a Python float: accuracy.item() or float(accuracy)."
    raise CheckFailed("a Python float", _described(result), hint,
                      cause="accuracy_tensor_not_item" if result.get("type") == "Tensor" else "accuracy_not_float")


@check(hidden=True, points=1, per_device=True, hint=EVAL_HINT)
@_one_thread
def evaluate_eval_mode(ctx: Context) -> None:
    """evaluate runs the model in eval mode (Dropout off, BatchNorm's running statistics used and kept)."""
    case = _eval_case(ctx, EVAL_LAYERS)
    obs = _probe(ctx, "evaluate", **case.args())
    expected = "the model in eval mode (model.eval()) during evaluate's forward pass"
    for event in _forwards(obs):
        layers = event.get("training_layers")
        if layers:
            kinds = {EVAL_LAYERS[int(name)][0] if str(name).isdigit() else "?" for name in layers}
            what = " and ".join(sorted({"batchnorm": "BatchNorm", "dropout": "Dropout"}.get(k, k) for k in kinds))
            raise CheckFailed(expected, f"{what} ran in training mode", EVAL_HINT, cause="missing_eval")
    # Confirmed by the judge: BatchNorm's running statistics are untouched, and the value is the eval-mode one.
    for name, want in case.state.items():
        if "running" in name and not _matches({name: obs["state"].get(name, {})}, {name: want}, slack=1.0):
            raise CheckFailed(expected, f"BatchNorm's {name.split('.')[-1]} changed during evaluate", EVAL_HINT,
                              cause="missing_eval")
    # The value itself is evaluate_accuracy's to judge (issue 13: one mistake, one charge); a wrong argmax
    # must not cost the eval-mode points as well.


@check(points=1, per_device=True, hint=NO_GRAD_HINT)
@_one_thread
def evaluate_no_graph(ctx: Context) -> None:
    """evaluate builds no autograd graph (its forward pass runs under torch.no_grad() or inference_mode)."""
    case = _eval_case(ctx, TRAIN_LAYERS)
    obs = _probe(ctx, "evaluate", **case.args())
    expected = "evaluate's forward pass to record no autograd graph (torch.no_grad() or torch.inference_mode())"
    for event in _forwards(obs):
        if event.get("output_requires_grad") or (event.get("output_requires_grad") is None
                                                 and event.get("grad_enabled")):
            raise CheckFailed(expected, "the model's output required grad: autograd recorded the forward pass",
                              NO_GRAD_HINT, cause="missing_no_grad")
    # As in evaluate_eval_mode, the value is evaluate_accuracy's to judge.
