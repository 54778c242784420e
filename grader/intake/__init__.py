"""Where submissions come from: files, class folders, LMS archives and exports, student repositories.

:func:`find_submissions` turns what the TA typed into one :class:`Found` per student, each with a
result id, the LMS identity when the layout carries one, and either the file to grade or the reason
it is rejected. The stages, by file: :mod:`.files` reads the disk without following links,
:mod:`.archives` reads zip and tar archives in memory with limits, :mod:`.tree` gives both one shape,
:mod:`.layouts` recognises Canvas, Moodle, Gradescope, repositories and plain folders, and
:mod:`.choose` picks the file of a folder submission.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.archives import BadArchive, is_archive, open_student_archives, read_archive
from grader.intake.choose import is_submission_name
from grader.intake.files import read_regular
from grader.intake.layouts import Found, classify
from grader.intake.tree import Node, from_folder

__all__ = ["RESERVED_IDS", "Discovery", "Found", "find_submissions"]

#: Names the batch writes itself; a submission with such an id gets a suffix instead.
RESERVED_IDS = {"summary", "report", "feedback", "gradescope", "gradebook"}
_UNSAFE = re.compile(r"[^\w.@+=-]")


@dataclass
class Discovery:
    """What the command line's paths hold: submissions, the layouts seen, and what was skipped and why."""

    submissions: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    layouts: list[str] = field(default_factory=list)


def _file_node(path: Path) -> Node:
    return Node(path.name, str(path), size=0, reader=lambda limit: read_regular(path, limit))


def find_submissions(paths: Sequence[Path], assignment: str) -> Discovery:
    """Every submission in ``paths`` (files, folders, archives), with a unique, file-name-safe id each.

    Two submissions with one id (``alice.py`` and ``alice.ipynb``) are both graded, under ids that keep
    their extension, and the clash is reported; the same file named twice is graded once.
    """
    found = Discovery()
    candidates: list[Found] = []
    for path in paths:
        if not path.exists():
            found.problems.append(f"{path}: no such file or folder (skipped)")
            continue
        if path.is_file() and is_submission_name(path.name):
            candidates.append(Found(path.name.rsplit(".", 1)[0], _file_node(path), where=str(path)))
            continue
        notes: list[str] = []
        try:
            if path.is_file():
                tree, notes = read_archive(path, str(path))
            elif path.is_dir():
                tree = from_folder(path, notes)
                open_student_archives(tree, notes)
            else:
                found.problems.append(f"{path}: not a file, a folder or an archive (skipped)")
                continue
        except BadArchive as exc:
            hint = "" if is_archive(path.name) else " (the grader takes .py and .ipynb files, folders and archives)"
            found.problems.append(f"{exc}{hint}")
            continue
        except OSError as exc:
            found.problems.append(f"{path}: could not be read ({exc.strerror or exc}) (skipped)")
            continue
        found.problems.extend(notes)
        classified = classify(tree, assignment)
        found.problems.extend(classified.problems)
        found.layouts.append(classified.layout)
        if not tree.children and path.is_file():
            found.problems.append(f"{path} is empty: the archive holds no files at all")
        elif not classified.submissions and tree.children:
            found.problems.append(f"{path}: no submissions found here")
        candidates.extend(classified.submissions)
    _assign_ids(candidates, found)
    return found


def _assign_ids(candidates: list[Found], found: Discovery) -> None:
    by_id: dict[str, list[Found]] = {}
    for item in candidates:
        by_id.setdefault(item.id, []).append(item)
    used: set[str] = set()
    for sub_id, items in by_id.items():
        items = list({item.path: item for item in items}.values())  # the same file named twice
        if len(items) > 1:
            names = ", ".join(item.path for item in items)
            found.problems.append(f"id '{sub_id}' is used by {len(items)} files ({names}); "
                                  "each is graded under its file name instead")
            for item in items:
                item.id = item.name
        for item in items:
            safe = _safe_id(item.id, used)
            if safe != item.id:
                found.problems.append(f"{item.path}: results stored under id '{safe}' (the id '{item.id}' "
                                      "cannot be a result file name here)")
            used.add(safe)
            item.id = safe
            found.submissions.append(item)
    found.submissions.sort(key=lambda item: item.id)


def _safe_id(sub_id: str, used: set[str]) -> str:
    safe = _UNSAFE.sub("_", sub_id).lstrip(".") or "submission"
    if safe.lower() in RESERVED_IDS:
        safe += "_"
    base, n = safe, 2
    while safe in used:
        safe, n = f"{base}_{n}", n + 1
    return safe
