# Hostile: forward returns a 100000 x 100000 tensor (40 GB of float32) that costs 4 bytes to make: one value,
# expanded. Whoever copies it out (the sandbox, the wire, the judge) is asked for 40 GB.
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
        return torch.empty(1, dtype=x.dtype).expand(10**5, 10**5)
