"""The layouts TAs download, recognised from names alone, each turned into submissions with identities.

- **Canvas** "Download Submissions": a flat zip of ``name[_LATE]_{user id}_{attachment id}_{file}`` (or
  ``..._text.html`` / ``..._link.html``); keyed on the Canvas user id (``anon_...`` when anonymous).
- **Moodle** "Download all submissions": ``Full Name_{participant id}_assignsubmission_file[_]/`` folders
  (or the flat ``..._assignsubmission_file_{file}`` variant); keyed on the per-assignment participant id.
- **Gradescope** "Export Submissions": ``submission_{id}/`` folders and ``submission_metadata.yml``
  (possibly under ``assignment_{id}_export/``); keyed on the submission id, with every submitter.
- **Student repositories** (``gh classroom clone student-repos``, or ``git clone`` in a loop): one folder
  per repository holding ``.git``; keyed on the repository name less the prefix all of them share.
- **Plain folders**: ``alice.py`` / ``bob.ipynb`` files or ``carol/`` sub-folders; keyed on the stem.

Facts and sources: ``../shared/FORMATS.md`` section 1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grader.intake.choose import REJECTS_SUBMISSION, Candidate, Choice, candidates_in, choose, is_submission_name
from grader.intake.files import Refused
from grader.intake.tree import Node

CANVAS = re.compile(
    r"^(?:(?!LATE_|anon_)(?P<name>\w*?)_)?(?:(?P<late>LATE)_)?(?P<uid>anon_[A-Za-z0-9]+|\d+)_"
    r"(?:(?P<aid>\d+)_(?P<fname>.+)|(?P<kind>text|link)\.html)$",
    re.IGNORECASE,
)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FLAT = re.compile(r"^(?P<name>[^/]+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>file|onlinetext)_(?P<file>.+)$")
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<sid>\d+)$")
_WRAPPER = re.compile(r"^(assignment_\d+_export|.+-submissions)$")
METADATA = "submission_metadata.yml"


@dataclass
class Found:
    """One student's submission: the file to grade (or why none), its id and its LMS identity."""

    id: str
    node: Node | None
    lms: dict[str, Any] | None = None
    left_out: list[str] = field(default_factory=list)
    problem: str | None = None
    problem_kind: str = "rejected"
    where: str = ""  # how the TA sees the submission (folder, archive member)

    @property
    def name(self) -> str:
        """The graded file's name (its extension decides how it is read)."""
        return self.node.name if self.node is not None else os.path.basename(self.where) or self.id

    @property
    def path(self) -> str:
        """Where the graded file came from, as the TA sees it."""
        return self.node.path if self.node is not None else self.where

    def read(self, limit: int) -> bytes:
        """The bytes of the file to grade (at most ``limit`` + 1); raises Refused when there is none to read."""
        if self.problem is not None:
            raise Refused(self.problem, self.problem_kind)
        assert self.node is not None
        return self.node.read(limit)


@dataclass
class Classified:
    """What a tree holds, read in one layout."""

    layout: str
    submissions: list[Found] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _from_choice(sub_id: str, choice: Choice, where: str, lms: dict[str, Any] | None) -> Found:
    node = choice.chosen.node if choice.chosen is not None else None
    return Found(sub_id, node, lms, choice.left_out, choice.problem, choice.problem_kind, where)


def _folder_submission(sub_id: str, folder: Node, assignment: str, lms: dict[str, Any] | None,
                       upload: int = 0) -> Found:
    found, refused = candidates_in(folder)
    for candidate in found:
        candidate.upload = upload
    return _from_choice(sub_id, choose(found, refused, assignment, folder.path), folder.path, lms)


def folder_submission(sub_id: str, folder: Node, assignment: str) -> Found:
    """One student's own upload folder (what Gradescope puts in ``/autograder/submission``), chosen by the rules."""
    return _folder_submission(sub_id, folder, assignment, None)


def unwrap(tree: Node) -> Node:
    """Step into the one folder an export wraps everything in (``assignment_1_export/``, ``hw1-submissions/``)."""
    while True:
        visible = tree.visible()
        if len(visible) != 1:
            return tree
        (name, child), = visible.items()
        if not child.is_dir or child.problem is not None or child.git:
            return tree
        if not (_WRAPPER.match(name) or METADATA in child.children):
            return tree
        tree = child


def classify(tree: Node, assignment: str) -> Classified:
    """Recognise the layout of a class folder or archive and list its submissions."""
    tree = unwrap(tree)
    visible = tree.visible()
    readers: list[tuple[str, Callable[[Node, str], Classified]]] = [
        ("gradescope", _gradescope), ("moodle", _moodle), ("canvas", _canvas), ("repositories", _repositories),
    ]
    for layout, reader in readers:
        if _looks_like(layout, tree, visible):
            return reader(tree, assignment)
    return _plain(tree, assignment)


