"""Command line: ``grader list | check | grade | validate | schema``.

Each command is a thin wrapper over a typed function. Exit status (SPEC section 4): 0 full marks,
1 graded but not full marks, 2 the grader could not run (one-line error on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from grader import __version__
from grader.assignment import (
    UnknownAssignment,
    assignment_names,
    course_root,
    load_assignment,
    require_assignment,
)
from grader.results import write_atomic

EXIT_FULL, EXIT_NOT_FULL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The grader cannot run as asked; the message is one line for stderr."""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of MiB") from None
    if value < 512:
        raise argparse.ArgumentTypeError("must be at least 512 MiB (torch and its optimizers need about 300)")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (SPEC section 4), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


#: `check` and `grade` share it: a notebook cell's budget (``Limits.cell_seconds``).
CELL_TIMEOUT_HELP = ("notebooks: seconds one cell may run before it is stopped and skipped; the later cells still "
                     "run (default 10)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    from grader.grading import DEVICE_CHOICES

    parser = _Parser(prog="grader", description="Grade PyTorch assignments.")
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    listing = commands.add_parser("list", help="list the course's assignments")
    listing.add_argument("--json", action="store_true", help="print JSON instead of text")

    check = commands.add_parser("check", help="grade one submission and explain the result")
    check.add_argument("assignment", help="assignment name, e.g. my_linear (see `grader list`)")
    check.add_argument("submission", type=Path, help="your .py or .ipynb file")
    check.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                       help="auto: CPU, plus CUDA when present (default); all: also list absent devices as skipped")
    check.add_argument("--format", choices=("text", "json", "gradescope"), default="text", dest="fmt")
    check.add_argument("--output", type=Path, help="write the report to this file instead of the terminal")
    check.add_argument("--timeout", type=_positive, default=None,
                       help="wall-clock limit in seconds for grading this submission (default 120)")
    check.add_argument("--memory", type=_positive_int, default=None, metavar="MIB",
                       help="memory limit of the sandbox in MiB (default 4096)")
    check.add_argument("--cell-timeout", type=_positive, default=None, metavar="SECONDS", help=CELL_TIMEOUT_HELP)
    check.add_argument("--seed", type=int, default=None, help="seed for the generated inputs (default: random)")
    check.add_argument("--show-output", action="store_true", help="also show what your code printed")
    check.add_argument("--no-server", action="store_true",
                       help="grade in this process even when a check server is running (see README)")

    grade = commands.add_parser("grade", help="grade a whole class into a results folder (resumable)")
    grade.add_argument("assignment", help="assignment name, e.g. my_linear (see `grader list`)")
    grade.add_argument("paths", nargs="+", type=Path, metavar="SUBMISSION_OR_DIR_OR_ARCHIVE",
                       help="submission files, class folders, or the zip/tar an LMS hands out (Canvas, Moodle, "
                            "Gradescope exports, folders of student repositories are recognised)")
    grade.add_argument("--out", type=Path, required=True, help="results folder (created when missing)")
    grade.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    grade.add_argument("--timeout", type=_positive, default=None,
                       help="wall-clock limit in seconds per submission (default 120)")
    grade.add_argument("--memory", type=_positive_int, default=None, metavar="MIB",
                       help="memory limit of the sandbox in MiB (default 4096)")
    grade.add_argument("--cell-timeout", type=_positive, default=None, metavar="SECONDS", help=CELL_TIMEOUT_HELP)
    grade.add_argument("--seed", type=int, default=None,
                       help="mixed into each submission's seed (default: derived from its content alone)")
    grade.add_argument("--executor", choices=("local", "dask"), default="local")
    grade.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (with --executor dask)")
    grade.add_argument("--force", action="store_true", help="grade again submissions that already have a result")
    grade.add_argument("--gradescope", action="store_true",
                       help="also write OUT/gradescope/<id>/results.json for each submission")
    grade.add_argument("--gradebook", choices=("canvas", "moodle", "csv"), default=None,
                       help="also write OUT/gradebook-KIND.csv, the file the LMS imports (keyed by its student ids)")
    grade.add_argument("--gradebook-column", default=None, metavar="TITLE",
                       help="Canvas: the exact assignment column from your Canvas export, e.g. 'My Linear (12345)' "
                            "(without it Canvas creates a new column named after the assignment)")

    validate = commands.add_parser("validate", help="prove references earn full marks and stubs earn zero")
    validate.add_argument("assignments", nargs="*", help="assignments to validate (default: all)")
    validate.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    validate.add_argument("--mutants", action="store_true",
                          help="also grade mutants of each reference; fail when one keeps full marks")
    validate.add_argument("--jobs", type=int, default=None, help="workers grading the mutants (default: cores)")

    release = commands.add_parser("release", help="write what students receive (no solutions, no hidden checks) "
                                                   "and what the final grading needs")
    release.add_argument("assignments", nargs="+", help="assignments to release")
    release.add_argument("--out", type=Path, required=True, help="folder for student/ and autograder/")
    release.add_argument("--gradescope", action="store_true",
                         help="also write a Gradescope autograder zip per assignment (OUT/gradescope/NAME.zip)")

    commands.add_parser("schema", help="print the JSON Schema of the results document")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(as_json=args.json)
        if args.command == "schema":
            from grader.results import schema

            print(json.dumps(schema(), indent=2))
            return 0
        if args.command == "check":
            return cmd_check(
                args.assignment, args.submission, device=args.device, fmt=args.fmt, output=args.output,
                timeout=args.timeout, seed=args.seed, show_output=args.show_output, memory=args.memory,
                cell_timeout=args.cell_timeout, no_server=args.no_server,
            )
        if args.command in ("grade", "validate"):
            from grader.startup import import_torch

            import_torch()
        if args.command == "grade":
            from grader.batch import BatchOptions, BatchUsageError, run_batch

            options = BatchOptions(jobs=args.jobs, device=args.device, timeout=args.timeout, seed=args.seed,
                                   memory=args.memory, cell_timeout=args.cell_timeout,
                                   force=args.force, executor=args.executor, scheduler=args.scheduler,
                                   gradescope=args.gradescope, gradebook=args.gradebook,
                                   gradebook_column=args.gradebook_column)
            try:
                return run_batch(args.assignment, args.paths, args.out, options)
            except BatchUsageError as exc:
                raise UsageError(str(exc)) from None
        if args.command == "release":
            return cmd_release(args.assignments, args.out, gradescope=args.gradescope)
        if args.command == "validate":
            from grader.validate import validate

            return validate(args.assignments or None, device=args.device, mutants=args.mutants, jobs=args.jobs)
    except (UsageError, UnknownAssignment) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    raise AssertionError(args.command)  # pragma: no cover - argparse rejects unknown commands


