import torch
from torch import nn


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weights = nn.Parameter(torch.randn(in_features, out_features) / in_features**0.5)
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features))
        else:
            self.bias = None

    def forward(self, x):
        # x: (..., in) -> (..., 1, in) so that matmul broadcasts the weights over all batch dims
        y = torch.matmul(x.unsqueeze(-2), self.weights).squeeze(-2)
        if self.bias is not None:
            y = y + self.bias.view(*([1] * (y.dim() - 1)), -1)
        return y