def _looks_like(layout: str, tree: Node, visible: dict[str, Node]) -> bool:
    if layout == "gradescope":
        return METADATA in visible or any(GRADESCOPE_FOLDER.match(n) and c.is_dir for n, c in visible.items())
    if layout == "moodle":
        return any((MOODLE_FOLDER.match(n) and c.is_dir) or MOODLE_FLAT.match(n) for n, c in visible.items())
    if layout == "canvas":
        return any(CANVAS.match(n) for n in visible)
    return any(c.git for c in visible.values())


# ---- plain folders ---------------------------------------------------------------------------------


def _plain(tree: Node, assignment: str) -> Classified:

    out = Classified("folder")
    for name, child in sorted(tree.visible().items()):
        if name.startswith("_") and not child.is_dir:  # __init__.py, _helpers.py: not a student's
            continue
        if name.startswith("\0"):  # an archive member with a refused name: no student to give it to
            out.problems.append(child.problem or child.path)
        elif child.is_dir:
            sub_id = name[: -len(".zip")] if name.lower().endswith(".zip") else name  # alice.zip, opened: alice
            found = _folder_submission(sub_id, child, assignment, None)
            if found.problem_kind == "no_submission_file":  # in a plain folder, nobody's submission: skip it
                out.problems.append(f"{child.path}: no .py or .ipynb file in this submission folder (skipped)")
            else:
                out.submissions.append(found)
        elif is_submission_name(name):
            out.submissions.append(Found(name.rsplit(".", 1)[0], child, where=child.path,
                                         problem=child.problem, problem_kind=child.problem_kind))
        elif child.problem is not None and "." not in name:  # a link or device where a student's folder would be
            out.submissions.append(Found(name, None, where=child.path, problem=child.problem,
                                         problem_kind=child.problem_kind))
        else:
            out.problems.append(child.problem or f"{child.path}: not a .py or .ipynb file (skipped)")
    return out


# ---- Canvas ----------------------------------------------------------------------------------------


def _canvas(tree: Node, assignment: str) -> Classified:
    out = Classified("canvas")
    students: dict[str, list[tuple[dict[str, Any], Node]]] = {}
    for name, child in sorted(tree.visible().items()):
        match = CANVAS.match(name)
        if match is None:
            out.problems.append(child.problem or f"{child.path}: not named as Canvas names submissions (skipped)")
            continue
        students.setdefault(match["uid"], []).append((match.groupdict(), child))
    for uid, entries in sorted(students.items()):
        late = any(bool(fields["late"]) for fields, _ in entries)
        name = next((fields["name"] for fields, _ in entries if fields["name"]), "") or ""
        candidates: list[Candidate] = []
        refused: list[Node] = []
        texts: list[str] = []
        uploaded: dict[int, str] = {}  # the name the student gave each candidate
        for fields, node in entries:
            upload = int(fields["aid"]) if fields["aid"] else 0
            if fields["kind"]:
                texts.append(node.name)
            elif node.problem is not None and node.problem_kind in REJECTS_SUBMISSION:
                refused.append(node)
            elif node.problem is not None:  # a broken upload: rejected with its own message if nothing else is there
                candidates.append(Candidate(node, node.name, 0, upload, given=fields["fname"]))
            elif node.is_dir:  # the student's own archive, opened
                inner, inner_refused = candidates_in(node)
                refused.extend(inner_refused)
                for candidate in inner:
                    candidate.upload = upload
                    uploaded[id(candidate.node)] = candidate.given = f"{fields['fname']}/{candidate.shown}"
                    candidate.shown = f"{node.name}/{candidate.shown}"
                candidates.extend(inner)
            elif is_submission_name(fields["fname"]):
                uploaded[id(node)] = fields["fname"]
                candidates.append(Candidate(node, node.name, 0, upload, given=fields["fname"]))
        where = f"Canvas user {uid}" + (f" ({name})" if name else "")
        choice = choose(candidates, refused, assignment, where)
        lms: dict[str, Any] = {"layout": "canvas", "user_id": uid, "name": name, "late": late}
        if choice.chosen is not None:
            fields = next(f for f, node in entries if node is choice.chosen.node or _holds(node, choice.chosen.node))
            lms.update(attachment_id=fields["aid"], file=uploaded.get(id(choice.chosen.node), fields["fname"]),
                       late=bool(fields["late"]))
        elif texts and not candidates and not refused:
            choice.problem = (f"{where} submitted online text ({', '.join(texts)}), not a file: there is no "
                              f".py or .ipynb file to grade.")
            choice.problem_kind = "no_submission_file"
        found = _from_choice(uid, choice, f"{tree.path}/{entries[0][1].name}", lms)
        out.submissions.append(found)
    return out


def _holds(folder: Node, node: Node) -> bool:
    return folder.is_dir and any(child is node for _, child in folder.files())


# ---- Moodle ----------------------------------------------------------------------------------------


