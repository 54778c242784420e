"""MyLinear: a fully connected layer written by hand, with its parameters registered."""

import torch
from torch import nn


class MyLinear(nn.Module):
    """Applies ``x @ weights + bias`` to the last dimension of ``x``."""

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


# A correct MyLinear that reports what the sandbox lets it see. The test fills in the paths below.
import json
import os
import sys

FORBIDDEN = []  # filled in by the test: folders the sandbox must not show
SHOWN = []  # filled in by the test: folders whose listing the test inspects
SECRET = "GRADER_SECRET_FOR_TEST"


def _look(path):
    try:
        return sorted(os.listdir(path))
    except NotADirectoryError:
        return "file"
    except OSError as exc:
        return type(exc).__name__


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError as exc:
        return type(exc).__name__


def _write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return type(exc).__name__


print("LOOK " + json.dumps({
    "uid": os.getuid(),
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "root": _look("/"),
    "tmp": _look("/tmp"),
    "cwd": os.getcwd(),
    "forbidden": {path: _look(path) for path in FORBIDDEN},
    "shown": {path: _look(path) for path in SHOWN},
    "secret": os.environ.get(SECRET),
    "environ_file": _read("/proc/self/environ"),
    "cmdline_file": _read("/proc/self/cmdline"),
    "argv": sys.argv + sys.orig_argv,
    "home": os.environ.get("HOME"),
    "write_usr": _write("/usr/planted"),
    "write_cwd": _write(os.path.join(os.getcwd(), "scratch.txt")),
}))
