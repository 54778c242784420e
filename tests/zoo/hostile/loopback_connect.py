# Hostile: connect to a listener on the machine's loopback and send it data. tests/test_hostile.py writes its
# listener's port into its temporary copy of this file (the line marked HOSTILE_TEST_PORT); as shipped it
# tries port 9 (discard).
import socket

import torch
from torch import nn

PORT = 9  # HOSTILE_TEST_PORT


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


try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=3) as conn:
        conn.sendall(b"stolen answers")
    print(f"CONNECTED to 127.0.0.1:{PORT} and sent data")
except OSError as exc:
    print(f"could not connect to 127.0.0.1:{PORT}: {exc}")
