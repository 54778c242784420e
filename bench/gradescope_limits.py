"""The Gradescope bundle within Gradescope's default limits: peak memory and time of ``run_autograder``.

    .venv/bin/python bench/gradescope_limits.py [--assignments training_loop my_sgd my_linear] [--runs 3]

Releases each assignment with ``--gradescope``, runs its ``setup.sh`` once into a Gradescope-shaped root
(``AUTOGRADER_ROOT``; torch from pip's own configuration, as on this machine), then runs ``run_autograder``
on the reference solution ``--runs`` times inside a cgroup capped as Gradescope's default container is:
768 MB of memory and half a CPU (a CFS quota of 50 ms per 100 ms). Prints, per assignment, the median
wall time, the peak memory the cgroup charged (``memory.max_usage_in_bytes`` on cgroup v1, ``memory.peak``
on v2: the judge, its zygote and every sandbox together, page cache included) and the OOM kills (must be 0).
Needs root (it makes cgroups).
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
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMORY = 768 << 20


def _own(controller: str) -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path(f"/sys/fs/cgroup/{controller}") / path.lstrip("/")
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").is_file():
            return Path("/sys/fs/cgroup") / path.lstrip("/")
    return None


def _cgroups(name: str) -> list[Path]:
    """A memory cgroup (768 MB) and a cpu cgroup (half a CPU), v1 or v2; the folders made."""
    made = []
    memory, cpu = _own("memory"), _own("cpu")
    if memory is None:
        sys.exit("no memory cgroup: cannot measure")
    folder = memory / name
    folder.mkdir()
    made.append(folder)
    v2 = (folder / "memory.max").exists()
    (folder / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(MEMORY))
    if v2:
        (folder / "cpu.max").write_text("50000 100000")
    elif cpu is not None:
        cpu_folder = cpu / name
        cpu_folder.mkdir()
        (cpu_folder / "cpu.cfs_period_us").write_text("100000")
        (cpu_folder / "cpu.cfs_quota_us").write_text("50000")
        made.append(cpu_folder)
    return made


def _peak(folder: Path) -> int:
    for name in ("memory.peak", "memory.max_usage_in_bytes"):
        if (folder / name).is_file():
            return int((folder / name).read_text())
    return -1


def _oom_kills(folder: Path) -> int:
    for name in ("memory.events", "memory.oom_control"):
        if (folder / name).is_file():
            for line in (folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    return 0


def measure(assignment: str, runs: int, tmp: Path, venv_from: Path | None) -> tuple[dict[str, float], Path]:
    """Release, set up (or reuse ``venv_from``) and time ``run_autograder`` on the reference; figures and venv."""
    out = tmp / f"release-{assignment}"
    subprocess.run([sys.executable, "-m", "grader", "release", assignment, "--out", str(out), "--gradescope"],
                   cwd=ROOT, check=True, capture_output=True)
    root = tmp / f"autograder-{assignment}"
    with zipfile.ZipFile(out / "gradescope" / f"{assignment}.zip") as bundle:
        bundle.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(AUTOGRADER_ROOT=str(root), GRADER_TORCH_INDEX="pip-config",
               PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p))
    if venv_from is None:
        started = time.monotonic()
        subprocess.run([str(root / "source" / "setup.sh")], cwd=root, env=env, check=True, capture_output=True)
        print(f"{assignment}: setup.sh {time.monotonic() - started:.0f} s", flush=True)
    else:  # the same grader and torch: one setup.sh is enough for the measurement
        (root / "venv").symlink_to(venv_from)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "submission" / f"{assignment}.py").write_bytes((ROOT / "reference" / f"{assignment}.py").read_bytes())
    walls, peaks, kills, scores = [], [], [], []
    for index in range(runs):
        groups = _cgroups(f"gradescope-bench-{os.getpid()}-{assignment}-{index}")
        enter = " && ".join(f"echo $$ > {g / 'cgroup.procs'}" for g in groups)
        started = time.monotonic()
        subprocess.run(["bash", "-c", f"{enter} && exec {root / 'source' / 'run_autograder'}"], cwd=root,
                       env={**os.environ, "AUTOGRADER_ROOT": str(root)}, check=True, capture_output=True)
        walls.append(time.monotonic() - started)
        peaks.append(_peak(groups[0]))
        kills.append(_oom_kills(groups[0]))
        scores.append(json.loads((root / "results" / "results.json").read_text())["score"])
        for group in groups:
            group.rmdir()
    return ({"wall_s": statistics.median(walls), "peak_mib": max(peaks) / 2**20, "oom_kills": sum(kills),
             "score": min(scores)}, root / "venv")


def main() -> None:
    """Measure each assignment in turn and print one line per assignment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", nargs="+", default=["training_loop", "my_sgd", "my_linear"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gradescope-bench-") as scratch:
        venv: Path | None = None
        for assignment in args.assignments:
            figures, made = measure(assignment, args.runs, Path(scratch), venv)
            venv = venv or made.resolve()
            print(f"{assignment}: run_autograder median {figures['wall_s']:.1f} s, peak {figures['peak_mib']:.0f} MiB "
                  f"of 768, OOM kills {figures['oom_kills']}, score {figures['score']:g} "
                  f"(half a CPU, {args.runs} runs)", flush=True)


if __name__ == "__main__":
    main()
