import socket

import torch
from torch import nn

PORT = 9  # the test writes a real listener's port here
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"stolen")
    print("connected")
except OSError as exc:
    print("no network:", exc)


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weights = nn.Parameter(torch.randn(in_features, out_features))
        self.bias = nn.Parameter(torch.randn(out_features)) if bias else None

    def forward(self, x):
        out = x @ self.weights
        return out if self.bias is None else out + self.bias
