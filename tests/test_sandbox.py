"""Misbehaving submissions end in a clear result, in bounded time, without affecting the verdict."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT, ZOO, Listener, check_by_id, check_json, failed_ids, run_grader

# The tests of what a sandbox can see of the judge's memory, environment and command line run each `grader`
# command in a new Python (fresh_python): a command forked from the test's preloaded helper (conftest.run_grader)
# carries that helper's memory and /proc environment, not a shell's. The others fork, as most tests do.

HOSTILE = ZOO / "hostile"


def test_infinite_loop_times_out_within_the_budget() -> None:
    started = time.monotonic()
    run, doc = check_json("my_linear", HOSTILE / "infinite_loop_forward.py", "--device", "cpu", "--timeout", "4")
    elapsed = time.monotonic() - started
    assert run.returncode == 1 and doc["status"] == "graded"
    assert check_by_id(doc, "builds")["status"] == "passed"
    assert check_by_id(doc, "parameters_registered")["status"] == "passed"
    stuck = check_by_id(doc, "no_bias")
    assert stuck["status"] == "timeout" and "did not finish within" in stuck["message"]
    assert "check `no_bias`" in stuck["message"]
    after = [c["id"] for c in doc["checks"]].index("no_bias") + 1
    assert all(c["status"] == "skipped" and "time limit of 4 s" in c["message"] for c in doc["checks"][after:])
    assert doc["max_score"] == 11.0
    assert elapsed < 4 + 10  # the budget, plus slack for a loaded machine


def test_os_exit_at_import_is_a_crash_with_the_reason() -> None:
    run, doc = check_json("my_linear", HOSTILE / "os_exit_at_import.py")
    assert run.returncode == 1
    assert doc["status"] == "crashed"
    assert "exited with status 3" in doc["errors"][0]["message"]
    assert doc["score"] == 0 and doc["max_score"] == 11.0


def test_sys_exit_in_forward_fails_only_the_checks_that_call_it() -> None:
    run, doc = check_json("my_linear", HOSTILE / "sys_exit_in_forward.py", "--device", "cpu")
    assert run.returncode == 1 and doc["status"] == "graded"
    forward = check_by_id(doc, "forward[cpu]")
    assert forward["status"] == "failed"
    assert "SystemExit" in forward["message"] and "sys_exit_in_forward.py, line 15" in forward["message"]
    assert "sys.exit()" in forward["hint"]
    assert check_by_id(doc, "parameters_registered")["status"] == "passed"


def test_memory_hog_is_stopped_by_the_memory_limit() -> None:
    run, doc = check_json("my_linear", HOSTILE / "memory_hog_forward.py", "--device", "cpu")
    assert run.returncode == 1 and doc["status"] == "graded"
    assert any(layer.startswith("memory") for layer in doc["environment"]["isolation"])
    forward = check_by_id(doc, "forward[cpu]")
    assert forward["status"] in ("failed", "error")
    assert "memory" in (forward["hint"] or "") + forward["message"]
    assert check_by_id(doc, "builds")["status"] == "passed"


def test_stdout_flood_is_kept_bounded_and_costs_nothing() -> None:
    run, doc = check_json("my_linear", HOSTILE / "stdout_flood.py")
    assert run.returncode == 0 and doc["score"] == 11.0
    assert len(doc["log"]) < 70_000
    assert "more bytes of output were not kept" in doc["log"]


def test_forged_results_and_patched_comparisons_change_nothing() -> None:
    run, doc = check_json("my_linear", HOSTILE / "forge_results.py", "--device", "cpu")
    assert run.returncode == 1
    assert check_by_id(doc, "forward[cpu]")["status"] == "failed"
    assert "bias is left out" in check_by_id(doc, "forward[cpu]")["hint"]
    assert doc["score"] < 10
    assert '"score": 100' in doc["log"]  # what it printed is kept as a log, nothing more


def test_killing_the_parent_reaches_nobody() -> None:
    # The submission runs as pid 1 of its own pid namespace: its parent is outside (getppid() is 0), and
    # neither the sandbox's launcher nor the judge can be signalled. Its code earns exactly what it earns
    # without the attack: everything but `no_bias`, where its forward adds a None bias.
    run, doc = check_json("my_linear", HOSTILE / "kill_parent.py")
    assert "pid namespace" in doc["environment"]["isolation"]
    assert run.returncode == 1 and doc["status"] == "graded"
    assert failed_ids(doc) == {"no_bias"}
    assert doc["score"] == 10.0


def _network_call(tmp_path: Path, port: int) -> Path:
    """network_call.py, aimed at ``port``."""
    source = (HOSTILE / "network_call.py").read_text().replace("PORT = 9", f"PORT = {port}")
    assert f"PORT = {port}" in source
    submission = tmp_path / "network_call.py"
    submission.write_text(source)
    return submission


def test_network_is_unreachable_from_the_sandbox(tmp_path: Path) -> None:
    listener = Listener()
    try:
        run = run_grader("check", "my_linear", _network_call(tmp_path, listener.port), "--format", "json")
    finally:
        listener.close()
    doc = run.json()
    assert run.returncode == 0 and doc["score"] == 11.0
    assert "network namespace (no network)" in doc["environment"]["isolation"]
    assert listener.connections == 0 and listener.received == b""
    assert "no network" in doc["log"]


@pytest.mark.fresh_python
def test_a_sandbox_starts_with_torchs_objects_frozen(tmp_path: Path) -> None:
    """A cold `grader check` imports torch with the collector paused and freezes the result (grader.startup), and
    the zygote freezes what it holds before each fork: a sandbox's collections skip the million objects."""
    submission = tmp_path / "my_linear.py"
    submission.write_text((ROOT / "reference" / "my_linear.py").read_text()
                          + "\nimport gc\nprint('frozen objects:', gc.get_freeze_count(), gc.isenabled())\n")
    run, doc = check_json("my_linear", submission, "--no-server")
    assert run.returncode == 0 and doc["score"] == 11.0
    found = re.search(r"frozen objects: (\d+) (\w+)", doc["log"])
    assert found is not None, doc["log"]
    assert int(found.group(1)) > 100_000 and found.group(2) == "True"  # frozen, and the collector still on


