"""What the Gradescope bundle's ``run_autograder`` runs: grade one upload, write ``results.json`` once.

``python -m grader.gradescope_run --root /autograder --assignment NAME`` grades what the student uploaded in
``ROOT/submission`` (one file, a folder of files, or a zip; the file is chosen by the rules every layout
shares, :mod:`grader.intake.choose`, so a wrongly named file or a folder with a test file beside the
solution still grades, and what was left out is said) against the course in ``ROOT/source/course``, with
the sandbox's limits fitted to Gradescope's defaults, and writes ``ROOT/results/results.json`` atomically:
the student-facing text of each check, hidden checks ``after_published``. Whatever happens (nothing
uploaded, a file the grader refuses, the grader itself failing), a valid ``results.json`` is written and
the exit status is 0, because Gradescope shows a missing or invalid file as "The autograder failed to
execute correctly" and nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grader.gradescope_bundle import SANDBOX_MEMORY_MIB, TIMEOUT_S
from grader.results import write_atomic


def main(argv: list[str] | None = None) -> int:
    """Grade ``ROOT/submission`` and write ``ROOT/results/results.json``; always exits 0 once it is written."""
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope_run")
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    root: Path = args.root
    started = time.monotonic()
    try:
        results = grade_upload(root, args.assignment)
    except BaseException:  # the grader failed, not the student: say so, and still write a valid file
        traceback.print_exc()
        results = _message_only("The autograder itself failed on this upload; your course staff has been "
                                "told by this message. Please tell them too.", started)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(results_dir / "results.json", json.dumps(results, indent=2) + "\n")
    print(f"results.json: score {results.get('score')}", file=sys.stderr)
    return 0


def grade_upload(root: Path, assignment_name: str) -> dict[str, Any]:
    """The ``results.json`` document for the upload in ``root/submission``."""
    started = time.monotonic()
    os.environ["GRADER_COURSE"] = str(root / "source" / "course")
    from grader.startup import import_torch

    import_torch()  # with the collector paused (see grader.startup)
    from grader.assignment import load_assignment, require_assignment
    from grader.grading import Grader, Options
    from grader.intake.archives import open_student_archives
    from grader.intake.layouts import Found, folder_submission
    from grader.intake.tree import from_folder
    from grader.results import to_gradescope
    from grader.session import Limits
    from grader.submission import READ_LIMIT

    require_assignment(assignment_name)
    upload = root / "submission"
    notes: list[str] = []
    found: Found | None = None
    if upload.is_dir():
        tree = from_folder(upload, notes)
        open_student_archives(tree, notes)
        found = folder_submission("submission", tree, assignment_name)
    if found is None or found.problem is not None:
        why = found.problem if found is not None else "nothing was uploaded"
        return _message_only(f"Nothing was graded: {why}. Upload {assignment_name}.py or {assignment_name}.ipynb.",
                             started)
    data = found.read(READ_LIMIT)
    limits = Limits.for_timeout(TIMEOUT_S, SANDBOX_MEMORY_MIB)
    with Grader(Options(device="cpu", limits=limits)) as grader:
        seed = int.from_bytes(hashlib.sha256(data).digest()[:4], "big")
        result = grader.grade(load_assignment(assignment_name), Path(found.path), "submission", seed=seed,
                              data=data, name=found.name)
    results = to_gradescope(result)
    said = [f"Graded {found.path.removeprefix(str(upload) + '/')}."]
    if found.left_out:
        said.append("Not graded (only one file is): " + ", ".join(
            p.removeprefix(str(upload) + "/") for p in found.left_out) + ".")
    results["output"] = "\n".join([*said, results["output"]]).strip()
    return results


def _message_only(message: str, started: float) -> dict[str, Any]:
    """A results.json with no tests: a score of 0 and what the student should do."""
    return {"score": 0.0, "execution_time": round(time.monotonic() - started, 3), "output": message,
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


if __name__ == "__main__":
    sys.exit(main())
