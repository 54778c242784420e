"""Time `grader check` against `python -c "import torch"`, interleaved in the same run (SPEC section 8).

my_linear's optimizer check builds a real torch.optim.SGD, whose first use imports torch._dynamo
(about 1.1 s); the second baseline shows that floor.

    python bench/check_speed.py [--rounds 7]

Each round runs the baseline and every `grader check` once, in turn, so that machine noise hits all of
them alike; the report gives the median of each and its ratio to the baseline's median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "import torch": [sys.executable, "-c", "import torch"],
    # What any code that builds a torch.optim optimizer pays once: torch imports torch._dynamo lazily.
    "import torch + torch._dynamo": [sys.executable, "-c", "import torch, torch._dynamo"],
    "check manual_lr reference": [sys.executable, "-m", "grader", "check", "manual_lr", "reference/manual_lr.py"],
    "check my_linear reference": [sys.executable, "-m", "grader", "check", "my_linear", "reference/my_linear.py"],
}


def timed(command: list[str]) -> float:
    """Wall-clock seconds of one run; the command must succeed."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Run the rounds and print the medians and ratios (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # warm the page cache once
        timed(command)
    for _ in range(args.rounds):
        for name, command in COMMANDS.items():
            times[name].append(timed(command))
    base = statistics.median(times["import torch"])
    report = {
        name: {"median_s": round(statistics.median(t), 3), "ratio": round(statistics.median(t) / base, 2),
               "all_s": [round(x, 3) for x in t]}
        for name, t in times.items()
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'command':<30} {'median':>8} {'ratio':>6}   (rounds: {args.rounds})")
    for name, row in report.items():
        print(f"{name:<30} {row['median_s']:>7.3f}s {row['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
