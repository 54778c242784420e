"""`grader grade`: a class folder graded through the real CLI, resumed, killed, and run on Dask."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import (
    ROOT,
    ZOO,
    empty_sandbox_cgroups,
    result_files,
    run_grader,
    sandbox_cgroups_under,
    sandbox_processes,
    stable,
    surviving_processes,
)

REFERENCE = ROOT / "reference" / "my_linear.py"
BUGGY = ZOO / "my_linear" / "bias_left_out.py"  # forward leaves the bias out: partial credit


def _copy(src: Path, dst: Path, variant: int = 0) -> None:
    """A copy with its own content (hence its own hash), as real students' files differ."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(src.read_text(encoding="utf-8") + f"\n# student {variant}\n", encoding="utf-8")


def _class(folder: Path, correct: int, buggy: int) -> list[str]:
    ids = []
    for i in range(correct):
        _copy(REFERENCE, folder / f"good{i:02d}.py", i)
        ids.append(f"good{i:02d}")
    for i in range(buggy):
        _copy(BUGGY, folder / f"buggy{i:02d}.py", i)
        ids.append(f"buggy{i:02d}")
    return sorted(ids)


def _csv(out: Path) -> list[dict[str, str]]:
    with (out / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_class_folder_with_bad_input(tmp_path: Path, schema: dict) -> None:
    """Files, one-submission folders, duplicates, junk and an unreadable file: each graded or explained."""
    subs = tmp_path / "class"
    _class(subs, correct=2, buggy=1)
    _copy(REFERENCE, subs / "dana" / "my_linear.py")  # a submission folder: id "dana"
    (subs / "dana" / "scratch.txt").write_text("notes")
    _copy(REFERENCE, subs / "erin" / "my_linear.py")  # two files, one named after the assignment
    _copy(BUGGY, subs / "erin" / "helper.py")
    (subs / "empty_folder").mkdir()
    _copy(REFERENCE, subs / "alice.py")
    shutil.copy(ZOO / "my_linear" / "correct_notebook.ipynb", subs / "alice.ipynb")  # the same id twice
    (subs / "notes.txt").write_text("not a submission")
    (subs / "carol.py").symlink_to(tmp_path / "gone.py")  # listed, but cannot be read
    (subs / ".hidden.py").write_text("ignored")
    out = tmp_path / "out"

    run = run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "2", "--gradescope")
    assert run.returncode == 0, run.stderr
    assert "notes.txt: not a .py or .ipynb file (skipped)" in run.stderr
    assert "empty_folder: no .py or .ipynb file in this submission folder" in run.stderr
    assert "id 'alice' is used by 2 files" in run.stderr

    ids = sorted(["alice.ipynb", "alice.py", "buggy00", "carol", "dana", "erin", "good00", "good01"])
    results = result_files(out)
    assert sorted(results) == ids
    for doc in results.values():
        jsonschema.validate(doc, schema)
    assert results["carol"]["status"] == "rejected" and "is a symbolic link" in results["carol"]["errors"][0]["message"]
    assert results["erin"]["submission"]["path"].endswith("my_linear.py")
    assert results["alice.ipynb"]["submission"]["kind"] == "ipynb"
    scores = {i: results[i]["score"] for i in ids}
    assert scores["good00"] == scores["dana"] == scores["alice.py"] == scores["alice.ipynb"] == 11.0
    assert 0 < scores["buggy00"] < 11.0

    rows = _csv(out)
    assert [r["id"] for r in rows] == ids  # one row each, in a stable order
    assert list(rows[0])[:7] == ["id", "student", "status", "score", "max_score", "builds", "stores_sizes"]
    assert rows[ids.index("buggy00")]["forward[cpu]"] == "0"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["submissions"] == len(ids) and summary["scores"]["full_marks"] == 6
    assert next(c for c in summary["checks"] if c["id"] == "forward[cpu]")["pass_rate"] == pytest.approx(6 / 8)
    html = (out / "report.html").read_text()
    assert '<a href="feedback/good00.html">good00</a>' in html and '<a href="good00.json">JSON</a>' in html
    assert "<svg" in html and "<script" not in html
    gradescope = json.loads((out / "gradescope" / "good00" / "results.json").read_text())
    assert gradescope["score"] == 11.0
    assert "pass rate per check" in run.stdout


