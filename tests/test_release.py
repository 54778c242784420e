"""`grader release`: students receive no solution and no hidden check; `grader check` works inside the release."""

from __future__ import annotations

import ast
import itertools
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, ROOT, in_parallel, run_grader

CHECKS = '''
"""Judge side of a tiny assignment with hidden checks."""

from __future__ import annotations

from grader.check import CheckFailed, Context, check
from grader.compare import expect_close

TITLE = "Double it"
SIZES = (4, 7)  # shared by a public and a hidden check: stays
EMPTY_SHAPE_EXPECTED = [0]  # only the hidden check reads it: must go


def _shared(ctx: Context, size: int) -> list[float]:
    return ctx.randn(size).tolist()


def _secret_cases() -> list[list[float]]:
    """Only the hidden checks use this: the edge cases they test."""
    return [[], [1e30, -1e30]]


@check(points=1, hint="Define double(x).")
def exists(ctx: Context) -> None:
    """double is defined."""
    ctx.probe("call", x=_shared(ctx, SIZES[0]))


@check(points=2, hint="Return 2 * x.")
def doubles(ctx: Context) -> None:
    """double(x) returns 2 * x."""
    x = _shared(ctx, SIZES[1])
    import torch

    expect_close(ctx.probe("call", x=x), 2 * torch.tensor(x).double(), "double(x)")


@check(points=3, hidden=True, hint="an edge case the students must find themselves")
def handles_edge_cases(ctx: Context) -> None:
    """double works on an empty tensor and on huge values."""
    for case in _secret_cases():
        obs = ctx.probe("call_raw", x=case)
        if obs.get("shape") != [len(case)] or obs.get("shape") == EMPTY_SHAPE_EXPECTED and case:
            raise CheckFailed("a tensor of the input's shape", str(obs.get("shape")), "secret remark 4711")


@check(points=2, hidden=True, hint="another secret")
def keeps_dtype(ctx: Context) -> None:
    """double keeps float64."""
    obs = ctx.probe("call_float64", x=_shared(ctx, SIZES[0]))
    if obs.get("dtype") != "float64":
        raise CheckFailed("float64", str(obs.get("dtype")), "secret remark 4712")
'''

PROBES = '''
"""Sandbox side of the tiny assignment."""

import torch

from grader.sandbox.student import observe


def _double(student):
    return student.function("double")


def call(student, x):
    return observe(_double(student)(torch.tensor(x)))


def call_raw(student, x):
    return observe(_double(student)(torch.tensor(x, dtype=torch.float32)))


def call_float64(student, x):
    return observe(_double(student)(torch.tensor(x, dtype=torch.float64)))
'''

REFERENCE = "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"


def make_course(root: Path) -> Path:
    folder = root / "assignments" / "tiny"
    folder.mkdir(parents=True)
    (folder / "checks.py").write_text(CHECKS)
    (folder / "probes.py").write_text(PROBES)
    (folder / "statement.md").write_text("# Double it\n")
    (folder / "data.txt").write_text("a data file the assignment ships\n")
    (root / "reference").mkdir()
    (root / "reference" / "tiny.py").write_text(REFERENCE)
    subprocess.run([sys.executable, "-m", "grader.stubs"], cwd=root, check=True, capture_output=True)
    return root


def _significant(line: str) -> bool:
    """A line worth looking for: not blank, not only punctuation or a keyword, not a comment marker."""
    text = line.strip()
    return len(text) > 8 and not re.fullmatch(r"[\W_]*|(return|pass|else:|try:|finally:)\b.*", text) \
        and "SOLUTION" not in text


def _solution_lines(reference: str) -> set[str]:
    return {line for block in _solution_blocks(reference) for line in block}


def _solution_blocks(reference: str) -> list[list[str]]:
    """The significant lines of each ``# BEGIN SOLUTION`` block, stripped, in order."""
    blocks: list[list[str]] = []
    inside = False
    for line in reference.splitlines():
        if "# BEGIN SOLUTION" in line:
            inside = True
            blocks.append([])
        elif "# END SOLUTION" in line:
            inside = False
        elif inside and _significant(line):
            blocks[-1].append(line.strip())
    return blocks


