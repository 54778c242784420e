"""The hostile corpus: every attack in tests/zoo/hostile graded in ONE batch, next to honest submissions.

One `grader grade my_linear DIR --out OUT --jobs 2 --timeout 10` runs over a folder holding every hostile
submission (tests/zoo/hostile: files and folder submissions) plus alice (the reference solution), bob (a
forward that leaves the bias out: partial credit) and carol (a correct notebook, as a folder submission).
Before it, a batch over alice, bob and carol alone (the same files, so the same paths and ids) gives the
results that the honest students must get whoever shares their batch.

The test arms the corpus in its temporary copy: the lines marked ``HOSTILE_TEST_ARMED`` (destructive attacks,
inert as shipped), ``HOSTILE_TEST_PORT`` (and network_call.py's port line: the port of a loopback listener
this test runs) and ``HOSTILE_TEST_TOKEN`` (a token for processes meant to survive grading). The grader runs
with a fake home folder holding canary files, and with no GPU, so that the check ids are the same on every
machine.

What must hold: the batch ends in bounded time; honest results are unchanged; no attack earns a mark its
code did not (``CASES`` says which attacks are harmless by design and may keep full marks); each result says
what happened; nothing outside the sandbox changed (submissions, the course's reference/ and assignments/,
the home folder, the results folder); the loopback listener heard nothing; no process outlives the batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import ROOT, ZOO, Listener, run_grader, sandbox_processes, surviving_processes

# It counts every sandbox started during its batch: it needs the machine to itself (see the README's tests).
pytestmark = pytest.mark.exclusive

HOSTILE = ZOO / "hostile"
FULL = 11.0
#: --timeout: the budget of one submission. The two never-ending attacks spend all of it; the slowest of the
#: others (the fork bomb, refused fork after fork) took 2.2 s here, so 5 s keeps a margin without burning 20 s
#: of CPU on two loops.
TIMEOUT_S = 5
#: The hostile batch's wall-clock bound: 35 submissions, two at a time, two of them using their whole budget,
#: others restarting their sandbox at every check; generous for a loaded 2-core machine, where it took about
#: 18 s (the whole file: about 23 s).
BATCH_LIMIT_S = 180
HONEST = ("alice", "bob", "carol")
BOB_LOST = frozenset({"forward[cpu]", "gradients[cpu]", "optimizer"})  # bias left out: 6 of 11
#: Checks that need a working forward (a submission whose forward never returns keeps the other 4 points).
USES_FORWARD = ("no_bias", "forward[cpu]", "gradients[cpu]", "follows_to[cpu]", "optimizer")
NETWORK_CALL_PORT = "PORT = 9  # the test writes a real listener's port here"  # in network_call.py
CANARY_FILES = {".bashrc": "export PS1='$ '\n", "notes/secret.txt": "the answers to next week's quiz\n"}

# ---- the table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile submission and the outcome it must get.

    ``score``: inclusive bounds. ``says``/``never``: where -> texts that must / must not appear there; where
    is ``log`` (what it printed), ``errors``, ``result`` (the whole document), ``grader`` (the batch's own
    stdout and stderr) or a check id (its message and hint). ``harmless``: the attack earns nothing by design
    and the code is correct, so full marks are allowed. ``needs``: the isolation the outcome relies on.
    """

    name: str
    score: tuple[float, float]
    says: dict[str, tuple[str, ...]] = field(default_factory=dict)
    never: dict[str, tuple[str, ...]] = field(default_factory=dict)
    statuses: frozenset[str] = frozenset({"graded"})
    harmless: bool = False
    needs: str = ""

    @property
    def id(self) -> str:
        return self.name.removesuffix(".py")


