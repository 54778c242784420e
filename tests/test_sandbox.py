"""Misbehaving submissions end in a clear result, in bounded time, without affecting the verdict."""

from __future__ import annotations

import socket
import threading
import time

from conftest import ZOO, check_by_id, check_json

HOSTILE = ZOO / "hostile"


def test_infinite_loop_times_out_within_the_budget() -> None:
    started = time.monotonic()
    run, doc = check_json("my_linear", HOSTILE / "infinite_loop_forward.py", "--device", "cpu", "--timeout", "6")
    elapsed = time.monotonic() - started
    assert run.returncode == 1 and doc["status"] == "graded"
    assert check_by_id(doc, "builds")["status"] == "passed"
    assert check_by_id(doc, "parameters_registered")["status"] == "passed"
    stuck = check_by_id(doc, "no_bias")
    assert stuck["status"] == "timeout" and "did not finish within" in stuck["message"]
    assert "check `no_bias`" in stuck["message"]
    after = [c["id"] for c in doc["checks"]].index("no_bias") + 1
    assert all(c["status"] == "skipped" and "time limit of 6 s" in c["message"] for c in doc["checks"][after:])
    assert doc["max_score"] == 11.0
    assert elapsed < 6 + 10  # the budget, plus one interpreter start-up and slack for a loaded machine


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


def test_killing_the_sandbox_launcher_ends_in_a_result() -> None:
    run, doc = check_json("my_linear", HOSTILE / "kill_parent.py")
    assert run.returncode == 1
    assert doc["status"] == "graded" and doc["max_score"] == 11.0
    # The parent-death SIGKILL reaches the sandbox asynchronously: the first probe may still finish (its
    # point is earned by working code), but from the next sandbox on every check is an error or skipped.
    statuses = [c["status"] for c in doc["checks"]]
    first_lost = next(i for i, s in enumerate(statuses) if s != "passed")
    assert first_lost <= 1
    assert set(statuses[first_lost:]) <= {"error", "skipped"} and "error" in statuses
    assert doc["score"] <= 1


def test_network_is_unreachable_from_the_sandbox() -> None:
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            received.append(conn.recv(100) or b"<connected>")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = str(listener.getsockname()[1])
        from conftest import run_grader

        run = run_grader("check", "my_linear", HOSTILE / "network_call.py", "--format", "json",
                         env={"GRADER_TEST_PORT": port})
    finally:
        stop.set()
        thread.join()
        listener.close()
    doc = run.json()
    assert run.returncode == 0 and doc["score"] == 11.0
    if "no-network" in doc["environment"]["isolation"]:
        assert received == []
        assert "no network" in doc["log"]
    else:  # a machine without network namespaces must not claim the layer
        assert "connected" in doc["log"]


def test_checks_are_not_in_the_sandbox_memory() -> None:
    run, doc = check_json("my_linear", HOSTILE / "snoop_memory.py")
    assert run.returncode == 0
    assert "SNOOPED [] 0" in doc["log"]
