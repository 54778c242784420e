# Hostile: forward returns a torch.Tensor subclass whose __torch_function__ makes every comparison, difference
# and reduction say "equal" and whose pickled form would run code when loaded. If the object (or its class)
# reached the judge, the wrong values (the bias is left out) would pass.
import os

import torch
from torch import nn


def _marker():
    try:
        environ = open("/proc/self/environ", "rb").read().decode(errors="replace").split("\0")
        home = next(e.split("=", 1)[1] for e in environ if e.startswith("HOME="))
    except (OSError, StopIteration):
        home = os.environ.get("HOME", "/tmp")
    return os.path.join(home, "PWNED_BY_TENSOR_SUBCLASS")


class Sly(torch.Tensor):
    LIES = {"allclose": True, "equal": True}

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in cls.LIES:
            return cls.LIES[name]
        if name in ("isclose", "eq", "__eq__"):
            return torch.ones((), dtype=torch.bool)
        if name in ("sub", "__sub__", "__rsub__", "abs", "max", "amax", "norm"):
            return torch.zeros(())
        return super().__torch_function__(func, types, args, kwargs or {})

    def __reduce_ex__(self, protocol):
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

    def forward(self, x):
        return (x @ self.weights).as_subclass(Sly)  # the bias is left out
