import torch
import torch.nn as nn


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weights = torch.randn(in_features, out_features, requires_grad=True)
        self.bias = torch.randn(out_features, requires_grad=True) if bias else None
        # keep them in a list so the optimizer can get them: optim.SGD(model.params, lr=0.1)
        self.params = [self.weights]
        if bias:
            self.params.append(self.bias)

    def forward(self, x):
        y = x @ self.weights
        if self.bias is not None:
            y = y + self.bias
        return y