def test_resume_skips_graded_regrades_changed_and_force(tmp_path: Path) -> None:
    subs, out = tmp_path / "class", tmp_path / "out"
    _class(subs, correct=2, buggy=1)
    assert run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "2").returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}

    again = run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "2")
    assert again.returncode == 0 and "3 submission(s) already graded" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json") if p.name != "summary.json"} == {
        k: v for k, v in before.items() if k != "summary.json"}

    _copy(BUGGY, subs / "good00.py", 99)  # good00 changed its file: graded again
    changed = run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "2")
    assert "2 submission(s) already graded" in changed.stderr
    assert result_files(out)["good00"]["score"] < 11.0
    assert len(_csv(out)) == 3

    forced = run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "2", "--force")
    assert "already graded" not in forced.stderr and "[3/3]" in forced.stderr


@pytest.mark.exclusive
def test_kill_9_part_way_then_resume_equals_a_clean_run(tmp_path: Path) -> None:
    subs = tmp_path / "class"
    ids = _class(subs, correct=8, buggy=6)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert run_grader("grade", "my_linear", subs, "--out", clean, "--jobs", "2").returncode == 0

    sandboxes_before = sandbox_processes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", "my_linear", str(subs), "--out", str(killed), "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(killed.glob("*.json"))) < 4:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and everything it started that shares its group
    proc.wait()
    # Workers (in process groups of their own), their zygotes and sandboxes die with the batch.
    assert surviving_processes(str(killed), sandboxes_before=sandboxes_before) == []
    # The zygotes, told by the kernel that their worker died, remove their cgroups as they go; what one could not
    # remove in time (under load) the next zygote's sweep removes: asserted after the resumed run below.
    partial = result_files(killed)
    assert 4 <= len(partial) < len(ids), "the kill should land part-way"
    for doc in partial.values():  # whatever was written is whole
        assert doc["status"] == "graded"

    resumed = run_grader("grade", "my_linear", subs, "--out", killed, "--jobs", "2")
    assert resumed.returncode == 0
    assert f"{len(partial)} submission(s) already graded" in resumed.stderr
    assert not list(killed.glob(".*.tmp"))
    final, reference = result_files(killed), result_files(clean)
    assert sorted(final) == ids
    assert {i: stable(d) for i, d in final.items()} == {i: stable(d) for i, d in reference.items()}
    assert [r["id"] for r in _csv(killed)] == ids
    deadline = time.monotonic() + 10  # a zygote stopped by SIGTERM may still be removing its own cgroups
    while empty_sandbox_cgroups() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert empty_sandbox_cgroups() == []  # nothing of the killed batch's sandboxes is left on the machine


def test_a_killed_zygote_is_replaced_and_later_submissions_grade_normally(tmp_path: Path) -> None:
    subs = tmp_path / "class"
    subs.mkdir()
    shutil.copy(ZOO / "hostile" / "kill_parent.py", subs / "a_kill_parent.py")
    _copy(REFERENCE, subs / "b_good.py")
    _copy(REFERENCE, subs / "c_good.py", 1)
    # Without namespaces (GRADER_ISOLATION=none, as on a machine that has none) the submission can see
    # and kill its sandbox's launcher; the worker then starts a fresh one.
    out = tmp_path / "out"
    run = run_grader("grade", "my_linear", subs, "--out", out, "--jobs", "1", env={"GRADER_ISOLATION": "none"})
    assert run.returncode == 0, run.stderr
    results = result_files(out)
    assert results["a_kill_parent"]["score"] < 10.0  # it lost checks to its own attack
    assert results["b_good"]["score"] == results["c_good"]["score"] == 11.0
    # In its own pid namespace the launcher is out of its reach: it earns what its code earns (no_bias fails).
    walled = tmp_path / "walled"
    run = run_grader("grade", "my_linear", subs, "--out", walled, "--jobs", "1")
    assert run.returncode == 0, run.stderr
    results = result_files(walled)
    assert "pid namespace" in results["a_kill_parent"]["environment"]["isolation"]
    assert results["a_kill_parent"]["score"] == 10.0
    assert results["b_good"]["score"] == results["c_good"]["score"] == 11.0


