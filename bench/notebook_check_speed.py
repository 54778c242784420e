"""Time ``grader.check`` in a notebook kernel and ``grader check`` through the check server against torch's start-up.

In one run, for each assignment (the reference solution saved as a notebook):

- the first ``grader.check`` in a fresh kernel (``import grader`` included; the kernel's own start is not):
  it starts the check server, so it pays one torch start-up (and ``torch._dynamo``) plus the checks;
- the median of the next ten checks from that notebook, and of ten ``grader check`` runs from the command
  line (a fresh ``python`` each time, which finds the running server);
- ``grader check --no-server`` (a median of three): what a check cost before the server;

and ``python -c "import torch"`` (a median of rounds spread over the run) as the yardstick. Goals (issue 12):
later checks at most 0.25x one torch start-up; the first check no slower than ``grader check --no-server``.

    python bench/notebook_check_speed.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("my_linear", "training_loop")
LATER = 10


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    """Wall-clock seconds of one run; the command must exit 0 (full marks) or 1."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed: {proc.stderr.decode()[-500:]}")
    return elapsed


def torch_import() -> float:
    """One ``python -c "import torch"``."""
    return timed([sys.executable, "-c", "import torch"])


def notebook_for(name: str, folder: Path) -> Path:
    """The stub notebook with the reference solution in its solution cell, saved in ``folder``."""
    import nbformat

    nb = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    next(c for c in nb.cells if c.get("id") == "solution").source = (ROOT / "reference" / f"{name}.py").read_text()
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def in_kernel(client: Any, code: str) -> float:
    """Seconds to run ``code`` in the kernel, as the notebook's user waits for it; fails on an error."""
    errors: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        if message["msg_type"] == "error":
            errors.append("\n".join(message["content"]["traceback"]))
        if message["msg_type"] == "stream" and "could not be used" in message["content"]["text"]:
            errors.append(message["content"]["text"])

    start = time.perf_counter()
    reply = client.execute_interactive(code, timeout=600, output_hook=hook)
    elapsed = time.perf_counter() - start
    if errors or reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r} failed in the kernel: {errors}")
    return elapsed


def bench_assignment(name: str, baseline: list[float]) -> dict[str, Any]:
    """The first check in a fresh kernel, the next ten from it, ten from the command line, and the old way."""
    from jupyter_client.manager import start_new_kernel

    folder = Path(tempfile.mkdtemp(prefix="gb-", dir="/tmp"))
    try:
        notebook = notebook_for(name, folder)
        env = {**os.environ, "GRADER_SERVER_DIR": str(folder / "server"), "JPY_SESSION_NAME": str(notebook)}
        manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(folder))
        try:
            in_kernel(client, "1")  # the kernel is up and answering
            check = f'import grader\nv = grader.check("{name}")\nassert v.full_marks, v'
            first = in_kernel(client, check)
            later = [in_kernel(client, check) for _ in range(LATER)]
            cli = [sys.executable, "-m", "grader", "check", name, notebook.name]
            command_line = [timed(cli, env=env, cwd=folder) for _ in range(LATER)]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
        baseline.append(torch_import())
        before = [timed([*cli, "--no-server"], env=env, cwd=folder) for _ in range(3)]
        baseline.append(torch_import())
    finally:
        subprocess.run([sys.executable, "-m", "grader.server", "stop"], cwd=ROOT, capture_output=True,
                       env={**os.environ, "GRADER_SERVER_DIR": str(folder / "server")})
        shutil.rmtree(folder, ignore_errors=True)
    return {"first notebook check": [first], "later notebook checks": later,
            "later command-line checks": command_line, "grader check --no-server": before}


def main() -> None:
    """Run the benchmark and print medians and their ratios to ``import torch``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch_import()  # warm the page cache
    baseline = [torch_import() for _ in range(3)]
    rows = {name: bench_assignment(name, baseline) for name in ASSIGNMENTS}
    base = statistics.median(baseline)
    report: dict[str, Any] = {"import torch": {"median_s": round(base, 3), "all_s": [round(x, 3) for x in baseline]}}
    for name, measured in rows.items():
        report[name] = {
            what: {"median_s": round(statistics.median(t), 3), "ratio": round(statistics.median(t) / base, 2),
                   "all_s": [round(x, 3) for x in t]}
            for what, t in measured.items()
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"python -c 'import torch': median {base:.3f}s over {len(baseline)} runs spread over the benchmark")
    for name in ASSIGNMENTS:
        print(f"\n{name}")
        for what, row in report[name].items():
            print(f"  {what:<28} {row['median_s']:>7.3f}s {row['ratio']:>6.2f}x import torch")


if __name__ == "__main__":
    main()
