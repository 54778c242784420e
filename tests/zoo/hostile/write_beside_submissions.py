# Hostile: find the folder of submissions (this file's folder, the grader's command line, or a guess) and
# write into it: plant a new submission and overwrite a classmate's with a broken one. Armed only in the copy that
# tests/test_hostile.py makes in a temporary folder, so that grading this file by hand damages nothing.
import os
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


BROKEN = "class MyLinear:\n    pass  # planted by write_beside_submissions.py\n"


def submission_folders():
    args = list(sys.argv)
    try:
        args += open("/proc/self/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        pass
    folders = [os.path.dirname(__file__)] if os.path.isabs(__file__) else []
    folders += GUESSED.get("submissions", [])
    for previous, arg in zip(args[1:], args[2:]):  # not the interpreter, not an option's value
        if arg.startswith("/") and not previous.startswith("--") and not arg.endswith("__main__.py"):
            folders.append(arg if not arg.endswith((".py", ".ipynb")) else os.path.dirname(arg))
    return list(dict.fromkeys(folders))


if ARMED:
    for folder in submission_folders():
        for name in ("zz_planted.py", "alice.py"):
            path = os.path.join(folder, name)
            try:
                with open(path, "w") as f:
                    f.write(BROKEN)
                print(f"WROTE {path}")
            except OSError as exc:
                print(f"could not write {path}: {exc}")
else:
    print("not armed: nothing written")