def cmd_release(names: list[str], out: Path, *, gradescope: bool = False) -> int:
    """Write the student and autograder folders (and Gradescope zips); print what each assignment hides."""
    from grader.release import ReleaseError, release

    for name in names:
        require_assignment(name)
    try:
        released = release(names, out)
        zips = []
        if gradescope:
            from grader.gradescope_bundle import write_bundle

            zips = [write_bundle(item.name, out) for item in released]
    except ReleaseError as exc:
        raise UsageError(str(exc)) from None
    for item in released:
        hidden = ", ".join(item.hidden_checks) or "none"
        print(f"{item.name}: {item.public_points:g} public points, {item.hidden_points:g} hidden ({hidden})")
    print(f"students: {out / 'student'}\nfinal grading: {out / 'autograder'}")
    for path in zips:
        print(f"gradescope: {path}")
    return 0


def cmd_list(*, as_json: bool) -> int:
    """Print the assignments with their titles and points."""
    rows = []
    for name in assignment_names():
        assignment = load_assignment(name)
        rows.append({
            "name": name,
            "title": assignment.title,
            "file": f"{name}.py",
            "checks": len(assignment.checks),
            "max_score": assignment.max_score,
        })
    if as_json:
        print(json.dumps({"course": str(course_root()), "assignments": rows}, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<18} {row['max_score']:>5g} pts  {row['title']}")
    return 0


def cmd_check(
    assignment_name: str,
    submission: Path,
    *,
    device: str = "auto",
    fmt: str = "text",
    output: Path | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    show_output: bool = False,
    memory: int | None = None,
    cell_timeout: float | None = None,
    no_server: bool = False,
) -> int:
    """Grade one submission and print (or write) the report; returns the exit status.

    A running check server (see :mod:`grader.server`) grades it when there is one, unless ``no_server``.
    """
    require_assignment(assignment_name)
    if not submission.exists():
        raise UsageError(f"{submission}: no such file")
    if submission.is_dir():
        raise UsageError(f"{submission} is a folder; give the .py or .ipynb file to check")
    if output is not None and not output.parent.resolve().is_dir():
        raise UsageError(f"--output {output}: the folder {output.parent} does not exist")

    if not no_server:
        served = _check_with_server(assignment_name, submission, device=device, fmt=fmt, timeout=timeout,
                                    seed=seed, show_output=show_output, memory=memory, cell_timeout=cell_timeout)
        if served is not None:
            text, full_marks = served
            _write_report(text, output)
            return EXIT_FULL if full_marks else EXIT_NOT_FULL

    from grader.startup import import_torch

    import_torch()
    from grader.grading import DeviceUnavailable, Grader, Options
    from grader.session import Limits

    limits = Limits.for_timeout(timeout, memory, cell_timeout)
    try:
        grader = Grader(Options(device=device, limits=limits, seed=seed))
    except DeviceUnavailable as exc:
        raise UsageError(str(exc)) from None
    try:
        # Loaded only now, after the zygote was forked: sandboxes never hold the checks in memory.
        result = grader.grade(load_assignment(assignment_name), submission)
    finally:
        grader.close()

    if fmt == "json":
        text = json.dumps(result.to_document(), indent=2) + "\n"
    elif fmt == "gradescope":
        from grader.results import to_gradescope

        text = json.dumps(to_gradescope(result), indent=2) + "\n"
    else:
        from grader.report import render_text

        text = render_text(result, show_log=show_output)
    _write_report(text, output)
    return EXIT_FULL if result.full_marks else EXIT_NOT_FULL


def _write_report(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


def _check_with_server(assignment_name: str, submission: Path, *, device: str, fmt: str, timeout: float | None,
                       seed: int | None, show_output: bool, memory: int | None,
                       cell_timeout: float | None) -> tuple[str, bool] | None:
    """(report, full marks) from the running check server; None when none runs or it went away (said on stderr)."""
    from grader.assignment import course_root
    from grader.server import CheckRequest, ServerLost, ServerRefused, ServerUnavailable, check_with_running_server

    request = CheckRequest(assignment=assignment_name, path=str(submission), cwd=os.getcwd(),
                           root=str(course_root()), device=device, timeout=timeout, memory=memory, seed=seed,
                           show_output=show_output, cell_timeout=cell_timeout)
    try:
        reply = check_with_running_server(request)
    except ServerUnavailable:
        return None
    except ServerRefused as exc:
        raise UsageError(str(exc)) from None
    except ServerLost as exc:
        print(f"grader: {exc}; checking without it.", file=sys.stderr)
        return None
    if fmt == "json":
        text = json.dumps(reply["document"], indent=2) + "\n"
    elif fmt == "gradescope":
        text = json.dumps(reply["gradescope"], indent=2) + "\n"
    else:
        text = str(reply["text"])
    return text, bool(reply["full_marks"])
