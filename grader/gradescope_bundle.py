"""The Gradescope autograder zip of one assignment (`grader release ... --gradescope`).

Gradescope's contract (``../shared/FORMATS.md`` section 5): the zip holds ``setup.sh`` and
``run_autograder`` at its root and is unpacked into ``/autograder/source``; ``setup.sh`` runs once when the
image is built (as root, with network access), ``run_autograder`` once per student upload, which lies in
``/autograder/submission``, and must write ``/autograder/results/results.json``. The default image is
Ubuntu 22.04, whose ``python3`` (3.10) the harness itself uses, so ``setup.sh`` never replaces it: it makes a
virtual environment of its own, installs the CPU build of torch into it (from PyTorch's CPU wheel index, or
where ``GRADER_TORCH_INDEX`` says), then this grader from the wheel inside the zip, so no source checkout is
needed. It compiles only the part of torch that grading imports (by importing it once, :data:`WARM_UP`): every
upload runs in a new container from the image, so bytecode written later would be lost at each run. The course
travels as ``course/assignments/NAME`` (every check, hidden ones included; never a reference solution).
``AUTOGRADER_ROOT`` (default ``/autograder``) moves the whole layout, for tests.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.release import TORCH_CPU_INDEX, ReleaseError, torch_version

#: Gradescope's default limits (Autograder Settings can raise them): the sandbox must fit inside.
GRADESCOPE_MEMORY_MIB = 768
#: The sandbox's memory limit on Gradescope: what the container leaves once the judge and zygote are in.
SANDBOX_MEMORY_MIB = 512
#: Seconds one upload may take to grade, inside Gradescope's 10 minutes.
TIMEOUT_S = 300

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It leaves the image's own python3 alone: the grader lives in a virtual environment of its own.
#   GRADER_TORCH_INDEX  where torch comes from: a package index URL (default: PyTorch's CPU wheels,
#                       {torch_index}), or "pip-config" for pip's own configuration
#   GRADER_PYTHON       the Python that makes the environment (default: python3)
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
PYTHON="${{GRADER_PYTHON:-python3}}"
if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
  # Ubuntu's python3 makes virtual environments only with python3-venv installed.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
"$PYTHON" -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip install --disable-pip-version-check --no-input)
TORCH_INDEX="${{GRADER_TORCH_INDEX:-{torch_index}}}"
# torch's bytecode: only the modules grading imports (the import below writes them), not all 5,400 (27 s).
if [ "$TORCH_INDEX" = "pip-config" ]; then
  "${{PIP[@]}}" --no-compile "torch=={torch_version}"
else
  "${{PIP[@]}}" --no-compile "torch=={torch_version}" --index-url "$TORCH_INDEX"
fi
"${{PIP[@]}}" "$SOURCE"/{wheel}
env -u PYTHONDONTWRITEBYTECODE "$ROOT/venv/bin/python" -c "{warm_up}"
"$ROOT/venv/bin/python" -m grader --version
"""

#: What ``setup.sh`` imports once, writing the bytecode of every module a grading run imports.
WARM_UP = ("from grader.startup import import_torch; import_torch(optimizers=True); "
           "import grader.gradescope_run, grader.grading, grader.sandbox.child")

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per upload (in /autograder); it writes /autograder/results/results.json.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
exec "$ROOT/venv/bin/python" -m grader.gradescope_run --root "$ROOT" --assignment {name}
"""


def write_bundle(name: str, out: Path) -> Path:
    """Write ``out/gradescope/NAME.zip`` from the release in ``out``; returns its path.

    Uses the release's own grader wheel (``out/student/tools``, built once by :func:`grader.release.release`),
    so it needs this grader's source checkout and a release written first.
    """
    course = out / "autograder" / "assignments" / name
    if not (course / "checks.py").is_file():
        raise ReleaseError(f"{course}: no released assignment to bundle (run the release first)")
    wheels = sorted((out / "student" / "tools").glob("*.whl"))
    if not wheels:
        raise ReleaseError("--gradescope needs the grader's wheel, built from its source checkout, and this grader "
                           "was installed without one")
    wheel = wheels[0]
    target = out / "gradescope" / f"{name}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
        _add(bundle, "setup.sh", SETUP_SH.format(torch_index=TORCH_CPU_INDEX, torch_version=torch_version(),
                                                 wheel=wheel.name, warm_up=WARM_UP))
        _add(bundle, "run_autograder", RUN_AUTOGRADER.format(name=name))
        bundle.write(wheel, wheel.name)
        for path in sorted(course.rglob("*")):
            if path.is_file() and not path.is_symlink():
                bundle.write(path, f"course/assignments/{name}/{path.relative_to(course).as_posix()}")
    partial.replace(target)
    return target


def _add(bundle: zipfile.ZipFile, name: str, text: str) -> None:
    """A script at the zip's root, executable once unpacked (Gradescope runs both files directly)."""
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o100755 << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, text)
