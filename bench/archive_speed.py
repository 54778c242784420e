"""Grading from an archive against grading the same files from a folder, side by side in one run.

    .venv/bin/python bench/archive_speed.py [--n 60] [--jobs 2] [--runs 5]

Generates N my_linear submissions (see ``grade_speed.py``), lays them out as a Canvas "Download
Submissions" zip (``name_userid_attachmentid_my_linear.py``, flat) and as a plain folder of the same
bytes, then times ``grader grade --force`` on each with ``farm-bench`` (A = the zip, B = the folder,
alternating runs, ratio taken pair by pair). The issue's budget: the archive at most 1.1x the folder.
Without ``farm-bench`` on the PATH it alternates the runs itself and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grade_speed import generate

ROOT = Path(__file__).resolve().parents[1]


def lay_out(folder: Path, tmp: Path) -> tuple[Path, Path]:
    """The same files as a Canvas-shaped zip and as a plain folder named by the Canvas user ids."""
    plain, archive = tmp / "plain", tmp / "canvas_submissions.zip"
    plain.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for index, path in enumerate(sorted(folder.glob("*.py"))):
            user_id, attachment = 100000 + index, 9000000 + index
            bundle.writestr(f"{path.stem}_{user_id}_{attachment}_my_linear.py", path.read_bytes())
            shutil.copy(path, plain / f"{user_id}.py")
    return archive, plain


def command(source: Path, out: Path, jobs: int) -> list[str]:
    """The ``grader grade`` command line for one source."""
    return [sys.executable, "-m", "grader", "grade", "my_linear", str(source), "--out", str(out), "--jobs",
            str(jobs), "--force", "--device", "cpu"]


def main() -> None:
    """Build both layouts and time them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        generate(tmp / "generated", args.n)
        archive, plain = lay_out(tmp / "generated", tmp)
        a = command(archive, tmp / "out-zip", args.jobs)
        b = command(plain, tmp / "out-folder", args.jobs)
        print(f"{args.n} submissions, --jobs {args.jobs}: A = {archive.name}, B = a folder of the same files")
        if shutil.which("farm-bench"):
            quiet = [f"sh -c 'exec {' '.join(cmd)} >/dev/null 2>&1'" for cmd in (b,)]
            subprocess.run(["farm-bench", "-n", str(args.runs), "--timeout", "3000", "--vs", quiet[0], "--",
                            "sh", "-c", f"exec {' '.join(a)} >/dev/null 2>&1"], cwd=ROOT, check=True)
            return
        times: dict[str, list[float]] = {"zip": [], "folder": []}
        for _ in range(args.runs):
            for key, cmd in (("zip", a), ("folder", b)):
                started = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                times[key].append(time.perf_counter() - started)
        zipped, folder = statistics.median(times["zip"]), statistics.median(times["folder"])
        print(f"  zip {zipped:.2f} s, folder {folder:.2f} s: {zipped / folder:.3f}x")


if __name__ == "__main__":
    main()
