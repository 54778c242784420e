"""Benchmark `grader grade` against the naive way (a fresh `python` per submission), in one run.

    .venv/bin/python bench/grade_speed.py [--sizes 50 100 200 400] [--jobs 2] [--naive-sample 20]

It writes N generated my_linear submissions (two thirds correct, one third with one of three common
mistakes; each file distinct, as students' files are), then measures, side by side on this machine:

- ``import torch`` in a fresh interpreter (median of 3): the cost the naive way pays per submission;
- the naive way: ``grader check`` in a fresh ``python`` per submission, ``--jobs`` at a time, on a sample;
- ``grader grade --jobs J --force`` for each N, and the smallest N again with ``--jobs 1`` (scaling).

It prints each N's wall time, the cost per submission, the ratio to the naive cost of SPEC section 8
(N x one torch start-up / cores) and to the measured naive run, the marginal cost per submission between
the smallest and largest N (linear growth shows as a constant), and, from the results, the median time a
submission spends outside its checks (reading, forking and loading its sandbox, building the result).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MISTAKES = ["bias_left_out.py", "plain_tensors.py", "transposed_weights.py"]


def generate(folder: Path, n: int) -> None:
    """N distinct submissions: two thirds correct, the rest one of the MISTAKES in turn."""
    folder.mkdir(parents=True)
    reference = (ROOT / "reference" / "my_linear.py").read_text()
    for i in range(n):
        if i % 3 == 2:
            text = (ROOT / "tests" / "zoo" / "my_linear" / MISTAKES[(i // 3) % len(MISTAKES)]).read_text()
        else:
            text = reference
        (folder / f"student{i:04d}.py").write_text(text + f"\n# student {i}\n")


def timed(cmd: list[str]) -> float:
    """Wall-clock seconds of one command."""
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=20)
    args = parser.parse_args()
    py = sys.executable
    grader = [py, "-m", "grader"]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        import_torch = statistics.median(timed([py, "-c", "import torch"]) for _ in range(3))
        print(f"python -c 'import torch': {import_torch:.2f} s (median of 3)")

        sample = work / "sample"
        generate(sample, args.naive_sample)
        files = sorted(sample.iterdir())
        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda f: timed([*grader, "check", "my_linear", str(f), "--device", "cpu", "--seed", "1",
                                           "--format", "json"]), files))
        naive_per_sub = (time.perf_counter() - started) / len(files)
        print(f"naive (fresh python + grader check per submission, {args.jobs} at a time, {len(files)} files): "
              f"{naive_per_sub:.3f} s per submission")

        print(f"\n{'N':>5} {'wall s':>8} {'s/sub':>7} {'vs N*torch/cores':>17} {'vs naive run':>13} "
              f"{'outside checks ms':>18}")
        walls = {}
        for n in args.sizes:
            folder, out = work / f"n{n}", work / f"out{n}"
            generate(folder, n)
            wall = timed([*grader, "grade", "my_linear", str(folder), "--out", str(out), "--jobs", str(args.jobs),
                          "--device", "cpu", "--force"])
            walls[n] = wall
            docs = [json.loads(p.read_text()) for p in out.glob("student*.json")]
            assert len(docs) == n, f"expected {n} results, found {len(docs)}"
            outside = statistics.median(d["duration_s"] - sum(c["duration_s"] for c in d["checks"]) for d in docs)
            formula = n * import_torch / args.jobs
            print(f"{n:>5} {wall:>8.2f} {wall / n:>7.3f} {wall / formula:>17.3f} {wall / (naive_per_sub * n):>13.3f} "
                  f"{outside * 1000:>18.1f}")
        n = args.sizes[0]
        one = timed([*grader, "grade", "my_linear", str(work / f"n{n}"), "--out", str(work / "one"), "--jobs", "1",
                     "--device", "cpu", "--force"])
        print(f"\nN={n} with --jobs 1: {one:.2f} s; --jobs {args.jobs} is {one / walls[n]:.2f}x faster")
        if len(walls) > 1:
            small, large = min(walls), max(walls)
            marginal = (walls[large] - walls[small]) / (large - small)
            print(f"\nmarginal cost per submission from N={small} to N={large}: {marginal * 1000:.0f} ms of wall time "
                  f"with {args.jobs} jobs ({marginal * args.jobs * 1000:.0f} ms of one core)")


if __name__ == "__main__":
    main()