NOT_FOUND = "No such file or directory"
CASES = [
    # ---- time ----
    Case("infinite_loop_forward.py", (0, 4), says={"no_bias": ("did not finish within",)}),
    Case("sleep_forever_forward.py", (0, 4), says={"no_bias": ("did not finish within",),
                                                    "optimizer": (f"time limit of {TIMEOUT_S} s",)}),
    # ---- exits and crashes ----
    Case("os_exit_at_import.py", (0, 0), statuses=frozenset({"crashed"}), says={"errors": ("exited with status 3",)}),
    Case("sys_exit_in_forward.py", (0, 4), says={"forward[cpu]": ("SystemExit", "sys.exit()")}),
    Case("os_exit_in_forward.py", (0, 4), says={check: ("exited", "os._exit") for check in USES_FORWARD},
         never={check: ("SIGKILL",) for check in USES_FORWARD}),
    Case("deep_recursion_forward.py", (0, 4), says={check: ("SIGSEGV",) for check in USES_FORWARD},
         never={check: ("SIGKILL",) for check in USES_FORWARD}),
    # ---- resources ----
    Case("memory_hog_forward.py", (0, 4), says={"forward[cpu]": ("memory",)}, needs="memory limit"),
    Case("huge_tensor_forward.py", (0, 4), says={"forward[cpu]": ("memory",)},
         never={"forward[cpu]": ("The grader itself failed",)}),
    Case("fork_bomb_import.py", (0, FULL), harmless=True, says={"log": ("fork bomb: fork refused",)},
         needs="pids cgroup"),
    Case("thread_bomb_import.py", (0, FULL), harmless=True, says={"log": ("thread bomb: stopped after",)},
         needs="pids cgroup"),
    Case("stdout_flood.py", (FULL, FULL), harmless=True, says={"log": ("more bytes of output were not kept",)}),
    # ---- processes ----
    # os.kill(os.getppid(), SIGKILL) must not reach the launcher: grading goes on; no_bias fails on its own bug
    Case("kill_parent.py", (10, 10), says={"no_bias": ("kill_parent.py, line 19",)},
         needs="pid namespace (the launcher is out of reach)"),
    Case("kill_everything.py", (FULL, FULL), harmless=True,
         says={"log": ("sending SIGKILL to every process in reach",)}, never={"log": ("NOT CONFINED",)},
         needs="pid namespace"),
    Case("escape_daemon.py", (FULL, FULL), harmless=True, says={"log": ("daemon started: double fork",)},
         needs="pid namespace (test_no_process_outlives_the_batch looks for the daemons)"),
    # ---- network ----
    Case("network_call.py", (FULL, FULL), harmless=True, says={"log": ("no network",)}, never={"log": ("connected",)},
         needs="network namespace"),
    Case("loopback_connect.py", (FULL, FULL), harmless=True, says={"log": ("could not connect to 127.0.0.1",)},
         never={"log": ("CONNECTED",)}, needs="network namespace"),
    # ---- files ----
    Case("steal_reference.py", (0, 0), says={"errors": (NOT_FOUND, "reference/my_linear.py")},
         never={"log": ("ran the reference solution",)}, needs="private filesystem"),
    Case("read_hidden_checks.py", (FULL, FULL), harmless=True, says={"log": ("hidden checks not found",)},
         never={"log": ("HIDDEN CHECKS FROM", "def parameters_registered")}, needs="private filesystem"),
    Case("write_beside_submissions.py", (FULL, FULL), harmless=True, says={"log": ("could not write", NOT_FOUND)},
         never={"log": ("WROTE",)}, needs="private filesystem"),
    Case("forge_results_folder.py", (0, 6), says={"log": ("could not write", NOT_FOUND),
                                                   "forward[cpu]": ("bias is left out",)},
         never={"log": ("FORGED",)}, needs="private filesystem"),
    Case("zz_delete_files.py", (FULL, FULL), harmless=True, says={"log": ("could not delete", NOT_FOUND)},
         never={"log": ("DELETED",)}, needs="private filesystem"),
    Case("snoop_memory.py", (FULL, FULL), harmless=True, says={"log": ("SNOOPED [] 0",)},
         needs="workers fork before the checks are loaded"),
    Case("snoop_other_submissions.py", (FULL, FULL), harmless=True,
         says={"log": ("no classmate's code or name in my memory",)}, never={"log": ("FOUND A CLASSMATE'S",)}),
    Case("shadow_torch", (FULL, FULL), harmless=True, never={"log": ("SHADOW",), "grader": ("SHADOW TORCH",)}),
    Case("shadow_grader", (FULL, FULL), harmless=True,
         never={"log": ("SHADOW", "shadow"), "grader": ("SHADOW GRADER",)}),
    # ---- forging the verdict ----
    Case("forge_results.py", (0, 6), says={"forward[cpu]": ("bias is left out",), "log": ('"score": 100',)}),
    Case("print_fake_results.py", (0, 6), says={"forward[cpu]": ("is not right",), "log": ('"score": 11.0',)}),
    Case("patch_torch_comparisons.py", (0, 6), says={"forward[cpu]": ("bias is left out",),
                                                     "log": ("PATCHED torch comparisons",)}),
    Case("patch_grader_modules.py", (0, 6), says={"forward[cpu]": ("bias is left out",),
                                                  "log": ("PATCHED grader.sandbox.student.observe",)},
         never={"log": ("PATCH USED",)}),
    Case("tensor_subclass_forward.py", (0, 6), says={"forward[cpu]": ("bias is left out",)}),
    Case("reduce_payload_forward.py", (0, 4), says={"forward[cpu]": ("Payload",)}),
    # The reply holding the str subclass is refused unread, so `builds` fails and every other check needs it.
    Case("reduce_str_repr.py", (0, 0), says={"builds": ("refuses", "subclasses of str")},
         never={"builds": ("must not exit",)}),
]