def _leaks(reference: str, folder: Path) -> list[str]:
    """Where a solution shows in a release.

    The stubs, the README and any other file the student receives may hold no solution line at all. The
    grader's own code shipped for `grader check` (checks.py, probes.py, the grader's wheel) may share a single
    idiom with a solution (`optimizer.step()` drives the student's code in a probe) but no two consecutive
    solution lines.
    The statement is the instructor's text for the students, published on purpose, and is not scanned.
    """
    lines = _solution_lines(reference)
    pairs = {(block[i], block[i + 1]) for block in _solution_blocks(reference) for i in range(len(block) - 1)}
    found = []
    for path, text in _texts(folder):
        if path.name == "statement.md":
            continue
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        mine = [line.strip() for line in text.splitlines() if _significant(line)]
        if path.name in ("checks.py", "probes.py") or path.parent.suffix == ".whl" or ".whl/" in str(path):
            found += [f"{path}: {a!r} then {b!r}" for a, b in itertools.pairwise(mine) if (a, b) in pairs]
        else:
            found += [f"{path}: {line!r}" for line in mine if line in lines]
    return found


def _hidden_check_lines(checks_source: str) -> set[str]:
    """Every significant line of the hidden checks' source (decorator, docstring, body) that the rest of
    ``checks.py`` does not also hold (a loop header or a helper call shared with a public check is public)."""
    tree = ast.parse(checks_source)
    source = checks_source.splitlines()
    hidden_rows: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        decorators = [d for d in node.decorator_list if isinstance(d, ast.Call)]
        if any(k.arg == "hidden" and getattr(k.value, "value", False) is True for d in decorators for k in d.keywords):
            first = min(d.lineno for d in node.decorator_list)
            assert node.end_lineno is not None
            hidden_rows |= set(range(first - 1, node.end_lineno))
    hidden = {source[row].strip() for row in hidden_rows if _significant(source[row])}
    public = {line.strip() for row, line in enumerate(source) if row not in hidden_rows and _significant(line)}
    return hidden - public


