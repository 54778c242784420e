# Hostile (folder submission): a correct MyLinear shipped next to a torch.py of its own. If the grader (or the
# sandbox) ever imported torch from the submission's folder, torch.py would announce it and lie.
import torch
from torch import nn


class MyLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / in_features**0.5
        self.weights = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weights
        if self.bias is not None:
            out = out + self.bias
        return out
