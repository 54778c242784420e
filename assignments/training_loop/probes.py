"""Sandbox side of training_loop: run train / evaluate on the judge's model and data; report plain data.

What happened is recorded (forward passes, backward passes, zero_grad, step, with the gradients' state at
each). Decides nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from grader.sandbox.student import Student, observe

#: Beyond this many events the record stops growing (a correct loop of a few epochs needs a few dozen).
MAX_EVENTS = 400
#: At most this many returned values are described.
MAX_ITEMS = 200

_LAYERS: dict[str, Any] = {"linear": nn.Linear, "relu": nn.ReLU, "dropout": nn.Dropout, "batchnorm": nn.BatchNorm1d}
_MODE_LAYERS = (nn.Dropout, nn.modules.batchnorm._BatchNorm)


def _build(layers: list[list[Any]], state: dict[str, torch.Tensor], device: torch.device) -> nn.Sequential:
    """The judge's model: an nn.Sequential of the listed layers, holding the judge's values, on ``device``."""
    model = nn.Sequential(*(_LAYERS[kind](*args) for kind, *args in layers))
    model.load_state_dict(state)
    return model.to(device)


def _grad_state(grad: torch.Tensor | None) -> str:
    if grad is None:
        return "none"
    return "nonzero" if bool(grad.detach().ne(0).any()) else "zero"


class _Recorder:
    """Hooks and spies on a model (and optimizer) that log the real order of events while student code runs.

    - forward: a pre-hook on the first layer (it fires for ``model(x)`` and ``model.forward(x)`` alike), with
      the grad mode, the model's mode (``model.training``), and the output's ``requires_grad`` from a hook on
      the last layer; Dropout and BatchNorm layers that ran in training mode are listed;
    - backward: a tensor hook on every parameter sees each new gradient before it is accumulated, and whether
      ``.grad`` still held an earlier one (``stale``);
    - step: an optimizer step pre-hook records, per parameter, whether the gradient it is about to use is
      missing, zero, exactly the latest backward's, or something else (accumulated);
    - zero_grad: spies on ``optimizer.zero_grad`` and ``model.zero_grad`` (zeroing ``.grad`` by hand is seen
      by the gradient states above).
    """

    def __init__(self, model: nn.Sequential, optimizer: torch.optim.Optimizer | None = None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.params = list(model.named_parameters())
        self.events: list[dict[str, Any]] = []
        self.truncated = False
        self.latest: dict[int, torch.Tensor] = {}
        self.handles: list[Any] = []

    def _add(self, event: dict[str, Any]) -> bool:
        if len(self.events) >= MAX_EVENTS:
            self.truncated = True
            return False
        self.events.append(event)
        return True

    def _last(self, kind: str) -> dict[str, Any] | None:
        return self.events[-1] if self.events and self.events[-1]["event"] == kind else None

    def install(self) -> None:
        model = self.model
        for index, (_, param) in enumerate(self.params):
            self.handles.append(param.register_hook(functools.partial(self._on_grad, index)))
        self.handles.append(model[0].register_forward_pre_hook(self._on_forward))
        self.handles.append(model[-1].register_forward_hook(self._on_output))
        for name, module in model.named_modules():
            if isinstance(module, _MODE_LAYERS):
                self.handles.append(module.register_forward_pre_hook(functools.partial(self._on_mode_layer, name)))
        self._spy(model, "model")
        if self.optimizer is not None:
            self.handles.append(self.optimizer.register_step_pre_hook(self._on_step))
            self._spy(self.optimizer, "optimizer")

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        for owner in (self.model, self.optimizer):
            if owner is not None and "zero_grad" in vars(owner):
                delattr(owner, "zero_grad")

    def _spy(self, owner: Any, who: str) -> None:
        original = owner.zero_grad

        def zero_grad(*args: Any, **kwargs: Any) -> Any:
            self._add({"event": "zero_grad", "of": who})
            return original(*args, **kwargs)

        owner.zero_grad = zero_grad

    def _on_forward(self, module: nn.Module, args: Any) -> None:
        self._add({
            "event": "forward",
            "grad_enabled": torch.is_grad_enabled(),
            "inference_mode": torch.is_inference_mode_enabled(),
            "model_training": bool(self.model.training),
            "training_layers": [],
            "output_requires_grad": None,
        })

    def _on_mode_layer(self, name: str, module: nn.Module, args: Any) -> None:
        event = self._last("forward")
        if event is not None and module.training:
            event["training_layers"].append(name)

    def _on_output(self, module: nn.Module, args: Any, output: Any) -> None:
        event = self._last("forward")
        if event is not None:
            event["output_requires_grad"] = bool(getattr(output, "requires_grad", False))

    def _on_grad(self, index: int, grad: torch.Tensor) -> None:
        name, param = self.params[index]
        event = self._last("backward")
        if event is None or name in event["params"]:
            event = {"event": "backward", "params": [], "stale": []}
            if not self._add(event):
                return
        event["params"].append(name)
        if _grad_state(param.grad) == "nonzero":
            event["stale"].append(name)
        self.latest[index] = grad.detach().clone()

    def _on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        grads = {}
        for index, (name, param) in enumerate(self.params):
            state = _grad_state(param.grad)
            if state == "nonzero":
                latest = self.latest.get(index)
                fresh = latest is not None and latest.shape == param.grad.shape and torch.equal(param.grad, latest)
                state = "fresh" if fresh else "accumulated"
            grads[name] = state
        self._add({"event": "step", "grads": grads})


def _number(value: Any) -> dict[str, Any]:
    """A returned value in words: its type and, when it holds one number, that number."""
    try:
        if isinstance(value, torch.Tensor):
            described: dict[str, Any] = {
                "type": "Tensor", "shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                "device": str(value.device), "requires_grad": bool(value.requires_grad),
            }
            if value.numel() == 1:
                described["value"] = float(value.detach().reshape(()).item())
            return described
        if isinstance(value, bool):
            return {"type": "bool", "value": float(value)}
        if isinstance(value, int | float):
            return {"type": type(value).__name__, "is_float": isinstance(value, float), "value": float(value)}
        if hasattr(value, "item") and getattr(value, "size", None) == 1:  # a numpy scalar or 1-value array
            return {"type": type(value).__name__, "value": float(value.item())}
        text = repr(value)
        return {"type": type(value).__name__, "repr": text if len(text) <= 200 else text[:200] + "..."}
    except Exception as exc:  # a value that cannot even be described
        return {"type": type(value).__name__, "repr": f"<{type(exc).__name__} while reading it>"}


def _sequence(value: Any) -> dict[str, Any]:
    """What train returned: its type, its length when it has one, and each item in words."""
    if isinstance(value, list | tuple):
        return {"type": type(value).__name__, "length": len(value), "items": [_number(v) for v in value[:MAX_ITEMS]]}
    if isinstance(value, torch.Tensor) and value.dim() == 1:
        values = value.detach().to("cpu", torch.float64)[:MAX_ITEMS].tolist()
        return {"type": "Tensor", "length": int(value.shape[0]),
                "items": [{"type": "tensor element", "value": v} for v in values]}
    return {"type": type(value).__name__, "length": None, "items": [], "what": _number(value)}


def train(student: Student, layers: list[list[Any]], state: dict[str, torch.Tensor], inputs: torch.Tensor,
          labels: torch.Tensor, lr: float, momentum: float, epochs: int) -> dict[str, Any]:
    """Call train(model, inputs, labels, CrossEntropyLoss(), SGD(lr, momentum), epochs) on the judge's model.

    Returns what train returned, the event record, and the model's parameters and gradients afterwards.
    """
    func = student.function("train")
    device = student.device
    model = _build(layers, state, device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    recorder = _Recorder(model, optimizer)
    recorder.install()
    try:
        result = func(model, inputs.to(device, torch.float32), labels.to(device), criterion, optimizer, epochs)
    finally:
        recorder.remove()
    return {
        "result": _sequence(result),
        "events": recorder.events,
        "truncated": recorder.truncated,
        "parameters": {name: observe(p) for name, p in model.named_parameters()},
        "grads": {name: observe(p.grad) for name, p in model.named_parameters()},
    }


def evaluate(student: Student, layers: list[list[Any]], state: dict[str, torch.Tensor], inputs: torch.Tensor,
             labels: torch.Tensor) -> dict[str, Any]:
    """Call evaluate(model, inputs, labels) on the judge's model, left in training mode as after training.

    Returns what evaluate returned, the forward passes it ran, and the model's state afterwards.
    """
    func = student.function("evaluate")
    device = student.device
    model = _build(layers, state, device)
    model.train()
    recorder = _Recorder(model)
    recorder.install()
    try:
        result = func(model, inputs.to(device, torch.float32), labels.to(device))
    finally:
        recorder.remove()
    return {
        "result": _number(result),
        "events": recorder.events,
        "truncated": recorder.truncated,
        "state": {name: observe(t) for name, t in model.state_dict().items()},
    }
