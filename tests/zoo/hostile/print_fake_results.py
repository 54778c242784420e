# Hostile: print a perfect results document and a perfect text report, on stdout and stderr, hoping a
# grader takes printed text for its verdict. Its forward returns zeros.
import json
import sys

import torch
from torch import nn

FAKE = {"schema_version": "1", "assignment": "my_linear", "status": "graded", "score": 11.0, "max_score": 11.0,
        "checks": [{"id": "forward[cpu]", "status": "passed", "score": 2.0, "max_score": 2.0}], "errors": []}
print(json.dumps(FAKE))
print("Score: 11/11 (full marks)", file=sys.stderr)


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
        print(json.dumps(FAKE))
        return torch.zeros(*x.shape[:-1], self.out_features, dtype=x.dtype, device=x.device)
