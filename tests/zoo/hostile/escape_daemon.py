# Hostile: start processes meant to outlive grading: `sleep` in a new session, and a double-forked daemon that
# calls setsid(). Both carry the token below in their command line (a fork that fails to exec keeps the
# sandbox's, "grader-sandbox"), so a test can look for survivors. Armed only in the copy that
# tests/test_hostile.py makes (with its own token).
import os
import subprocess
import time

import torch
from torch import nn

ARMED = False  # HOSTILE_TEST_ARMED
TOKEN = "987654"  # HOSTILE_TEST_TOKEN


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


if ARMED:
    sleeper = subprocess.Popen(["sleep", TOKEN], start_new_session=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"daemon started: sleep {TOKEN} as pid {sleeper.pid}", flush=True)
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                os.execvp("sleep", ["sleep", TOKEN])
            finally:
                while True:
                    time.sleep(1)
        os._exit(0)
    os.waitpid(first, 0)
    print("daemon started: double fork and setsid", flush=True)
else:
    print("not armed: no daemon started")
