"""Per-process limits (rlimits) and the parent-death signal, applied in the sandbox just before student code.

These work everywhere (no namespaces or cgroups needed), so they are the floor under the walls of
:mod:`grader.sandbox.isolation`. Every limit that is applied is named in the list that
:func:`apply_limits` returns; the judge copies it into the results' ``environment.isolation``. A limit
the machine refuses is skipped, never fatal: process separation and the judge's wall-clock kill of the
process group always remain.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def set_parent_death_signal(sig: int = signal.SIGKILL, parent: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` (SIGKILL unless told) to this process when its parent dies (Linux only).

    A parent that died before this was set would never trigger it, so then ``sig`` is sent at once.
    ``parent`` is the parent's pid as the parent saw it before it forked: pass it from a freshly forked
    child, or a parent killed between the fork and this call goes unnoticed (the child would already be
    an orphan when it first asks who its parent is).
    """
    if not sys.platform.startswith("linux"):
        return False
    if parent is None:
        parent = os.getppid()
    try:
        done = _libc().prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if done and os.getppid() not in (parent, 0):  # 0: the parent is outside this process's pid namespace
        os.kill(os.getpid(), sig)
    return done


def _set(limit: int, soft: int, hard: int | None = None) -> bool:
    try:
        _, current_hard = resource.getrlimit(limit)
        hard = soft if hard is None else hard
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(limit, (soft, hard))
        return True
    except (ValueError, OSError):
        return False


def apply_limits(config: dict[str, Any]) -> list[str]:
    """Apply the sandbox's limits; returns the names of the layers in force."""
    layers = ["process"]
    if set_parent_death_signal():
        layers.append("parent-death-kill")
    cpu = int(config["cpu_seconds"])
    if _set(resource.RLIMIT_CPU, cpu, cpu + 2):
        layers.append(f"cpu-time {cpu}s")
    memory = config.get("memory_bytes")
    # RLIMIT_DATA caps private writable memory (what tensors use) without counting the huge PROT_NONE
    # reservations CUDA makes, which is what breaks RLIMIT_AS; still, with CUDA the limit is left off.
    if memory and not config.get("uses_cuda") and _set(resource.RLIMIT_DATA, int(memory)):
        layers.append(f"memory {int(memory) // (1 << 20)} MiB")
    if _set(resource.RLIMIT_FSIZE, int(config["file_bytes"])):
        layers.append(f"file-size {int(config['file_bytes']) // (1 << 20)} MiB")
    _set(resource.RLIMIT_CORE, 0)
    if os.geteuid() != 0 and _set(resource.RLIMIT_NPROC, int(config.get("processes", 256))):
        layers.append("process-count")
    return layers
