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


pytestmark = [pytest.mark.skipif(not _namespaces_work(), reason="this kernel refuses pid/mount/net namespaces"),
              pytest.mark.fresh_python]


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
    python_in_tmp = {p.parts[2] for p in pythons if len(p.parts) > 2 and p.parts[1] == "tmp"}  # a venv in /tmp
    assert sorted(set(seen["tmp"]) - python_in_tmp) == [os.path.basename(seen["cwd"])] and seen["home"] == seen["cwd"]
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
    expected = ["alice.json", "bob.json", "feedback", "report.html", "summary.csv", "summary.json"]
    assert sorted(p.name for p in out.iterdir()) == expected
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.html", "bob.html"]
    assert not list(Path("/tmp").glob("grader-sandbox-*/scratch.txt"))


@pytest.mark.exclusive
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


def test_a_python_installed_under_tmp_still_gets_the_private_root() -> None:
    # A virtual environment under /tmp (some CI systems put one there) is bound inside the sandbox's /tmp;
    # the sandbox's own /tmp must make room for it instead of failing over to the shared filesystem.
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="grader-test-venv-", dir="/tmp"))
    try:
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        site_dir = next(venv.glob("lib/python*/site-packages"))
        outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        (site_dir / "outer.pth").write_text("\n".join(outer) + "\n")  # torch and friends, from this Python
        run = subprocess.run([str(venv / "bin" / "python"), "-m", "grader", "check", "my_linear",
                              str(ROOT / "reference" / "my_linear.py"), "--format", "json", "--device", "cpu"],
                             cwd=ROOT, capture_output=True, text=True, timeout=240)
        doc = json.loads(run.stdout)
        isolation = doc["environment"]["isolation"]
        assert doc["score"] == 11.0
        assert "private filesystem (course, results, submissions and home hidden)" in isolation, isolation
    finally:
        shutil.rmtree(base, ignore_errors=True)


NOBODY = 65534


def _as_nobody(*command: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as user nobody (no groups), the way a TA's unprivileged account would run the grader."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def unprivileged_python(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Python that user nobody can run, seeing this environment's packages; skips where there is none.

    CI and this machine run as root with Python under /root (mode 0700), so the grader's unprivileged path
    (a user namespace instead of dropping from root) needs a system Python of the same version, in a
    virtual environment under /tmp whose .pth points at this environment's site-packages.
    """
    import tempfile

    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("unshare"):
        pytest.skip("needs root (to become nobody), setpriv and unshare")
    userns = _as_nobody("unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "true")
    if userns.returncode != 0:
        pytest.skip(f"this kernel refuses user namespaces to unprivileged users: {userns.stderr.strip()}")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = next((p for p in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}") if os.path.exists(p)),
                  None)
    if system is None:
        pytest.skip(f"no system python{version} that an unprivileged user could run")
    base = Path(tempfile.mkdtemp(prefix="grader-nobody-", dir="/tmp"))
    try:
        base.chmod(0o755)
        subprocess.run([system, "-m", "venv", "--without-pip", str(base / "venv")], check=True, timeout=120)
        site_dir = next((base / "venv").glob("lib/python*/site-packages"))
        outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        (site_dir / "outer.pth").write_text("\n".join(outer) + "\n")
        python = str(base / "venv" / "bin" / "python")
        trial = _as_nobody(python, "-c", "import torch, nbformat, jsonschema, grader")
        if trial.returncode != 0:
            pytest.skip(f"nobody cannot import the grader here: {trial.stderr.strip().splitlines()[-1:]}")
        yield python, base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_as_an_unprivileged_user_the_walls_still_stand(unprivileged_python: tuple[str, Path]) -> None:
    # Not root: no cgroups and no change of user, but a user namespace that maps only this user, in which
    # the pid, network and mount namespaces and the private root are built the same way.
    python, base = unprivileged_python
    forbidden = [str(ROOT / "reference"), str(ROOT / "assignments"), str(ROOT / "grader"), str(base / "class")]
    source = LOOK.read_text().replace("FORBIDDEN = []", f"FORBIDDEN = {forbidden!r}")
    (base / "class").mkdir(mode=0o755)
    (base / "class" / "alice.py").write_text(source)
    run = _as_nobody(python, "-m", "grader", "check", "my_linear", str(base / "class" / "alice.py"),
                     "--format", "json", "--device", "cpu")
    doc = json.loads(run.stdout)
    isolation = doc["environment"]["isolation"]
    for layer in ("user namespace", "pid namespace", "network namespace (no network)", "no new privileges",
                  "private filesystem (course, results, submissions and home hidden)"):
        assert layer in isolation, isolation
    assert doc["score"] == 11.0
    seen = json.loads(re.search(r"^LOOK (.*)$", doc["log"], re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert seen["forbidden"] == {path: "FileNotFoundError" for path in forbidden}
    assert seen["pid"] == 1 and seen["processes"] == [1] and seen["write_usr"] in ("OSError", "PermissionError")


def test_as_an_unprivileged_user_killing_the_parent_reaches_nobody(unprivileged_python: tuple[str, Path]) -> None:
    # Unprivileged, the sandbox forks once more to be pid 1 of its pid namespace, and a relay outside waits
    # for it. kill(getppid()) is kill(0): it must not reach the relay (whose death would end the sandbox).
    python, _base = unprivileged_python
    run = _as_nobody(python, "-m", "grader", "check", "my_linear", str(ZOO / "hostile" / "kill_parent.py"),
                     "--format", "json", "--device", "cpu")
    doc = json.loads(run.stdout)
    assert "user namespace" in doc["environment"]["isolation"]
    assert doc["status"] == "graded" and doc["score"] == 10.0, doc["checks"]