POOL_SCRIPT = """
import torch  # imported, never computed with: the pool forks from this process
from grader.session import Limits
from grader.workers import LocalPool, Task, task_limits
pool = LocalPool(3)
pool.start(Task("my_linear", "", "", "", "", "cpu", None, task_limits(Limits())))
workers = [slot.process for slot in pool._slots]
pool.shrink(1)
print("ALIVE", [w.is_alive() for w in workers], len(pool._slots))
pool.shrink(0)
print("ALIVE", [w.is_alive() for w in workers], len(pool._slots))
"""


def test_workers_started_before_the_class_list_are_trimmed_to_the_tasks() -> None:
    # The local pool forks its workers before the batch reads the class list (so that no sandbox inherits
    # classmates' names); the workers a smaller batch does not need are stopped, all of them when none is.
    run = subprocess.run([sys.executable, "-c", POOL_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["ALIVE [True, False, False] 1", "ALIVE [False, False, False] 0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grade", "my_linear", "{empty}", "--out", "{out}"), "no .py or .ipynb submissions found"),
        (("grade", "my_linear", "{ref}", "--out", "{file}/results"), "cannot write results there"),
        (("grade", "nope", "{ref}", "--out", "{out}"), "unknown assignment"),
        (("grade", "my_linear", "{ref}", "--out", "{out}", "--jobs", "0"), "must be at least 1"),
        (("grade", "my_linear", "{ref}", "--out", "{out}", "--executor", "dask"), "needs --scheduler"),
        (("grade", "my_linear", "{ref}"), "--out"),
    ],
)
def test_batch_usage_errors_exit_2_with_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    names = {"empty": tmp_path / "empty", "out": tmp_path / "out", "ref": REFERENCE, "file": tmp_path / "file"}
    run = run_grader(*(a.format(**names) for a in args))
    assert run.returncode == 2
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


@pytest.mark.timeout(600)
def test_dask_scheduler_and_workers_on_loopback_give_the_local_scores(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    dask = Path(sys.executable).with_name("dask")
    subs = tmp_path / "class"
    ids = _class(subs, correct=3, buggy=2)
    shutil.copy(ZOO / "my_linear" / "plain_tensors.py", subs / "plain_tensors.py")
    ids = sorted([*ids, "plain_tensors"])
    local = tmp_path / "local"
    assert run_grader("grade", "my_linear", subs, "--out", local, "--jobs", "2").returncode == 0

    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--scheduler-file", str(file), "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    workers = None
    made: list[Path] = []
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = subprocess.Popen(
            [str(dask), "worker", "--scheduler-file", str(file), "--nworkers", "2", "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--resources", "GPU=1"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        remote = tmp_path / "dask"
        run = run_grader("grade", "my_linear", subs, "--out", remote, "--executor", "dask", "--scheduler", address,
                         timeout=400)
        assert run.returncode == 0, run.stderr
        made = sandbox_cgroups_under(workers.pid)  # the workers' zygotes' cgroups, named after them, while they live
    finally:
        for proc in (workers, scheduler):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    assert [r["id"] for r in _csv(remote)] == ids
    local_docs = {i: stable(d) for i, d in result_files(local).items()}
    assert {i: stable(d) for i, d in result_files(remote).items()} == local_docs
    # The Dask workers never close their Graders; their zygotes clean up their cgroups as the workers go. Only
    # this test's cgroups are looked at, so other tests may grade meanwhile (this test is not `exclusive`).
    if any(layer.startswith("cgroup") for layer in result_files(remote)["plain_tensors"]["environment"]["isolation"]):
        assert made, "the workers' sandboxes ran in cgroups, yet none was found under the workers' zygotes"
    deadline = time.monotonic() + 10
    while [f for f in made if f.exists()] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [f for f in made if f.exists()] == []


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the batch shows a bar with rate and time left; elsewhere plain lines (tested above)."""
    import pty

    subs = tmp_path / "class"
    _class(subs, correct=2, buggy=1)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real CLI, its stderr a terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "grader", "grade", "my_linear", str(subs),
                                  "--out", str(tmp_path / "out"), "--jobs", "2"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "3/3" in text and "sub/s" in text and "100%" in text, text
    assert "[1/3]" not in text  # no plain lines on a terminal
