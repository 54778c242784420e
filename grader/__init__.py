"""A grading harness for PyTorch courses.

The pipeline, one module per stage: :mod:`grader.submission` reads a file, :mod:`grader.sandbox`
runs it in an isolated process (the only place student code runs), :mod:`grader.grading` and the
assignments' checks judge what came back, and :mod:`grader.results` / :mod:`grader.report` say it.
"""

__version__ = "0.1.0"