def _moodle(tree: Node, assignment: str) -> Classified:
    out = Classified("moodle")
    people: dict[str, dict[str, Any]] = {}
    for name, child in sorted(tree.visible().items()):
        folder = MOODLE_FOLDER.match(name) if child.is_dir else None
        flat = None if folder else MOODLE_FLAT.match(name)
        match = folder or flat
        if match is None:
            out.problems.append(child.problem or f"{child.path}: not named as Moodle names submissions (skipped)")
            continue
        person = people.setdefault(match["pid"], {"name": match["name"], "folders": [], "files": [], "text": False})
        if match["plugin"] != "file":
            person["text"] = True
        elif folder:
            person["folders"].append(child)
        else:
            person["files"].append((flat["file"] if flat else name, child))
    for pid, person in sorted(people.items()):
        candidates: list[Candidate] = []
        refused: list[Node] = []
        for folder_node in person["folders"]:
            inner, inner_refused = candidates_in(folder_node)
            candidates.extend(inner)
            refused.extend(inner_refused)
        for shown, node in person["files"]:
            if node.problem is not None and node.problem_kind in REJECTS_SUBMISSION:
                refused.append(node)
            elif node.problem is not None:
                candidates.append(Candidate(node, shown, 0))
            elif node.is_dir:
                inner, inner_refused = candidates_in(node)
                candidates.extend(inner)
                refused.extend(inner_refused)
            elif is_submission_name(shown):
                candidates.append(Candidate(node, shown, 0))
        where = f"Moodle participant {pid} ({person['name']})"
        choice = choose(candidates, refused, assignment, where)
        if choice.chosen is None and person["text"] and not candidates and not refused:
            choice.problem = f"{where} submitted online text only: there is no .py or .ipynb file to grade."
        lms = {"layout": "moodle", "participant_id": pid, "name": person["name"]}
        out.submissions.append(_from_choice(pid, choice, where, lms))
    return out


# ---- Gradescope ------------------------------------------------------------------------------------


def _gradescope(tree: Node, assignment: str) -> Classified:
    out = Classified("gradescope")
    visible = tree.visible()
    metadata: dict[str, Any] = {}
    meta_node = visible.get(METADATA)
    if meta_node is None:
        out.problems.append(f"{tree.path}: a Gradescope export without {METADATA}: the students' names, SIDs "
                            "and e-mails are unknown, so results are keyed by submission id only")
    else:
        metadata, problem = _read_metadata(meta_node)
        if problem:
            out.problems.append(problem)
    for name, child in sorted(visible.items()):
        match = GRADESCOPE_FOLDER.match(name)
        if name == METADATA:
            continue
        if match is None or not child.is_dir:
            out.problems.append(child.problem or f"{child.path}: not a Gradescope submission folder (skipped)")
            continue
        sid = match["sid"]
        entry = metadata.get(name) or {}
        lms = {"layout": "gradescope", "submission_id": sid,
               "submitters": _submitters(entry.get("submitters")), "created_at": _text(entry.get("created_at"))}
        out.submissions.append(_folder_submission(sid, child, assignment, lms))
    return out


def _read_metadata(node: Node) -> tuple[dict[str, Any], str | None]:
    import yaml

    try:
        data = yaml.safe_load(node.read(16 << 20))
    except Refused as exc:
        return {}, f"{exc.message} (its names and SIDs are unknown)"
    except yaml.YAMLError as exc:
        return {}, f"{node.path} could not be read as YAML ({exc.__class__.__name__}); names and SIDs are unknown"
    if not isinstance(data, dict):
        return {}, f"{node.path} does not hold a mapping of submissions; names and SIDs are unknown"
    return {str(k).lstrip(":"): _strip_colons(v) for k, v in data.items()}, None


def _strip_colons(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _strip_colons(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_colons(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _submitters(value: Any) -> list[dict[str, str | None]]:
    people = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            people.append({key: _text(item.get(key)) for key in ("name", "sid", "email")})
    return people


def _common_prefix(names: list[str]) -> str:
    """The ``slug-`` that every repository name starts with (``gh classroom`` names them ``slug-username``)."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    prefix = first[:size]
    return prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""


# ---- student repositories --------------------------------------------------------------------------


def _repositories(tree: Node, assignment: str) -> Classified:
    out = Classified("repositories")
    repos = {name: child for name, child in sorted(tree.visible().items()) if child.is_dir}
    for child in tree.visible().values():
        if not child.is_dir:
            out.problems.append(child.problem or f"{child.path}: not a student repository (skipped)")
    prefix = _common_prefix(list(repos))
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    for name, child in repos.items():
        if not child.git:
            out.problems.append(f"{child.path}: not a git repository (no .git); graded as a folder")
        username = name[len(prefix):] or name
        lms = {"layout": "repositories", "repository": name, "username": username}
        out.submissions.append(_folder_submission(username, child, assignment, lms))
    return out
