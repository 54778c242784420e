"""What the sandbox's walls cost: `grader grade` with and without namespaces, side by side in one run.

    .venv/bin/python bench/isolation_cost.py [--n 60] [--jobs 2] [--rounds 3]

It grades the same N generated my_linear submissions (see ``grade_speed.py``) with ``--force``, in
interleaved rounds, once with every wall the machine allows and once with ``GRADER_ISOLATION=none``
(rlimits and the wall-clock kill only), and prints the median wall time of each, their ratio, and the
extra time per submission. Both modes build one sandbox per submission (more when a check is lost).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grade_speed import generate

ROOT = Path(__file__).resolve().parents[1]


def grade(folder: Path, out: Path, jobs: int, isolation: str) -> tuple[float, list[str]]:
    """Wall time of one ``grade --force`` run, and the isolation layers its first result lists."""
    env = {**os.environ, "GRADER_ISOLATION": isolation}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", "grade", "my_linear", str(folder), "--out", str(out),
                    "--jobs", str(jobs), "--force", "--device", "cpu"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    elapsed = time.perf_counter() - started
    first = json.loads(next(iter(sorted(out.glob("student*.json")))).read_text())
    return elapsed, first["environment"]["isolation"]


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        generate(folder, args.n)
        times: dict[str, list[float]] = {"auto": [], "none": []}
        layers: dict[str, list[str]] = {}
        for _ in range(args.rounds):
            for mode in ("auto", "none"):
                elapsed, layers[mode] = grade(folder, Path(tmp) / f"out-{mode}", args.jobs, mode)
                times[mode].append(elapsed)
        walled, bare = statistics.median(times["auto"]), statistics.median(times["none"])
        print(f"{args.n} submissions, --jobs {args.jobs}, median of {args.rounds} interleaved rounds")
        print(f"  with walls:    {walled:6.2f} s   ({', '.join(layers['auto'])})")
        print(f"  without walls: {bare:6.2f} s   ({', '.join(layers['none'])})")
        print(f"  ratio {walled / bare:.3f}; {(walled - bare) / args.n * 1000 * args.jobs:+.0f} ms per submission "
              f"per worker")


if __name__ == "__main__":
    main()
