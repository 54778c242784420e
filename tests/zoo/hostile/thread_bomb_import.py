# Hostile: a thread bomb at import: ten thousand threads that wait forever.
import threading

import torch
from torch import nn


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
        out = x @ self.weights
        return out if self.bias is None else out + self.bias


_forever = threading.Event()
started = 0
try:
    for _ in range(10_000):
        threading.Thread(target=_forever.wait, daemon=True).start()
        started += 1
except RuntimeError as exc:
    print(f"thread bomb: stopped after {started} threads: {exc}")
else:
    print(f"thread bomb: all {started} threads started")
