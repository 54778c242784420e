# Hostile: os.kill(-1, SIGKILL), which kills every process the sender may signal. Without a pid namespace that
# is the whole machine (as root: every process but init), so the attack is only sent when this process cannot
# see any process but itself and its own children, as in a pid namespace of its own, and only in the copy
# that tests/test_hostile.py arms. Otherwise it says that it would have reached other processes.
import os
import signal

import torch
from torch import nn

ARMED = False  # HOSTILE_TEST_ARMED


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



def outsiders():
    """Processes this one can see that are neither itself nor its descendants (pid 1 of its namespace aside)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    mine = {os.getpid()}
    for _ in range(len(parents)):
        mine |= {pid for pid, ppid in parents.items() if ppid in mine}
    return sorted(pid for pid in parents if pid not in mine and pid != 1)


if not ARMED:
    print("not armed: no signal sent")
elif outsiders():
    print(f"NOT CONFINED: kill(-1) would reach {len(outsiders())} processes outside the sandbox; not sent")
else:
    print("sending SIGKILL to every process in reach (kill -1)", flush=True)
    try:
        os.kill(-1, signal.SIGKILL)
        print("kill -1 sent; this process is still running")
    except ProcessLookupError:
        print("kill -1 found no process to kill")