# ---- the batch ---------------------------------------------------------------------------------------


@dataclass
class Batch:
    """What the two batch runs left: results, timings, snapshots, what the listener heard, survivors."""

    subs: Path
    out: Path
    clean_out: Path
    home: Path
    token: str
    returncode: int
    output: str
    seconds: float
    clean_returncode: int
    before: dict[str, dict[str, str]]
    after: dict[str, dict[str, str]]
    connections: int
    received: bytes
    survivors: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def _tree(folder: Path, skip_pycache: bool = False) -> dict[str, str]:
    """Every file (sha256), folder and link under ``folder``, by relative path."""
    found: dict[str, str] = {}
    if not folder.exists():
        return found
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if skip_pycache and "__pycache__" in rel.parts:
            continue
        if path.is_symlink():
            found[str(rel)] = "link to " + os.readlink(path)
        elif path.is_dir():
            found[str(rel)] = "folder"
        else:
            found[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _snapshot(subs: Path, home: Path) -> dict[str, dict[str, str]]:
    return {
        "submissions": _tree(subs),
        "reference": _tree(ROOT / "reference", skip_pycache=True),
        "assignments": _tree(ROOT / "assignments", skip_pycache=True),
        "home": _tree(home),
    }


GUESSED_MARK = "GUESSED = {}  # HOSTILE_TEST_GUESSED"


def _arm(text: str, port: int, token: str, guessed: dict[str, list[str]]) -> str:
    """The attack, armed: the listener's port, the run's token, and the real folders (which argv no longer shows,
    but a student who knows the course's layout could guess)."""
    text = text.replace("ARMED = False  # HOSTILE_TEST_ARMED", "ARMED = True  # HOSTILE_TEST_ARMED")
    text = text.replace(GUESSED_MARK, f"GUESSED = {guessed!r}  # HOSTILE_TEST_GUESSED")
    text = text.replace("PORT = 9  # HOSTILE_TEST_PORT", f"PORT = {port}  # HOSTILE_TEST_PORT")
    text = text.replace(NETWORK_CALL_PORT, NETWORK_CALL_PORT.replace("9", str(port), 1))  # test_sandbox.py's marker
    return text.replace('TOKEN = "987654"  # HOSTILE_TEST_TOKEN', f'TOKEN = "{token}"  # HOSTILE_TEST_TOKEN')


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    tmp = tmp_path_factory.mktemp("hostile")
    subs, out, clean_out, home = tmp / "submissions", tmp / "results", tmp / "clean-results", tmp / "home"
    subs.mkdir()
    shutil.copy(ROOT / "reference" / "my_linear.py", subs / "alice.py")
    shutil.copy(ZOO / "my_linear" / "bias_left_out.py", subs / "bob.py")
    (subs / "carol").mkdir()
    shutil.copy(ZOO / "my_linear" / "correct_notebook.ipynb", subs / "carol" / "my_linear.ipynb")
    for name, text in CANARY_FILES.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    env = {"HOME": str(home), "CUDA_VISIBLE_DEVICES": ""}
    common = ("--jobs", "2", "--timeout", str(TIMEOUT_S))

    # The honest students alone, on the same files (the same paths and ids) as in the hostile batch.
    sandboxes_before = sandbox_processes()
    clean = run_grader("grade", "my_linear", subs, "--out", clean_out, *common, env=env, timeout=BATCH_LIMIT_S)

    listener = Listener()
    token = f"987654.{secrets.randbelow(10**6):06d}"  # sleep(1) takes a fraction: still about 11 days
    guessed = {"submissions": [str(subs)], "results": [str(out)], "home": [str(home)]}
    for entry in sorted(HOSTILE.iterdir()):
        if entry.is_dir():
            shutil.copytree(entry, subs / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif entry.suffix == ".py":
            (subs / entry.name).write_text(_arm(entry.read_text(), listener.port, token, guessed))
    before = _snapshot(subs, home)
    started = time.monotonic()
    try:
        run = run_grader("grade", "my_linear", subs, "--out", out, *common, env=env, timeout=BATCH_LIMIT_S + 60)
        returncode, output = run.returncode, run.stdout + run.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, output = -1, f"timed out after {exc.timeout} s"
    seconds = time.monotonic() - started
    time.sleep(0.5)  # a straggling connection would still be counted
    listener.close()
    survivors = surviving_processes(token, str(out), str(clean_out), sandboxes_before=sandboxes_before)
    result = Batch(
        subs=subs, out=out, clean_out=clean_out, home=home, token=token, returncode=returncode, output=output,
        seconds=seconds, clean_returncode=clean.returncode, before=before, after=_snapshot(subs, home),
        connections=listener.connections, received=listener.received, survivors=survivors,
    )
    for path in sorted(out.glob("*.json")):
        if path.name != "summary.json":
            try:
                result.results[path.stem] = json.loads(path.read_text())
            except ValueError:
                result.results[path.stem] = {"unreadable": path.read_text()[:200]}
    return result


def _stable(doc: dict[str, Any]) -> str:
    """A result as text, without what legitimately changes between runs: timings and the environment."""
    doc = json.loads(json.dumps(doc))
    doc.pop("duration_s", None)
    doc.pop("environment", None)
    for entry in doc.get("checks", []):
        entry.pop("duration_s", None)
    return json.dumps(doc, indent=2)


def _where(doc: dict[str, Any], where: str, batch: Batch) -> str:
    if where == "log":
        return str(doc.get("log", ""))
    if where == "errors":
        return "\n".join(e["message"] for e in doc.get("errors", []))
    if where == "result":
        return json.dumps(doc)
    if where == "grader":
        return batch.output
    entry = next((c for c in doc.get("checks", []) if c["id"] == where), None)
    assert entry is not None, f"no check {where!r} in the result"
    return f"{entry['message']}\n{entry['hint'] or ''}"


def _checks(doc: dict[str, Any]) -> str:
    return "\n".join(f"  {c['id']}: {c['status']} {c['score']:g}/{c['max_score']:g} {c['message'][:300]!r}"
                     for c in doc.get("checks", []))


# ---- the tests ---------------------------------------------------------------------------------------


def test_the_table_covers_the_corpus() -> None:
    corpus = {p.name for p in HOSTILE.iterdir() if p.is_dir() or p.suffix == ".py"}
    assert {case.name for case in CASES} == corpus
    assert len(corpus) >= 22
    for case in CASES:
        low, high = case.score
        assert 0 <= low <= high <= FULL, case.name
        assert case.harmless or high < FULL, f"{case.name}: only a harmless attack may keep full marks"
    armed = [p.name for p in HOSTILE.glob("*.py") if "HOSTILE_TEST_ARMED" in p.read_text()]
    assert sorted(armed) == sorted(["escape_daemon.py", "forge_results_folder.py", "kill_everything.py",
                                    "write_beside_submissions.py", "zz_delete_files.py"])
    for name in armed:  # as shipped, an armed attack is inert: grading it by hand harms nothing
        assert "ARMED = False  # HOSTILE_TEST_ARMED" in (HOSTILE / name).read_text()
        assert "ARMED = True  # HOSTILE_TEST_ARMED" in _arm((HOSTILE / name).read_text(), 1, "t", {})
    for name in ("forge_results_folder.py", "write_beside_submissions.py", "zz_delete_files.py"):
        assert "GUESSED = {'home': ['/h']}  # HOSTILE_TEST_GUESSED" in _arm(
            (HOSTILE / name).read_text(), 1, "t", {"home": ["/h"]})
    assert "PORT = 4321  # HOSTILE_TEST_PORT" in _arm((HOSTILE / "loopback_connect.py").read_text(), 4321, "t", {})
    assert "PORT = 4321  # the test" in _arm((HOSTILE / "network_call.py").read_text(), 4321, "t", {})
    assert 'TOKEN = "987654.5"' in _arm((HOSTILE / "escape_daemon.py").read_text(), 1, "987654.5", {})


def test_the_batch_finishes_in_bounded_time(batch: Batch) -> None:
    assert batch.returncode == 0, batch.output[-3000:]
    assert batch.seconds < BATCH_LIMIT_S, f"the hostile batch took {batch.seconds:.0f} s"
    assert batch.clean_returncode == 0


def test_honest_students_get_their_marks(batch: Batch) -> None:
    for sub_id in ("alice", "carol"):
        doc = batch.results[sub_id]
        assert doc["status"] == "graded" and doc["score"] == FULL, f"{sub_id}:\n{_checks(doc)}"
    bob = batch.results["bob"]
    assert bob["status"] == "graded"
    assert {c["id"] for c in bob["checks"] if c["score"] < c["max_score"]} == BOB_LOST, _checks(bob)
    assert bob["score"] == FULL - 5


def test_honest_results_do_not_depend_on_who_shares_the_batch(batch: Batch) -> None:
    for sub_id in HONEST:
        alone = json.loads((batch.clean_out / f"{sub_id}.json").read_text())
        assert _stable(batch.results[sub_id]) == _stable(alone), sub_id


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_attack_ends_in_a_plain_result(batch: Batch, case: Case, schema: dict[str, Any]) -> None:
    assert case.id in batch.results, f"no result for {case.id}: {sorted(batch.results)}"
    doc = batch.results[case.id]
    jsonschema.validate(doc, schema)
    summary = (f"{case.id}: {doc['status']} {doc['score']:g}" + (f" (relies on: {case.needs})" if case.needs else "")
               + f"\n{_checks(doc)}\nlog: {str(doc.get('log'))[:1500]!r}")
    assert doc["status"] in case.statuses, summary
    assert doc["max_score"] == FULL
    low, high = case.score
    assert low <= doc["score"] <= high, summary
    for where, texts in case.says.items():
        text = _where(doc, where, batch)
        for expected in texts:
            assert expected in text, f"{where} should say {expected!r}:\n{text[:3000]}\n\n{summary}"
    for where, texts in case.never.items():
        text = _where(doc, where, batch)
        for forbidden in texts:
            assert forbidden not in text, f"{where} must not say {forbidden!r}:\n{text[:3000]}\n\n{summary}"


def test_nothing_outside_the_sandbox_changed(batch: Batch) -> None:
    for place, before in batch.before.items():
        after = batch.after[place]
        changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
        assert (sorted(before.keys() - after.keys()), sorted(after.keys() - before.keys()), changed) == ([], [], []), (
            f"{place}: (removed, added, changed)")
    assert {k for k, v in batch.before["home"].items() if v != "folder"} == set(CANARY_FILES)


def test_the_results_folder_holds_exactly_the_results(batch: Batch) -> None:
    ids = sorted([*HONEST, *(case.id for case in CASES)])
    expected = ({f"{sub_id}.json" for sub_id in ids} | {f"feedback/{sub_id}.html" for sub_id in ids}
                | {"summary.csv", "summary.json", "report.html", "feedback"})
    assert sorted(str(p.relative_to(batch.out)) for p in batch.out.rglob("*")) == sorted(expected)
    with (batch.out / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == ids
    for row in rows:  # the summary says what the result files say, planted rows and forged scores aside
        assert float(row["score"]) == batch.results[row["id"]]["score"], row["id"]
    summary = json.loads((batch.out / "summary.json").read_text())
    assert summary["submissions"] == len(ids)


def test_the_loopback_listener_heard_nothing(batch: Batch) -> None:
    assert (batch.connections, batch.received) == (0, b"")


def test_no_process_outlives_the_batch(batch: Batch) -> None:
    assert batch.survivors == []