def test_a_sandbox_draws_what_torch_manual_seed_draws(tmp_path: Path) -> None:
    """The sandbox seeds only the CPU generator where it has no CUDA (child._Server.seed): the student's first
    random numbers are still those of ``torch.manual_seed(seed)``."""
    import torch

    submission = tmp_path / "my_linear.py"
    submission.write_text((ROOT / "reference" / "my_linear.py").read_text()
                          + "\nimport torch\nprint('first draw:', torch.rand(3).tolist())\n")
    run, doc = check_json("my_linear", submission, "--device", "cpu")
    assert run.returncode == 0 and doc["score"] == 11.0
    found = re.search(r"first draw: (\[.*\])", doc["log"])
    assert found is not None, doc["log"]
    torch.manual_seed(7)
    assert json.loads(found.group(1)) == torch.rand(3).tolist()


@pytest.mark.fresh_python
def test_a_warm_sandbox_imports_nothing(tmp_path: Path) -> None:
    """`grade` preloads what its sandboxes would import at their first request and first optimizer step
    (grader.startup.import_torch): a sandbox's log, with Python's import timing on, shows no import."""
    (tmp_path / "class").mkdir()
    shutil.copy(ROOT / "reference" / "my_sgd.py", tmp_path / "class" / "alice.py")
    run = run_grader("grade", "my_sgd", tmp_path / "class", "--out", tmp_path / "out", "--jobs", "1",
                     env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "alice.json").read_text())
    assert doc["score"] == 12.0
    assert [line for line in doc["log"].splitlines() if line.startswith("import time:")] == []


