# Hostile: read the assignment's hidden checks (assignments/my_linear/checks.py) and print them, so that they
# end up in the result's log, where a student could read them. Its own MyLinear is correct.
import os
import sys
from pathlib import Path

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


starts = [Path(os.getcwd())]
starts += [Path(m.__file__).resolve().parent for m in list(sys.modules.values())
           if getattr(m, "__file__", None) and not str(getattr(m, "__name__", "")).startswith(("torch", "numpy"))]
starts += [Path(a).resolve().parent for a in sys.argv if a.startswith("/")]
candidates = list(dict.fromkeys(folder / "assignments" / "my_linear" / "checks.py" for start in starts
                                for folder in (start, *start.parents)))
candidates += [Path(m.__file__).resolve().parent / "checks.py" for m in list(sys.modules.values())
               if str(getattr(m, "__file__", "") or "").endswith("probes.py")]
stolen = 0
for path in dict.fromkeys(candidates):
    try:
        text = path.read_text()
    except OSError as exc:
        continue
    stolen += 1
    print(f"HIDDEN CHECKS FROM {path}:\n{text}")
    break
if not stolen:
    print(f"hidden checks not found: none of {len(candidates)} places could be read")
