"""A grader process's start-up: importing torch without the garbage collector walking what the import builds.

Importing torch (with ``torch.optim`` and ``torch._dynamo``) allocates about a million Python objects and
frees almost none, so each collection the import triggers walks a growing heap for nothing: about a third of
the import's CPU (1.2 of 3.5 s on the course machine). :func:`import_torch` pauses the collector for the
import, then freezes what exists (:func:`gc.freeze`), so later collections in this process, and in every
process forked from it (the zygote, each sandbox), skip the import's objects: they neither walk them nor
write to their pages, which a fork shares until they are written.

Used by the grader's own processes only (the command line, the check server, the zygote, batch workers):
never in a student's notebook kernel, whose objects are the student's.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (as it was before, afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: What :func:`import_torch` imports with ``optimizers``: ``torch.optim`` and the ``torch._dynamo`` it imports on
#: the first optimizer step, and what a sandbox would otherwise import at its first request (the first
#: ``torch.load``, unpickling a tensor).
FOR_OPTIMIZERS = ("torch.optim", "torch._dynamo", "torch.utils.serialization")
#: Imported by the first optimizer step in torch 2.13; private, so absent from other versions without harm.
OPTIONAL = ("torch.profiler._cupti_monitor",)


def import_torch(*, optimizers: bool = False) -> None:
    """Import torch with the collector paused, then freeze every object this process holds.

    With ``optimizers``, also :data:`FOR_OPTIMIZERS` and :data:`OPTIONAL`. Imports compute nothing, so a process
    that only did this still forks safely. A process that had already imported them (a test calling
    :func:`grader.cli.main` in its own process) is left as it was.
    """
    wanted = ("torch", *FOR_OPTIMIZERS) if optimizers else ("torch",)
    if all(name in sys.modules for name in wanted):
        return
    with collector_paused():
        for name in wanted:
            importlib.import_module(name)
        for name in OPTIONAL if optimizers else ():
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    gc.freeze()