def test_without_namespaces_the_layer_is_not_claimed(tmp_path: Path) -> None:
    # GRADER_ISOLATION=none is what a machine without namespaces gets: grading still works, the rlimits
    # still apply, and the results do not claim walls that are not there (here the connection goes through).
    listener = Listener()
    try:
        run = run_grader("check", "my_linear", _network_call(tmp_path, listener.port), "--format", "json",
                         env={"GRADER_ISOLATION": "none"})
    finally:
        listener.close()
    doc = run.json()
    assert run.returncode == 0 and doc["score"] == 11.0
    isolation = doc["environment"]["isolation"]
    assert "namespaces off" in isolation and any(layer.startswith("cpu-time") for layer in isolation)
    assert not any("namespace" in layer and layer != "namespaces off" for layer in isolation)
    assert listener.connections == 1 and listener.received == b"stolen" and "connected" in doc["log"]


@pytest.mark.fresh_python
def test_checks_are_not_in_the_sandbox_memory() -> None:
    run, doc = check_json("my_linear", HOSTILE / "snoop_memory.py")
    assert run.returncode == 0
    assert "SNOOPED [] 0" in doc["log"]


@pytest.mark.fresh_python
def test_no_sandbox_holds_an_earlier_classmates_folder_name_in_memory(tmp_path: Path) -> None:
    # One worker, one zygote: a folder submission is graded first, then a submission that scans its own raw
    # memory (heap and anonymous mappings, freed bytes included) for that folder's name. Every sandbox is a
    # copy of the zygote's memory, so the name must never have passed through the zygote.
    name = "quentin_privatename"
    classroom = tmp_path / "class"
    (classroom / name).mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "my_linear.py", classroom / name / "my_linear.py")
    snoop = (HOSTILE / "snoop_other_submissions.py").read_text()
    shifted = "".join(chr(ord(c) + 1) for c in name)
    snoop, count = re.subn(r"SHIFTED = \[.*?\]\nWHAT = \[.*?\]", f"SHIFTED = [{shifted!r}]\nWHAT = ['name']", snoop,
                           flags=re.DOTALL)
    assert count == 1
    (classroom / "zz_snoop.py").write_text(snoop)
    out = tmp_path / "out"
    run = run_grader("grade", "my_linear", classroom, "--out", out, "--jobs", "1", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    log = json.loads((out / "zz_snoop.json").read_text())["log"]
    assert "no classmate's code or name in my memory" in log, log
    assert json.loads((out / f"{name}.json").read_text())["score"] == 11.0


@pytest.mark.fresh_python
@pytest.mark.parametrize("isolation", ["walls", "none"])
def test_the_judges_environment_and_command_line_are_wiped(tmp_path: Path, isolation: str) -> None:
    # os.environ is cleaned, but a fork also copies the memory that /proc/self/environ and /proc/self/cmdline
    # read, and sys.argv: with or without namespaces, none of them may show the judge's secrets or paths.
    source = (ROOT / "reference" / "my_linear.py").read_text() + (
        "\nimport sys\n"
        "print('ENVIRON', open('/proc/self/environ', 'rb').read())\n"
        "print('CMDLINE', open('/proc/self/cmdline', 'rb').read().rstrip(b'\\0'))\n"
        "print('ARGV', sys.argv, sys.orig_argv)\n"
    )
    submission = tmp_path / "private-folder" / "alice.py"
    submission.parent.mkdir()
    submission.write_text(source)
    env = {"JUDGE_TOKEN_FOR_TEST": "hunter2"} | ({"GRADER_ISOLATION": "none"} if isolation == "none" else {})
    run = run_grader("check", "my_linear", submission, "--format", "json", env=env)
    doc = run.json()
    assert run.returncode == 0 and doc["score"] == 11.0
    assert "hunter2" not in doc["log"] and "private-folder" not in doc["log"]
    assert "CMDLINE b'grader-sandbox'" in doc["log"] and "ARGV ['grader-sandbox'] ['grader-sandbox']" in doc["log"]
    assert re.search(r"^ENVIRON b'(\\x00)*'$", doc["log"], re.MULTILINE), doc["log"]
