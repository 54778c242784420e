"""The judge's sandbox session, driven directly in a fresh interpreter (the zygote must fork early)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

SCRIPT = textwrap.dedent('''
    import time
    from grader.grading import Grader, Options
    from grader.session import Limits, SandboxSession

    grader = Grader(Options(device="cpu"))
    cells = [
        {"filename": "nb.ipynb [cell 1]", "source": "while True:\\n    pass\\n", "cell": 1},
        {"filename": "nb.ipynb [cell 2]", "source": "def double(x):\\n    return 2 * x\\n", "cell": 2},
    ]
    session = SandboxSession(
        zygote=grader.zygote, probes_path=__import__("pathlib").Path("assignments/my_linear/probes.py"),
        module_name="nb", cells=cells, aliases={}, limits=Limits(cell_seconds=1.0), uses_cuda=False, seed=0,
    )
    started = time.monotonic()
    report = session.start(time.monotonic() + 30)
    first = time.monotonic() - started
    print("KINDS", [e["kind"] for e in report.errors], "CELLS", [c["cell"] for c in session.cells])
    session.stop(kill=True)
    started = time.monotonic()
    session.start(time.monotonic() + 30)
    print("FIRST", round(first, 2), "RESTART", round(time.monotonic() - started, 2))
    session.stop()
    grader.close()
''')


def test_restart_skips_cells_that_timed_out() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["KINDS"].startswith("['cell_timeout'] CELLS [2]")
    first, restart = float(lines["FIRST"].split()[0]), float(lines["FIRST"].split()[2])
    assert first >= 1.0  # the slow cell used its budget once
    assert restart < 0.9  # and was not run again
