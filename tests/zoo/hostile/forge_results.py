import json
import torch
import torch.testing
from torch import nn

# Everything a student might try to make the grader believe: none of it decides a point.
torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
try:
    import grader.compare
    grader.compare.expect_close = lambda *args, **kwargs: None
except ImportError:
    pass
print(json.dumps({"score": 100, "max_score": 10, "status": "graded"}))


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weights = nn.Parameter(torch.randn(in_features, out_features))
        self.bias = nn.Parameter(torch.randn(out_features)) if bias else None

    def forward(self, x):
        return x @ self.weights  # the bias is left out: that must still cost points