def _texts(folder: Path) -> list[tuple[Path, str]]:
    """Every file of a release as text, and every file inside its wheel (the grader the students install)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                found += [(path / name, wheel.read(name).decode("utf-8", "replace")) for name in wheel.namelist()]
        else:
            found.append((path, path.read_text(encoding="utf-8")))
    return found


def _release_lines(folder: Path) -> dict[str, Path]:
    """Every stripped line of every file in a release (notebook cells included, as JSON strings)."""
    lines: dict[str, Path] = {}
    for path, text in _texts(folder):
        if path.suffix == ".ipynb":
            text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
        for line in text.splitlines():
            lines.setdefault(line.strip(), path)
    return lines


def test_hidden_checks_and_what_only_they_use_leave_the_student_copy(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    out = tmp_path / "release"
    run = run_grader("release", "tiny", "--out", out, cwd=course)
    assert run.returncode == 0, run.stderr
    assert "tiny: 3 public points, 5 hidden (handles_edge_cases, keeps_dtype)" in run.stdout

    student = (out / "student" / "assignments" / "tiny" / "checks.py").read_text()
    probes = (out / "student" / "assignments" / "tiny" / "probes.py").read_text()
    for gone in ("handles_edge_cases", "keeps_dtype", "_secret_cases", "EMPTY_SHAPE_EXPECTED", "secret remark",
                 "an edge case the students", "1e30"):
        assert gone not in student, gone
    for gone in ("call_raw", "call_float64"):
        assert gone not in probes, gone
    for kept in ("def exists", "def doubles", "def _shared", "SIZES = (4, 7)", "HIDDEN_POINTS = 5"):
        assert kept in student, kept
    assert "def call(" in probes and "def _double(" in probes
    ast.parse(student), ast.parse(probes)  # still Python
    assert (out / "student" / "assignments" / "tiny" / "data.txt").is_file()
    assert not (out / "student" / "reference").exists() and not (out / "autograder" / "reference").exists()
    hidden = _hidden_check_lines(CHECKS)
    assert hidden and not hidden & set(_release_lines(out / "student"))
    assert not _leaks(REFERENCE, out / "student")
    # The final grading's copy has every check.
    assert "def handles_edge_cases" in (out / "autograder" / "assignments" / "tiny" / "checks.py").read_text()

    # Inside the student release, `grader check` grades the public checks and says what the final grading adds.
    (out / "student" / "mine.py").write_text("def double(x):\n    return 2 * x\n")
    inside = run_grader("check", "tiny", "mine.py", "--format", "json", cwd=out / "student", warm=True)
    doc = inside.json()
    assert inside.returncode == 0 and doc["score"] == doc["max_score"] == 3
    assert {c["id"] for c in doc["checks"]} == {"exists", "doubles"}
    assert any("hidden checks worth 5 more points (out of 8)" in note for note in doc["notes"])
    text = run_grader("check", "tiny", "mine.py", cwd=out / "student", warm=True)
    assert "hidden checks worth 5 more points" in text.stdout
    final = run_grader("check", "tiny", out / "student" / "mine.py", "--format", "json", cwd=out / "autograder",
                       warm=True)
    assert final.json()["max_score"] == 8 and final.json()["score"] == 8


def test_release_refuses_to_overwrite_and_a_public_check_that_needs_a_hidden_one(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    out = tmp_path / "release"
    assert run_grader("release", "tiny", "--out", out, cwd=course).returncode == 0
    again = run_grader("release", "tiny", "--out", out, cwd=course)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr

    checks = course / "assignments" / "tiny" / "checks.py"
    checks.write_text(checks.read_text() + '''

@check(points=1, depends=[keeps_dtype])
def doubles_later(ctx: Context) -> None:
    """double still works after keeps_dtype."""
    ctx.probe("call", x=[1.0])
''')
    refused = run_grader("release", "tiny", "--out", tmp_path / "other", cwd=course)
    assert refused.returncode == 2
    assert "the public check doubles_later depends on the hidden check keeps_dtype" in refused.stderr


@pytest.fixture(scope="module")
def course_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    run = run_grader("release", *sorted(ASSIGNMENTS), "--out", out)
    assert run.returncode == 0, run.stderr
    return out


def test_the_course_release_holds_no_solution_line_and_no_hidden_check(course_release: Path) -> None:
    assert not list((course_release / "student").rglob("reference*"))
    for name in ASSIGNMENTS:
        reference = (ROOT / "reference" / f"{name}.py").read_text()
        assert _solution_lines(reference), name
        leaks = _leaks(reference, course_release / "student")
        assert not leaks, f"{name}: the solution shows in the student release:\n" + "\n".join(leaks)
        hidden = _hidden_check_lines((ROOT / "assignments" / name / "checks.py").read_text())
        own = _release_lines(course_release / "student" / "assignments" / name)
        leaked = {line: str(own[line]) for line in hidden if line in own}
        assert not leaked, f"{name}: hidden-check lines in the student release: {leaked}"


def test_check_inside_the_course_release_gives_the_public_score(course_release: Path) -> None:
    """Each reference earns the public checks' full score from inside the release; a stub notebook earns 0."""
    student = course_release / "student"
    names = sorted(ASSIGNMENTS)
    runs = in_parallel([
        *(lambda n=n: run_grader("check", n, ROOT / "reference" / f"{n}.py", "--format", "json", "--seed", "3",
                                 cwd=student, warm=True) for n in names),
        lambda: run_grader("check", "my_sgd", student / "assignments" / "my_sgd" / "my_sgd.ipynb", "--format", "json",
                           cwd=student, warm=True)])
    for name, reference in zip(names, runs, strict=False):
        public = json.loads(reference.stdout)
        hidden_points = ASSIGNMENTS[name] - public["max_score"]
        assert reference.returncode == 0 and public["score"] == public["max_score"], (name, reference.stderr)
        assert not any(c["hidden"] for c in public["checks"]), name
        if hidden_points:
            assert any(f"worth {hidden_points:g} more points" in note for note in public["notes"]), name
    stub = json.loads(runs[-1].stdout)
    assert stub["score"] == 0 and stub["max_score"] == json.loads(runs[names.index("my_sgd")].stdout)["max_score"]


