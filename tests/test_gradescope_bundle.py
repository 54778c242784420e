"""The Gradescope autograder zip, run end to end as Gradescope runs it, from a fresh virtual environment.

`grader release my_linear --gradescope` writes the zip; the test unpacks it into a fresh root laid out as
Gradescope lays it out (``source/``, ``submission/``, ``results/``; the root comes from ``AUTOGRADER_ROOT``),
runs ``setup.sh`` (a new virtual environment, torch, and the grader from the wheel inside the zip: no
source checkout), then ``run_autograder`` for a correct, a buggy, a hostile and an empty upload, each inside
a memory cgroup capped at Gradescope's default 768 MB, and checks every ``results.json`` against
Gradescope's specification.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import ROOT, ZOO, run_grader

#: Gradescope's results.json, as its documentation specifies it (gradescope/autograder_samples docs;
#: ../shared/NOTES.md "Gradescope results.json"): a score or tests, and only these fields.
RESULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
                    "extra_data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
    },
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
    "additionalProperties": False,
}

LIMIT_BYTES = 768 << 20


def _memory_cgroup() -> Path | None:
    """A fresh memory cgroup under this process's own, capped at 768 MB; None where none can be made."""
    base, limit_file = None, ""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):  # cgroup v1's memory hierarchy
            base, limit_file = Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.limit_in_bytes"
            break
        if controllers == "" and (Path("/sys/fs/cgroup") / "cgroup.controllers").is_file():  # cgroup v2
            base, limit_file = Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max"
    if base is None:
        return None
    folder = base / f"gradescope-test-{os.getpid()}"
    try:
        folder.mkdir()
        (folder / limit_file).write_text(str(LIMIT_BYTES))
    except OSError:
        return None
    return folder


def _oom_kills(cgroup: Path) -> int:
    for name in ("memory.oom_control", "memory.events"):
        if (cgroup / name).is_file():
            for line in (cgroup / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    return 0


@pytest.fixture(scope="module")
def autograder_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Gradescope-shaped root with the bundle unpacked in ``source/`` and ``setup.sh`` run."""
    release = tmp_path_factory.mktemp("release")
    run = run_grader("release", "my_linear", "--out", release / "out", "--gradescope", timeout=300)
    assert run.returncode == 0, run.stderr
    bundle = release / "out" / "gradescope" / "my_linear.zip"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)  # at the zip's root, as Gradescope requires
        assert not [n for n in names if n.startswith("reference") or "/reference/" in n]
        root = tmp_path_factory.mktemp("autograder")
        archive.extractall(root / "source")  # our own zip, just written: not a student's archive
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_TORCH_INDEX": "pip-config"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)  # Gradescope's image knows nothing of this checkout
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    setup = subprocess.run([str(root / "source" / "setup.sh")], cwd=root, env=env, capture_output=True, text=True,
                           timeout=600)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    python = root / "venv" / "bin" / "python"
    where = subprocess.run([str(python), "-c", "import grader, torch; print(grader.__file__)"],
                           cwd=root, env=env, capture_output=True, text=True, check=True).stdout
    assert str(root / "venv") in where and str(ROOT) not in where  # the wheel's grader, not this checkout
    # torch was installed without its bytecode, then the warm-up import wrote that of what grading imports
    torch_dir = next((root / "venv").glob("lib/python3*/site-packages/torch"))
    compiled = {p.name.split(".")[0] for p in (torch_dir / "_dynamo" / "__pycache__").glob("*.pyc")}
    assert {"__init__", "eval_frame"} <= compiled
    assert not list((torch_dir / "_inductor" / "codegen" / "__pycache__").glob("cpp_wrapper_gpu*.pyc"))
    return root


def _run_upload(root: Path, files: dict[str, bytes]) -> tuple[dict[str, Any], int]:
    """Put an upload in ``submission/``, run ``run_autograder`` in a 768 MB memory cgroup; results and OOM kills."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    cgroup = _memory_cgroup()
    procs = "" if cgroup is None else f"echo $$ > {cgroup / 'cgroup.procs'} && "
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "AUTOGRADER_ROOT": str(root)}
    run = subprocess.run(["bash", "-c", f"{procs}exec {root / 'source' / 'run_autograder'}"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    kills = 0
    if cgroup is not None:
        kills = _oom_kills(cgroup)
        subprocess.run(["bash", "-c", f"rmdir {cgroup} 2>/dev/null || true"])
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    return results, kills


def test_the_bundle_grades_four_uploads_from_a_fresh_environment(autograder_root: Path) -> None:
    reference = (ROOT / "reference" / "my_linear.py").read_bytes()
    correct, kills = _run_upload(autograder_root, {"MyLinear (2).py": reference,
                                                   "test_my_linear.py": b"def test_nothing():\n    pass\n"})
    assert correct["score"] == 11 and kills == 0
    assert all(t["status"] == "passed" for t in correct["tests"]) and len(correct["tests"]) == 8
    assert "Graded MyLinear (2).py" in correct["output"] and "test_my_linear.py" in correct["output"]

    bias_left_out = (ZOO / "my_linear" / "bias_left_out.py").read_bytes()
    buggy, kills = _run_upload(autograder_root, {"work/my_linear.py": bias_left_out})
    assert buggy["score"] == 11 - 5 and kills == 0
    failed = [t for t in buggy["tests"] if t["status"] == "failed"]
    assert len(failed) == 3 and any("bias is left out" in t["output"] for t in failed)

    results = autograder_root / "results" / "results.json"
    hostile, kills = _run_upload(autograder_root, {"my_linear.py": (
        f"import os\ntry:\n    open({str(results)!r}, 'w').write('{{\"score\": 1000}}')\nexcept OSError:\n    pass\n"
        f"os.system('echo 1000 > {results}')\n".encode() + (ROOT / "reference" / "my_linear.py").read_bytes())})
    assert hostile["score"] <= 11 and kills == 0  # the upload cannot write the results: the grader does

    empty, kills = _run_upload(autograder_root, {})
    assert empty["score"] == 0 and empty["tests"] == [] and kills == 0
    assert "Upload my_linear.py or my_linear.ipynb" in empty["output"]
