"""The trust boundary: everything in this package runs in, or forks, the process where student code runs.

- :mod:`grader.sandbox.zygote` forks sandboxes from a clean, warm process (it never runs student code);
- :mod:`grader.sandbox.child` is the sandbox process itself: limits, loading, probes;
- :mod:`grader.sandbox.limits` applies the isolation layers;
- :mod:`grader.sandbox.loader` executes the submission's cells;
- :mod:`grader.sandbox.student` is what the assignments' probes use to look at student code.

Nothing in this package decides a point. The judge (:mod:`grader.grading`, the assignments' ``checks.py``)
only ever sees the plain data the sandbox sends back, decoded by :mod:`grader.protocol`.
"""