def test_the_student_workflow_gives_the_points_grader_check_gives(course_release: Path, tmp_path: Path) -> None:
    """The release's GitHub Actions workflow, its grading step run here as Actions runs it, in a student's repo."""
    import base64
    import os

    import yaml

    repo = tmp_path / "repo"
    shutil.copytree(course_release / "student", repo)
    reference = (ROOT / "reference" / "my_linear.py").read_bytes()
    (repo / "assignments" / "my_linear" / "my_linear.py").write_bytes(reference)
    (repo / "assignments" / "manual_lr" / "manual_lr.py").write_bytes(
        (ROOT / "tests" / "zoo" / "manual_lr" / "backward_no_mean.py").read_bytes())
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "grader.yml").read_text())
    assert "push" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["check"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    wheel = re.search(r"tools/\S+\.whl", install["run"])
    assert wheel and (repo / wheel.group(0)).is_file()  # the grader the workflow installs is in the repository
    grading = next(s for s in steps if s.get("id") == "grader")
    reporter = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    assert reporter["with"]["runners"] == "grader"
    assert "steps.grader.outputs.result" in reporter["env"]["GRADER_RESULTS"]

    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GRADER_COURSE", None)
    run = subprocess.run(["bash", "-e", "-c", grading["run"]], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    encoded = next(line for line in output.read_text().splitlines() if line.startswith("result="))
    result = json.loads(base64.b64decode(encoded.removeprefix("result=")))
    from grader.assignment import load_assignment

    public_points = sum(c.points for n in ASSIGNMENTS for c in load_assignment(n, ROOT).checks if not c.hidden)
    assert result["version"] == 1 and result["max_score"] == public_points
    points = {name: sum(t["score"] for t in result["tests"] if t["name"].startswith(f"{name}: "))
              for name in ASSIGNMENTS}

    worked = ["my_linear", "manual_lr"]  # the other assignments are still the stubs: 0 (validate's test)
    checks = in_parallel([lambda n=n: run_grader("check", n, repo / "assignments" / n / f"{n}.py", "--format",
                                                 "json", cwd=repo, warm=True) for n in worked])
    expected = {n: 0.0 for n in ASSIGNMENTS} | {n: json.loads(c.stdout)["score"] for n, c in zip(worked, checks,
                                                                                              strict=True)}
    assert points == expected
    assert expected["my_linear"] == 10 and 0 < expected["manual_lr"] < 10  # public points: 10 and 9
    text = summary.read_text()
    assert f"## Grader: {sum(expected.values()):g}/{public_points:g} points" in text
    assert "The final grading adds hidden checks" in text
    assert "| `my_linear` | `assignments/my_linear/my_linear.py` | 10/10 |" in text
    assert "### manual_lr" in text and "Hint:" in text
    assert f"Points {sum(expected.values()):g}/" in run.stdout


def test_the_grader_wheel_is_built_once_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel a release ships is kept in the user's cache under the hash of its source: a second build of the
    same source copies it without running pip; any edited source file changes the key; and a cache folder that
    another user could write is not used."""
    from grader import wheel

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = wheel.build_wheel(tmp_path / "first")  # a real `pip wheel`
    with zipfile.ZipFile(first) as archive:
        assert "grader/cli.py" in archive.namelist()

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip built the wheel again for an unchanged source")

    monkeypatch.setattr(wheel.subprocess, "run", no_pip)
    second = wheel.build_wheel(tmp_path / "second")
    assert second.parent == tmp_path / "second" and second.read_bytes() == first.read_bytes()

    copy = tmp_path / "second" / "source"
    key = wheel.source_key(copy)
    assert [p.name for p in (tmp_path / "cache" / "torch-grader" / "wheels").iterdir()] == [key]
    init = copy / "grader" / "__init__.py"
    init.write_text(init.read_text() + "\n# edited\n")
    assert wheel.source_key(copy) != key

    (tmp_path / "cache" / "torch-grader" / "wheels").chmod(0o777)
    assert wheel.cache_folder() is None
    with pytest.raises(AssertionError, match="pip built the wheel again"):
        wheel.build_wheel(tmp_path / "third")  # without a cache it builds, whatever was kept
