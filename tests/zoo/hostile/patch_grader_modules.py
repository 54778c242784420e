# Hostile: patch the grader's own modules inside the sandbox so that they report the right answer for a forward
# that leaves the bias out: grader.sandbox.student.observe computes x @ weights + bias from the probe's
# frame, and grader.protocol / grader.channel functions are wrapped. Each patch says on stdout when it is
# used; if none is, the grader never calls what a submission can reach by these names.
import sys

import torch
from torch import nn

used = set()


def _announce(name):
    if name not in used:
        used.add(name)
        print(f"PATCH USED: {name}", flush=True)


def _wrap(module, name):
    original = getattr(module, name)

    def patched(*args, **kwargs):
        _announce(f"{module.__name__}.{name}")
        return original(*args, **kwargs)

    setattr(module, name, patched)


patched = []
try:
    import grader.sandbox.student as student

    original_observe = student.observe

    def observe(value):
        _announce("grader.sandbox.student.observe")
        frame = sys._getframe(1)
        while frame is not None and "inputs" not in frame.f_locals:
            frame = frame.f_back
        if frame is not None and isinstance(value, torch.Tensor) and frame.f_locals.get("bias_values") is not None:
            model = frame.f_locals["model"]
            value = value + model.bias  # what the reference would have returned
        return original_observe(value)

    student.observe = observe
    patched.append("grader.sandbox.student.observe")
except ImportError as exc:
    print("could not import grader.sandbox.student:", exc)
for module_name, names in (("grader.protocol", ("encode_reply", "decode_request", "to_plain")),
                           ("grader.channel", ("send_blocking", "recv_blocking"))):
    try:
        module = __import__(module_name, fromlist=["_"])
    except ImportError as exc:
        print(f"could not import {module_name}:", exc)
        continue
    for name in names:
        _wrap(module, name)
        patched.append(f"{module_name}.{name}")
print("PATCHED", ", ".join(patched))


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / in_features**0.5
        self.weights = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return x @ self.weights  # the bias is left out: that must still cost points
