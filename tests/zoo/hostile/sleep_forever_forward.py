# Hostile: forward sleeps for eleven days. Sleeping costs no CPU time, so only a wall-clock limit stops it.
import time

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
        time.sleep(10**6)
        out = x @ self.weights
        return out if self.bias is None else out + self.bias
