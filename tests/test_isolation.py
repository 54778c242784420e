"""The sandbox's walls, seen from inside: what a submission can see, write and signal.

These tests need Linux namespaces (every Linux machine this project runs CI on has them). Where the
kernel refuses them, they skip with the reason, and ``test_sandbox.py`` covers the degraded mode.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, ZOO, empty_sandbox_cgroups, run_grader

LOOK = ZOO / "isolation" / "look_around.py"


def _namespaces_work() -> bool:
    if not shutil.which("unshare"):
        return False
    flags = ["--mount", "--net", "--pid", "--fork"] + ([] if os.geteuid() == 0 else ["--user", "--map-root-user"])
    return subprocess.run(["unshare", *flags, "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="this kernel refuses pid/mount/net namespaces")


def _grade_look_around(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "canary.txt").write_text("private")
    classroom = tmp_path / "class"
    classroom.mkdir()
    (classroom / "bob.py").write_text("# another student's work\n")
    out = tmp_path / "out"
    forbidden = [str(ROOT / "reference"), str(ROOT / "assignments"), str(ROOT / "grader"), str(classroom),
                 str(out), str(home), str(tmp_path)]
    source = LOOK.read_text().replace("FORBIDDEN = []", f"FORBIDDEN = {forbidden!r}")
    source = source.replace("SHOWN = []", f"SHOWN = {[str(ROOT)]!r}")
    (classroom / "alice.py").write_text(source)
    env = {"HOME": str(home), "GRADER_SECRET_FOR_TEST": "hunter2"}
    run = run_grader("grade", "my_linear", classroom, "--out", out, "--jobs", "1", "--device", "cpu", env=env)
    assert run.returncode == 0, run.stderr
    doc = json.loads((out / "alice.json").read_text())
    match = re.search(r"^LOOK (.*)$", doc["log"], re.MULTILINE)
    assert match, doc["log"]
    return doc, json.loads(match.group(1)), out


def test_the_sandbox_sees_only_the_system_python_and_its_own_folder(tmp_path: Path) -> None:
    doc, seen, out = _grade_look_around(tmp_path)
    isolation = doc["environment"]["isolation"]
    for layer in ("pid namespace", "network namespace (no network)", "no new privileges",
                  "private filesystem (course, results, submissions and home hidden)"):
        assert layer in isolation
    assert doc["score"] == 11.0  # the walls cost a correct submission nothing
    # Every protected folder is simply absent.
    assert seen["forbidden"] == {path: "FileNotFoundError" for path in seen["forbidden"]}
    # "/" holds system folders, plus the first folder on the way to this Python (wherever it is installed:
    # /root/.pyenv, /usr/local, or a virtual environment inside the course's own checkout).
    pythons = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, *site.getsitepackages())]
    system = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"}
    assert set(seen["root"]) <= system | {p.parts[1] for p in pythons}, seen["root"]
    # The course's folder is absent, or (when the virtual environment lives inside it) shows only that.
    inside = {p.relative_to(ROOT.resolve()).parts[0] for p in pythons if p.is_relative_to(ROOT.resolve())}
    course = seen["shown"][str(ROOT)]
    if inside:
        assert isinstance(course, list) and set(course) <= inside, course
    else:
        assert course == "FileNotFoundError", course
    # /tmp holds this sandbox's working folder and nothing else; it is HOME and it is writable.
    assert seen["tmp"] == [os.path.basename(seen["cwd"])] and seen["home"] == seen["cwd"]
    assert seen["write_cwd"] == "written" and seen["write_usr"] in ("OSError", "PermissionError")
    # Nothing of the judge's environment or command line comes through, not even in the memory the fork
    # copied, which the kernel shows as /proc/self/environ and /proc/self/cmdline.
    assert seen["secret"] is None
    assert "hunter2" not in seen["environ_file"] and seen["environ_file"].strip("\0") == ""
    for shown in (seen["cmdline_file"], *seen["argv"]):
        assert str(tmp_path) not in shown and "my_linear" not in shown, shown
    assert seen["cmdline_file"].strip("\0") == "grader-sandbox" and seen["argv"] == ["grader-sandbox"] * 2
    # Its own pid namespace: it is pid 1, its parent is outside, and it sees no other process.
    assert seen["pid"] == 1 and seen["ppid"] == 0 and seen["processes"] == [1]
    if os.geteuid() == 0:
        assert seen["uid"] == 65534 and "unprivileged user (nobody)" in isolation
    # Nothing it wrote reached the judge's side.
    expected = ["alice.json", "bob.json", "report.html", "summary.csv", "summary.json"]
    assert sorted(p.name for p in out.iterdir()) == expected
    assert not list(Path("/tmp").glob("grader-sandbox-*/scratch.txt"))


def test_sandbox_cgroups_are_removed_after_grading(tmp_path: Path) -> None:
    doc, _seen, _out = _grade_look_around(tmp_path)
    if not any(layer.startswith("cgroup") for layer in doc["environment"]["isolation"]):
        pytest.skip("this machine does not delegate memory/pids cgroups")
    # Only empty ones are leaks: a cgroup holding processes belongs to a grader running right now.
    assert empty_sandbox_cgroups() == []


def test_the_cgroup_memory_limit_stops_what_rlimits_do_not(tmp_path: Path) -> None:
    # 1.5 GiB of shared anonymous memory passes RLIMIT_DATA; the sandbox's cgroup (--memory 768) stops it.
    run = run_grader("check", "my_linear", ZOO / "isolation" / "shared_memory_hog.py", "--format", "json",
                     "--device", "cpu", "--memory", "768")
    doc = run.json()
    if "cgroup memory 768 MiB" not in doc["environment"]["isolation"]:
        pytest.skip("this machine does not delegate the memory cgroup")
    assert run.returncode == 1 and doc["status"] == "crashed" and doc["score"] == 0
    message = doc["errors"][0]["message"]
    assert "ran out of memory" in message and "memory limit" in message
    assert "the hog survived" not in doc["log"]
