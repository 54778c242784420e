"""Real-shaped LMS downloads and hostile archives, written into a temp folder for the intake tests.

Every builder takes ``dest`` (an existing, empty temp folder), writes one archive or folder into it and
returns a :class:`Sample`: the ``path`` to hand to ``grader grade``, its ``layout``, the students the
grader must grade (keyed by the identity the LMS gives them), what must be rejected, and what is noise.
The layouts follow /work/shared/FORMATS.md sections 1 and 4; where this module knows more than that file
(from the LMS sources), the builder's docstring says so.

Nothing here imports the grader. ``python tests/lms_samples.py`` builds everything and prints timings.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
import tarfile
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "my_linear.py"
STUB = ROOT / "assignments" / "my_linear" / "my_linear.py"

#: The reference solution: a submission that must earn full marks.
GOOD: bytes = REFERENCE.read_bytes()


def _without_bias(source: bytes) -> bytes:
    old = b"        return out\n"
    if source.count(old) != 1:
        raise AssertionError("reference/my_linear.py changed: its forward no longer ends with one 'return out'")
    return source.replace(old, b"        return x @ self.weights\n")


#: The reference with the bias left out of ``forward``: runs, but loses the bias marks.
BAD: bytes = _without_bias(GOOD)

#: A fixed timestamp (zip entries carry local DOS time) so archives are byte-for-byte reproducible.
WHEN = (2024, 9, 30, 23, 41, 12)


def notebook(code: bytes) -> bytes:
    """An nbformat v4 notebook holding ``code`` in one code cell (after one Markdown cell)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[new_markdown_cell("# HW1: MyLinear", id="title"), new_code_cell(code.decode("utf-8"), id="solution")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python"}},
    )
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def good_notebook() -> bytes:
    """The good code as an .ipynb."""
    return notebook(GOOD)


def bad_notebook() -> bytes:
    """The bad code (no bias) as an .ipynb."""
    return notebook(BAD)


HELPERS = b'"""Helpers I wrote while testing (not the submission)."""\n\nimport torch\n\n\n' \
          b"def ones(n):\n    return torch.ones(n)\n"

# --------------------------------------------------------------------------------------------------------------
# Result types


@dataclass
class Expected:
    """What the grader must find for one student (or one Gradescope submission).

    ``name``: the name as the archive shows it (Canvas: the name slug; Moodle: the folder's name part;
    Gradescope: the ``:name:`` values joined with ", "; repositories: the GitHub username). ``full_name``: the
    person's name as they typed it. ``code``: "good" or "bad", what the graded file holds. ``graded``: the
    archive-relative path of the file that must be graded ("/" continues into a nested archive).
    ``left_out``: archive-relative paths of other .py/.ipynb candidates of this student that must NOT be graded.
    ``submitters``: Gradescope only, ``{"name", "sid", "email"}`` per person (a group has several).
    """

    name: str
    code: str
    late: bool = False
    left_out: list[str] = field(default_factory=list)
    submitters: list[dict[str, str]] = field(default_factory=list)
    full_name: str = ""
    graded: str = ""


@dataclass
class Sample:
    """One built archive or folder and what grading it must give.

    ``layout``: "canvas", "moodle", "gradescope", "repositories", or for the hostile ones "folder", "zip", "tar".
    ``students``: must be graded, keyed by the LMS identity (Canvas user id or ``anon_xxxxx``, Moodle participant
    id, Gradescope submission id, GitHub username; for plain folders/zips/tars the file stem or top folder).
    ``rejected``: key (a student id, or for hostile archives the member name) -> why it must not be graded; the
    grader must report each, never grade it, and never follow/read through it.
    ``noise``: archive-relative paths that belong to no student (``__MACOSX/``, ``.DS_Store``...); to be skipped.
    ``expect``: one paragraph saying what must happen.
    """

    path: Path
    layout: str
    students: dict[str, Expected]
    rejected: dict[str, str] = field(default_factory=dict)
    noise: list[str] = field(default_factory=list)
    expect: str = ""


# --------------------------------------------------------------------------------------------------------------
# Zip writing helpers

_EFS = 0x800  # general purpose bit 11: the name is UTF-8


class _ZipInfo(zipfile.ZipInfo):
    """A ZipInfo whose name is written in ``name_encoding``, with the UTF-8 flag set or cleared as told.

    ``utf8_flag=None`` keeps Python's rule (flag only on non-ASCII names). rubyzip with ``Zip.unicode_names``
    (Canvas) and Moodle's ``fix_utf8_flags`` set it on every entry; Windows Explorer and macOS Finder never do.
    """

    def __init__(self, filename: str, date_time: tuple[int, int, int, int, int, int] = WHEN, *,
                 name_encoding: str = "utf-8", utf8_flag: bool | None = None) -> None:
        super().__init__(filename, date_time)
        self.name_encoding = name_encoding
        self.utf8_flag = utf8_flag

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile calls this for both headers
        if self.utf8_flag is None:
            return super()._encodeFilenameFlags()  # type: ignore[misc, no-any-return]
        raw = self.filename.encode(self.name_encoding)
        return raw, (self.flag_bits | _EFS) if self.utf8_flag else (self.flag_bits & ~_EFS)


def _unix_time_extra(when: tuple[int, int, int, int, int, int] = WHEN) -> bytes:
    """The 'UT' extended-timestamp extra field (mtime only) that rubyzip and Info-ZIP write."""
    mtime = int(time.mktime((*when, 0, 0, -1)))
    return struct.pack("<HHBl", 0x5455, 5, 1, mtime)


def _entry(name: str, *, utf8_flag: bool | None = None, name_encoding: str = "utf-8", system: int = 3,
           version: int = 20, directory: bool = False, extra: bytes = b"") -> _ZipInfo:
    info = _ZipInfo(name, name_encoding=name_encoding, utf8_flag=utf8_flag)
    info.create_system = system
    info.create_version = version
    if system == 3:
        info.external_attr = ((stat.S_IFDIR | 0o755) if directory else (stat.S_IFREG | 0o644)) << 16
    else:  # MS-DOS attributes: 0x10 directory, 0x20 archive
        info.external_attr = 0x10 if directory else 0x20
    if directory:
        info.external_attr |= 0x10
    info.compress_type = zipfile.ZIP_STORED if directory else zipfile.ZIP_DEFLATED
    info.extra = extra
    return info


def _write_zip(path: Path, entries: Iterable[tuple[str, bytes]], **kw: object) -> Path:
    """A zip of ``entries`` (name, data); a name ending in "/" is a directory entry. ``kw`` go to :func:`_entry`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data in entries:
            zf.writestr(_entry(name, directory=name.endswith("/"), **kw), data)  # type: ignore[arg-type]
    return path


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------------------------------------------
# 1. Canvas


def canvas_word_chars(text: str) -> str:
    """``text`` without what Ruby's ``[^[[:word:]]]`` removes: keeps letters, marks, decimal digits and ``_``."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) in ("Nd", "Pc"))


def canvas_name_slug(sortable_name: str) -> str:
    """The name part of a Canvas entry: the sortable name, ``_<digits>_`` collapsed, downcased, non-word chars gone."""
    return canvas_word_chars(re.sub(r"_(\d+)_", r"\1", sortable_name).lower())


def canvas_prefix(sortable_name: str | None, user_id: str, late: bool) -> str:
    """The entry prefix Canvas builds (``ContentZipper#get_filename``): ``[name, "LATE", id]`` joined by ``_``.

    The name is the sortable name ("Last, First") with ``_<digits>_`` collapsed and downcased
    (``sanitize_user_name``); ``user_id`` is the numeric id or ``anon_<id>`` (then the name is None).
    """
    parts = []
    if sortable_name is not None:
        parts.append(re.sub(r"_(\d+)_", r"\1", sortable_name).lower())
    if late:
        parts.append("LATE")
    parts.append(user_id)
    return canvas_word_chars("_".join(parts))


def canvas_display_name(name: str) -> str:
    """``sanitize_attachment_filename``: runs of NUL / \\ : * ? " < > | become one ``_``."""
    return re.sub(r'[\x00/\\:*?"<>|]+', "_", name)


def canvas_zip_name(course_short_name: str, assignment_title: str) -> str:
    """``make_zip_tmpdir("{course}-{title} submissions")``: spaces to ``_``, then all outside ``[\\w-]`` dropped."""
    stem = f"{course_short_name}-{assignment_title} submissions".replace(" ", "_")
    return re.sub(r"[^\w-]", "", stem, flags=re.ASCII) + ".zip"


@dataclass
class _CanvasStudent:
    full_name: str
    sortable_name: str
    user_id: int
    anon_id: str
    late: bool
    uploads: list[tuple[int, str, bytes]]  # (attachment id, display name, data)
    code: str = ""  # "" = nothing gradable (text or URL entry)
    graded: str = ""  # display name of the upload to grade
    kind: str = "upload"  # "upload" | "text" | "link"


def _canvas(dest: Path, students: list[_CanvasStudent], *, anonymous: bool, utf8_flag: bool,
            course: str = "CS101", title: str = "HW1 My Linear") -> tuple[Path, dict[str, Expected], dict[str, str]]:
    entries: list[tuple[str, bytes]] = []
    expected: dict[str, Expected] = {}
    rejected: dict[str, str] = {}
    for s in students:
        uid = f"anon_{s.anon_id}" if anonymous else str(s.user_id)
        prefix = canvas_prefix(None if anonymous else s.sortable_name, uid, s.late)
        shown = "" if anonymous else canvas_name_slug(s.sortable_name)
        if s.kind == "text":
            entries.append((f"{prefix}_text.html", _canvas_text_html(s.full_name)))
            rejected[uid] = "online text entry (_text.html) only: nothing to grade; report 'no file'"
            continue
        if s.kind == "link":
            entries.append((f"{prefix}_link.html", _canvas_link_html("https://colab.research.google.com/drive/1x")))
            rejected[uid] = "website URL entry (_link.html) only: nothing to grade; report 'no file'"
            continue
        names = {aid: f"{prefix}_{aid}_{canvas_display_name(display)}" for aid, display, _ in s.uploads}
        entries += [(names[aid], data) for aid, _, data in s.uploads]
        graded = next(names[aid] for aid, display, _ in s.uploads if display == s.graded)
        left_out = [n for n in names.values() if n != graded and n.endswith((".py", ".ipynb"))]
        expected[uid] = Expected(name=shown, code=s.code, late=s.late, left_out=left_out, full_name=s.full_name,
                                 graded=graded)
    # rubyzip (Canvas sets Zip.unicode_names = true): bit 11 on every entry, "made by" 6.3 on Unix.
    path = _write_zip(dest / canvas_zip_name(course, title), entries, utf8_flag=utf8_flag,
                      version=63 if utf8_flag else 52, extra=_unix_time_extra())
    return path, expected, rejected


def _canvas_text_html(name: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="UTF-8"><title>{name}: HW1 My Linear</title>'
            "</head>\n<body>\n<h2>HW1 My Linear</h2>\n<p>I could not upload, here is my code:</p>\n"
            "<pre>class MyLinear(nn.Module): ...</pre>\n</body>\n</html>\n").encode()


def _canvas_link_html(url: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html>\n<head><meta http-equiv="refresh" content="0; url={url}"></head>\n'
            f'<body><a href="{url}">{url}</a></body>\n</html>\n').encode()


def _canvas_class() -> list[_CanvasStudent]:
    return [
        _CanvasStudent("Bob Smith", "Smith, Bob", 340934, "k3Rt9", False,
                       [(208490284, "my_linear.py", GOOD)], "good", "my_linear.py"),
        # Resubmitted late: the zip holds only the current attempt, whose file Canvas renamed my_linear-1.py.
        _CanvasStudent("Zoë Müller", "Müller, Zoë", 340935, "Qm7Xa", True,
                       [(208490301, "my_linear-1.py", GOOD)], "good", "my_linear-1.py"),
        _CanvasStudent("김민준", "김민준", 340936, "b8ZpW", False,
                       [(208490290, "my_linear.py", BAD), (208490291, "helpers.py", HELPERS),
                        (208490292, "메모.txt", "선형 층 과제 메모\n".encode())], "bad", "my_linear.py"),
        _CanvasStudent("José Núñez", "Núñez, José", 340937, "Hs2Lc", True,
                       [(208490310, "my_linear.ipynb", good_notebook())], "good", "my_linear.ipynb"),
        # An underscore in the sortable name survives the slug; the file name keeps spaces and parentheses.
        _CanvasStudent("Ji-woo Lee_Park", "Lee_Park, Ji-woo", 340939, "Vv5Nq", False,
                       [(208490322, "My Linear (final).py", BAD)], "bad", "My Linear (final).py"),
        _CanvasStudent("Seán O'Brien", "O'Brien, Seán", 340938, "Tt4Yd", False, [], kind="text"),
        _CanvasStudent("Kai Nakamura", "Nakamura, Kai", 340940, "Pp9Ra", True, [], kind="link"),
    ]


def canvas_zip(dest: Path, *, anonymous: bool = False, utf8_flag: bool = True) -> Sample:
    """Canvas "Download Submissions": a flat zip ``{slug}[_LATE]_{user_id}_{attachment_id}_{display_name}``.

    ``anonymous``: the assignment anonymizes students, so every entry is ``[LATE_]anon_<5 chars>_...`` with no
    name (Canvas never mixes both in one zip) and students are keyed ``anon_xxxxx`` (case matters).
    ``utf8_flag=False`` gives the older Canvas zips (before ``Zip.unicode_names = true``): UTF-8 name bytes
    with bit 11 clear, which Python's zipfile decodes as cp437 mojibake.
    """
    path, students, rejected = _canvas(dest, _canvas_class(), anonymous=anonymous, utf8_flag=utf8_flag)
    return Sample(path, "canvas", students, rejected, expect=(
        "Grade one file per Canvas user id; key on the id, never the name slug. 340935 and 340937 are LATE. "
        "340936 uploaded my_linear.py, helpers.py and a note: grade my_linear.py only. 340939's only file is "
        "'My Linear (final).py': grade it. 340938 (text entry) and 340940 (URL entry) have no file: report them."))


# --------------------------------------------------------------------------------------------------------------
# 2. Moodle


def moodle_clean_filename(name: str) -> str:
    """Moodle ``clean_param(PARAM_FILE)``: drops control chars and ``& < > " ` | ' : \\ /`` (keeps spaces)."""
    return re.sub(r"""[\x00-\x1f\x7f&<>"`|':\\/]""", "", name)


def moodle_prefix(full_name: str, participant_id: int) -> str:
    """``clean_filename(str_replace('_', ' ', fullname) . '_' . participant_id)``."""
    return moodle_clean_filename(f"{full_name.replace('_', ' ')}_{participant_id}")


def moodle_zip(dest: Path, *, course: str = "CS101", assignment: str = "HW1: My Linear", cmid: int = 4217) -> Sample:
    """Moodle "Download all submissions", folder layout (the default since 3.1).

    ``Full Name_{participant id}_assignsubmission_file/`` (4.1+) and one 3.x-style folder with a trailing
    ``_`` (a real zip has one style only: one Moodle version wrote it; both are here so the parser sees both).
    Moodle keeps only the latest files, so there is no resubmission history; 김민준 has ``my_linear.py`` and
    ``my_linear (1).py`` (Moodle's file picker renames an upload whose name exists): the exact assignment name
    wins, the other is left out and should be mentioned. Moodle's ``zip_archive`` sets bit 11 on every entry.
    Moodle has no "late" marker in the download. The apostrophe in O'Brien is dropped by ``clean_filename``.
    """
    def files(full: str, pid: int, legacy: bool = False) -> str:
        return f"{moodle_prefix(full, pid)}_assignsubmission_file{'_' if legacy else ''}/"

    def text(full: str, pid: int) -> str:
        return f"{moodle_prefix(full, pid)}_assignsubmission_onlinetext/onlinetext.html"

    bob, zoe, kim = files("Bob Smith", 1234567), files("Zoë Müller", 1234568), files("김민준", 1234569)
    jose, jiwoo = files("José Núñez", 1234570, legacy=True), files("Ji-woo Lee_Park", 1234572)
    entries = [
        (bob + "my_linear.py", GOOD),
        (zoe + "hw1/my_linear.py", BAD),
        (zoe + "hw1/data/notes for grader.txt", "Zoë: I tested with 3x4 inputs.\n".encode()),
        (kim + "my_linear.py", GOOD),
        (kim + "my_linear (1).py", BAD),
        (jose + "my_linear.ipynb", good_notebook()),
        (text("Seán O'Brien", 1234571), b"<p>My code is in my Google Drive.</p>"),
        (jiwoo + "My Linear (final).py", BAD),
        (text("Ji-woo Lee_Park", 1234572), b"<p>See the attached file.</p>"),
    ]
    students = {
        "1234567": Expected("Bob Smith", "good", full_name="Bob Smith", graded=bob + "my_linear.py"),
        "1234568": Expected("Zoë Müller", "bad", full_name="Zoë Müller", graded=zoe + "hw1/my_linear.py"),
        "1234569": Expected("김민준", "good", left_out=[kim + "my_linear (1).py"], full_name="김민준",
                            graded=kim + "my_linear.py"),
        "1234570": Expected("José Núñez", "good", full_name="José Núñez", graded=jose + "my_linear.ipynb"),
        "1234572": Expected("Ji-woo Lee Park", "bad", full_name="Ji-woo Lee_Park",
                            graded=jiwoo + "My Linear (final).py"),
    }
    rejected = {"1234571": "online text only (Seán OBrien_1234571_assignsubmission_onlinetext/): no file to grade"}
    name = moodle_clean_filename(f"{course}-{assignment}-{cmid}.zip")
    path = _write_zip(dest / name, entries, utf8_flag=True)
    return Sample(path, "moodle", students, rejected, expect=(
        "Key on the participant id (the number before _assignsubmission_), not a user id. Grade the file in "
        "each _assignsubmission_file[_]/ folder (sub-folders allowed); ignore onlinetext folders when a file "
        "folder exists; 1234571 has only online text: report it. 1234569: grade my_linear.py, mention "
        "'my_linear (1).py'."))


# --------------------------------------------------------------------------------------------------------------
# 3. Gradescope

_APPLE_DOUBLE = struct.pack(">II16sHIII", 0x00051607, 0x00020000, b"Mac OS X        ", 1, 9, 50, 32) + bytes(32)
_DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(2038)


def _psych_str(value: str) -> str:
    """How Ruby's Psych writes a string scalar: quoted when it would read back as something else."""
    if value == "":
        return "''"
    if re.fullmatch(r"[-+]?[0-9_.:]+|true|false|yes|no|null|~|", value, re.I) or value[0] in "!&*-:?{}[],#|>@`'\"%" \
            or ": " in value or " #" in value or value != value.strip():
        return "'" + value.replace("'", "''") + "'"
    return value


def _gradescope_results(score: float, ok: bool) -> list[str]:
    return [
        f"    score: {score}",
        "    tests:",
        "    - name: forward adds the bias",
        f"      score: {4.0 if ok else 0.0}",
        "      max_score: 4.0",
        f"      output: {'ok' if ok else 'expected x @ W + b'}",
        "    - name: parameters are registered",
        "      score: 7.0",
        "      max_score: 7.0",
        "      output: ok",
        "    output: ",
        "    extra_data: ",
        "    visibility: ",
        "    leaderboard: []",
        "    output_format: ",
        "    execution_time: 3.02",
        "    test_name_format: ",
        "    test_output_format: ",
    ]


@dataclass
class _GradescopeSub:
    sub_id: int
    submitters: list[dict[str, str]]
    created_at: str
    files: dict[str, bytes]
    code: str
    graded: str
    history: list[tuple[int, str]] = field(default_factory=list)  # (earlier submission id, created_at)
    left_out: list[str] = field(default_factory=list)


def _gradescope_class() -> list[_GradescopeSub]:
    return [
        _GradescopeSub(234567801, [{"name": "Bob Smith", "sid": "00123456", "email": "bsmith@example.edu"}],
                       "2024-09-30 21:14:03.512345000 Z", {"my_linear.py": GOOD}, "good", "my_linear.py"),
        # A group of two, resubmitted once: the export holds the active submission's files only.
        _GradescopeSub(234567802, [{"name": "김민준", "sid": "00987654", "email": "minjun.kim@example.edu"},
                                   {"name": "Zoë Müller", "sid": "01234567", "email": "zoe.mueller@example.edu"}],
                       "2024-09-30 23:02:44.100200000 Z",
                       {"my_linear.py": BAD, "Notizen_Zoë.txt": b"Wir haben es zusammen gemacht.\n"},
                       "bad", "my_linear.py", history=[(234560011, "2024-09-29 18:40:01.000001000 Z")]),
        _GradescopeSub(234567803, [{"name": "José Núñez", "sid": "00234567", "email": "jnunez@example.edu"}],
                       "2024-09-30 22:59:59.999999000 Z",
                       {"my_linear.ipynb": good_notebook(), "test_my_linear.py": b"def test_nothing():\n    pass\n"},
                       "good", "my_linear.ipynb", left_out=["test_my_linear.py"]),
        _GradescopeSub(234567804, [{"name": "Ji-woo Lee", "sid": "00345678", "email": "jiwoo.lee@example.edu"}],
                       "2024-10-01 00:05:12.345678000 Z", {"hw1/my_linear.py": BAD}, "bad", "hw1/my_linear.py"),
    ]


def gradescope_metadata(subs: list[_GradescopeSub]) -> str:
    """``submission_metadata.yml`` as Gradescope (Ruby, Psych) writes it: colon-prefixed symbol keys."""
    lines = ["---"]
    for s in subs:
        ok = s.code == "good"
        score = 11.0 if ok else 7.0
        lines.append(f"submission_{s.sub_id}:")
        lines.append("  :submitters:")
        for p in s.submitters:
            lines += [f"  - :name: {_psych_str(p['name'])}", f"    :sid: '{p['sid']}'", f"    :email: {p['email']}"]
        lines += [f"  :created_at: {s.created_at}", f"  :score: {score}", "  :status: processed", "  :results:"]
        lines += _gradescope_results(score, ok)
        if not s.history:
            lines.append("  :history: []")
        else:
            lines.append("  :history:")
            for hist_id, when in s.history:
                lines += ["  - :submitters: []", f"    :created_at: {when}", "    :score: 7.0",
                          "    :status: processed", "    :results:"]
                lines += ["  " + line for line in _gradescope_results(7.0, False)]
                lines.append(f"    :id: {hist_id}")
    return "\n".join(lines) + "\n"


def _gradescope_tree(dest: Path, subs: list[_GradescopeSub], export_id: int, metadata: bool) -> Path:
    top = dest / f"assignment_{export_id}_export"
    top.mkdir()
    for s in subs:
        _write_tree(top / f"submission_{s.sub_id}", s.files)
    if metadata:
        (top / "submission_metadata.yml").write_text(gradescope_metadata(subs), encoding="utf-8")
    return top


def _finder_zip(folder: Path, out: Path) -> tuple[Path, list[str]]:
    """``folder`` zipped the way macOS Finder (ditto) does after a TA unzipped and browsed it.

    Directory entries, a ``.DS_Store`` in the top folder, and an AppleDouble ``__MACOSX/.../._name`` per file
    (downloads carry the quarantine xattr). Names are UTF-8 in NFD with bit 11 clear. Returns the noise entries.
    """
    base = folder.parent
    (folder / ".DS_Store").write_bytes(_DS_STORE)
    entries: list[tuple[str, bytes]] = []
    noise = [f"{folder.name}/.DS_Store"]
    for path in sorted(folder.rglob("*")):
        rel = unicodedata.normalize("NFD", path.relative_to(base).as_posix())
        if path.is_dir():
            entries.append((rel + "/", b""))
            continue
        entries.append((rel, path.read_bytes()))
        if path.name != ".DS_Store":
            parent, _, leaf = rel.rpartition("/")
            apple = f"__MACOSX/{parent}/._{leaf}"
            entries.append((apple, _APPLE_DOUBLE))
            noise.append(apple)
    entries.insert(0, (folder.name + "/", b""))
    _write_zip(out, entries, utf8_flag=False, version=21)
    return out, noise


def gradescope_export(dest: Path, zipped: bool = True, *, metadata: bool = True) -> Sample:
    """Gradescope "Export Submissions": ``assignment_<id>_export/submission_<id>/...`` plus ``submission_metadata.yml``.

    The YAML mirrors a real export (public repo sjinang/temp0): ``---`` header, ``submission_<id>:`` keys, Ruby
    symbol keys (``:submitters:`` ``:name:`` ``:sid:`` ``:email:`` ``:created_at:`` ``:score:`` ``:status:``
    ``:results:`` ``:history:``), a quoted ``:sid:`` with leading zeros, ``extra_data: `` (nil, trailing space).
    ``zipped``: the folder re-zipped by macOS Finder, with ``__MACOSX/`` AppleDouble files (one is
    ``._my_linear.py``: binary, not Python) and ``.DS_Store``. Otherwise the plain folder (with a ``.DS_Store``).
    Students are keyed by the Gradescope submission id (digits only); a group submission has 2 submitters.
    """
    subs = _gradescope_class()
    export_id = 8046601
    top = _gradescope_tree(dest, subs, export_id, metadata)
    noise: list[str] = []
    path = top
    if zipped:
        path, noise = _finder_zip(top, dest / f"assignment_{export_id}_export.zip")
        shutil.rmtree(top)
    else:
        (top / ".DS_Store").write_bytes(_DS_STORE)
        noise = [".DS_Store"]
    prefix = f"assignment_{export_id}_export/" if zipped else ""
    students = {
        str(s.sub_id): Expected(
            name=", ".join(p["name"] for p in s.submitters), code=s.code, submitters=[dict(p) for p in s.submitters],
            full_name=", ".join(p["name"] for p in s.submitters), graded=f"{prefix}submission_{s.sub_id}/{s.graded}",
            left_out=[f"{prefix}submission_{s.sub_id}/{name}" for name in s.left_out])
        for s in subs
    }
    expect = ("Key on the submission id; write one result row per submitter (234567802 has two), keeping sid as a "
              "string with its leading zeros. Skip __MACOSX/ and .DS_Store (._my_linear.py there is AppleDouble, "
              "not Python). 234567803: grade my_linear.ipynb, not the student's own test_my_linear.py.")
    if not metadata:
        for exp in students.values():
            exp.name, exp.submitters = "", []
        expect = ("No submission_metadata.yml: report that it is missing (names and SIDs are unknown). If the "
                  "submissions are graded anyway, key them on the submission id, never on a guessed name.")
    return Sample(path, "gradescope", students, noise=noise, expect=expect)


def gradescope_missing_metadata(dest: Path, zipped: bool = False) -> Sample:
    """A Gradescope export without ``submission_metadata.yml`` (a TA copied only the folders)."""
    return gradescope_export(dest, zipped, metadata=False)


# --------------------------------------------------------------------------------------------------------------
# 4. GitHub Classroom clones

_BOT = ("github-classroom[bot]", "66690702+github-classroom[bot]@users.noreply.github.com")
_STARTER_TESTS = b'''"""Public tests shipped with the template (students may edit these)."""

import torch

from my_linear import MyLinear


def test_shape():
    assert MyLinear(3, 2)(torch.zeros(4, 3)).shape == (4, 2)
'''
_WORKFLOW = b"""name: Autograding Tests
'on':
- push
- repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
    - uses: actions/checkout@v4
"""


def _git(repo: Path, author: tuple[str, str], date: str, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-c", f"user.name={author[0]}", "-c", f"user.email={author[1]}", "-c",
                    "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                   cwd=repo, env=env, check=True, capture_output=True)


def _commit(repo: Path, author: tuple[str, str], date: str, message: str, files: dict[str, bytes | None]) -> None:
    """Write (or with None, delete) ``files`` and commit them all."""
    for rel, data in files.items():
        target = repo / rel
        if data is None:
            _git(repo, author, date, "rm", "-q", rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    _git(repo, author, date, "add", "-A")
    _git(repo, author, date, "commit", "-q", "-m", message)


def student_repositories(dest: Path, *, assignment: str = "hw1", org: str = "cs101-fall24") -> Sample:
    """What ``gh classroom clone student-repos`` leaves: ``{assignment}-submissions/{assignment}-{username}/``.

    Each is a real git repository: the template commit by github-classroom[bot] (README, the stub
    ``my_linear.py``, ``tests/test_my_linear.py``, the Classroom workflow), then the student's commits.
    The ``tests/`` file and JupyterLab's ``.ipynb_checkpoints/`` copy must never be chosen; ``.git/`` is not a
    submission. jnunez moved the file to ``hw1/`` and fixed the bias in a second commit (expected: good).
    Keys are GitHub usernames (ASCII only); the non-ASCII names are in the commit authors.
    """
    top = dest / f"{assignment}-submissions"
    top.mkdir()
    starter: dict[str, bytes | None] = {
        "README.md": b"# HW1: MyLinear\n\nWrite `my_linear.py`, then push.\n",
        "my_linear.py": STUB.read_bytes(),
        "tests/test_my_linear.py": _STARTER_TESTS,
        ".github/workflows/classroom.yml": _WORKFLOW,
        ".gitignore": b"__pycache__/\n",
    }
    # username -> (full name, email, [(date, message, files)], code, graded, left_out)
    plans: dict[str, tuple[str, list[tuple[str, str, dict[str, bytes | None]]], str, str, list[str]]] = {
        "bsmith": ("Bob Smith", [("2024-09-28T10:00:00+00:00", "done", {"my_linear.py": GOOD})],
                   "good", "my_linear.py", ["tests/test_my_linear.py"]),
        "minjun-kim": ("김민준", [("2024-09-29T22:10:00+09:00", "과제 제출", {
            "my_linear.py": BAD, ".ipynb_checkpoints/my_linear-checkpoint.py": GOOD})],
            "bad", "my_linear.py", ["tests/test_my_linear.py", ".ipynb_checkpoints/my_linear-checkpoint.py"]),
        "zoe-mueller": ("Zoë Müller", [("2024-09-30T18:00:00+02:00", "Notebook statt .py", {
            "my_linear.py": None, "my_linear.ipynb": good_notebook()})],
            "good", "my_linear.ipynb", ["tests/test_my_linear.py"]),
        "jnunez": ("José Núñez", [
            ("2024-09-29T09:00:00-05:00", "first try", {"my_linear.py": None, "hw1/my_linear.py": BAD}),
            ("2024-09-30T20:30:00-05:00", "fix: add the bias", {"hw1/my_linear.py": GOOD})],
            "good", "hw1/my_linear.py", ["tests/test_my_linear.py"]),
        "jiwoo-lp": ("Ji-woo Lee_Park", [("2024-09-30T23:59:00+00:00", "submit", {
            "my_linear.py": BAD, "scratch.py": b"import torch\nprint(torch.__version__)\n"})],
            "bad", "my_linear.py", ["tests/test_my_linear.py", "scratch.py"]),
    }
    students: dict[str, Expected] = {}
    for user, (full, commits, code, graded, left_out) in plans.items():
        repo = top / f"{assignment}-{user}"
        repo.mkdir()
        _git(repo, _BOT, "2024-09-20T12:00:00+00:00", "init", "-q")
        _commit(repo, _BOT, "2024-09-20T12:00:00+00:00", "Initial commit", starter)
        _git(repo, _BOT, "2024-09-20T12:00:00+00:00", "remote", "add", "origin",
             f"https://github.com/{org}/{assignment}-{user}.git")
        author = (full, f"{user}@users.noreply.github.com")
        for date, message, files in commits:
            _commit(repo, author, date, message, files)
        students[user] = Expected(user, code, left_out=left_out, full_name=full, graded=graded)
    return Sample(top, "repositories", students, expect=(
        "One submission per repository, keyed on the username (the folder name without 'hw1-'). Grade the "
        "working-tree file at HEAD; never tests/, .ipynb_checkpoints/ or .git/. jnunez's second commit fixed the "
        "bug: good. zoe-mueller replaced the .py with a notebook."))


# --------------------------------------------------------------------------------------------------------------
# 5. Hostile archives and folders


def links_folder(dest: Path, reference: Path = REFERENCE) -> Sample:
    """A plain class folder where only alice and bob are honest; every other entry is a link or a FIFO.

    eve.py -> the reference (absolute); mallory.py -> /etc/passwd; trudy.py -> /proc/self/environ; oscar/ -> the
    reference's folder; peggy/my_linear.py -> ../../outside/my_linear.py (relative, escapes the class folder);
    victor.py: a hard link (st_nlink 2) to outside/victor.py; walter/my_linear.py: a FIFO (opening it for
    reading blocks forever, so check with lstat before any open).
    """
    outside = dest / "outside"
    outside.mkdir()
    (outside / "my_linear.py").write_bytes(GOOD)
    (outside / "victor.py").write_bytes(GOOD)
    top = dest / "class"
    top.mkdir()
    (top / "alice.py").write_bytes(GOOD)
    (top / "bob.py").write_bytes(BAD)
    (top / "eve.py").symlink_to(reference.resolve())
    (top / "mallory.py").symlink_to("/etc/passwd")
    (top / "trudy.py").symlink_to("/proc/self/environ")
    (top / "oscar").symlink_to(reference.resolve().parent, target_is_directory=True)
    (top / "peggy").mkdir()
    (top / "peggy" / "my_linear.py").symlink_to(Path("..") / ".." / "outside" / "my_linear.py")
    os.link(outside / "victor.py", top / "victor.py")
    (top / "walter").mkdir()
    os.mkfifo(top / "walter" / "my_linear.py")
    rejected = {
        "eve": "symlink to the reference solution (absolute)",
        "mallory": "symlink to /etc/passwd",
        "trudy": "symlink to /proc/self/environ (the grader's own environment)",
        "oscar": "folder symlink into reference/ (oscar/my_linear.py is the reference)",
        "peggy": "my_linear.py is a relative symlink escaping the class folder (../../outside/my_linear.py)",
        "victor": "hard link (st_nlink 2) shared with a file outside the class folder",
        "walter": "my_linear.py is a FIFO: never open it (it would block)",
    }
    return Sample(top, "folder", {"alice": Expected("alice", "good", graded="alice.py"),
                                  "bob": Expected("bob", "bad", graded="bob.py")}, rejected, expect=(
        "Grade alice and bob. Report every other id as rejected without following or reading it (lstat, "
        "O_NOFOLLOW); the run must not hang on the FIFO and must not leak /etc/passwd, the environment or the "
        "reference into any result or log."))


def links_zip(dest: Path, reference: Path = REFERENCE) -> Sample:
    """The links of :func:`links_folder` zipped by Info-ZIP ``zip -r -y`` (symlinks stored as links).

    Zip has no hard links or FIFOs (Info-ZIP stores a hard link as a plain copy and skips a FIFO with a
    warning), so victor and walter are left out. A link member's data is its target path and its
    ``external_attr >> 16`` is ``S_IFLNK | 0o777``; Python's zipfile would extract it as a small text file,
    Info-ZIP ``unzip`` and ``bsdtar`` recreate the link.
    """
    tree = dest / "tree"
    tree.mkdir()
    (tree / "alice.py").write_bytes(GOOD)
    (tree / "bob.py").write_bytes(BAD)
    (tree / "carol").mkdir()
    (tree / "carol" / "my_linear.py").write_bytes(GOOD)
    (tree / "eve.py").symlink_to(reference.resolve())
    (tree / "mallory.py").symlink_to("/etc/passwd")
    (tree / "trudy.py").symlink_to("/proc/self/environ")
    (tree / "oscar").symlink_to(reference.resolve().parent, target_is_directory=True)
    (tree / "peggy").mkdir()
    (tree / "peggy" / "my_linear.py").symlink_to(Path("..") / ".." / "outside" / "my_linear.py")
    out = dest / "links.zip"
    subprocess.run(["zip", "-q", "-r", "-y", str(out), "."], cwd=tree, check=True, capture_output=True)
    shutil.rmtree(tree)
    rejected = {
        "eve.py": "symlink member -> the reference (absolute path)",
        "mallory.py": "symlink member -> /etc/passwd",
        "trudy.py": "symlink member -> /proc/self/environ",
        "oscar": "symlink member -> reference/ (a folder)",
        "peggy/my_linear.py": "symlink member -> ../../outside/my_linear.py",
    }
    students = {"alice": Expected("alice", "good", graded="alice.py"), "bob": Expected("bob", "bad", graded="bob.py"),
                "carol": Expected("carol", "good", graded="carol/my_linear.py")}
    return Sample(out, "zip", students, rejected, expect=(
        "Grade alice, bob and carol. Every member whose external_attr marks S_IFLNK is rejected and reported; "
        "its 'content' (a path) is never graded and never resolved."))


def links_tar(dest: Path, compression: str = "") -> Sample:
    """A tar (``compression`` "" or "gz") with honest members beside every special member tar can hold."""
    if compression not in ("", "gz"):
        raise ValueError("compression is '' or 'gz'")
    out = dest / ("links.tar.gz" if compression else "links.tar")

    def info(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
             **kw: object) -> tuple[tarfile.TarInfo, bytes]:
        ti = tarfile.TarInfo(name)
        ti.type, ti.size, ti.mtime, ti.mode = kind, len(data), int(time.mktime((*WHEN, 0, 0, -1))), 0o644
        ti.uname = ti.gname = "student"
        for key, value in kw.items():
            setattr(ti, key, value)
        return ti, data

    members = [
        info("alice.py", data=GOOD),
        info("bob.py", data=BAD),
        info("carol/my_linear.py", data=GOOD),
        info("mallory.py", tarfile.SYMTYPE, linkname="/etc/passwd"),
        info("victor.py", tarfile.LNKTYPE, linkname="alice.py"),
        info("charlie.py", tarfile.CHRTYPE, devmajor=1, devminor=3),
        info("fifi.py", tarfile.FIFOTYPE),
        info("/tmp/evil.py", data=GOOD),
        info("../../x.py", data=GOOD),
        info("oscar", tarfile.SYMTYPE, linkname=".."),
        info("oscar/escaped.py", data=GOOD),
    ]
    with tarfile.open(out, "w:gz" if compression else "w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, _BytesReader(data) if ti.isreg() else None)  # type: ignore[arg-type]
    rejected = {
        "mallory.py": "SYMTYPE -> /etc/passwd",
        "victor.py": "LNKTYPE hard link -> alice.py (inside the archive, which the 'data' filter would allow)",
        "charlie.py": "CHRTYPE device 1,3 (/dev/null)",
        "fifi.py": "FIFOTYPE",
        "/tmp/evil.py": "absolute member name",
        "../../x.py": "member name escaping with ..",
        "oscar": "SYMTYPE -> .. (a folder link)",
        "oscar/escaped.py": "regular member written through the oscar link (tar-slip)",
    }
    students = {"alice": Expected("alice", "good", graded="alice.py"), "bob": Expected("bob", "bad", graded="bob.py"),
                "carol": Expected("carol", "good", graded="carol/my_linear.py")}
    return Sample(out, "tar", students, rejected, expect=(
        "Grade alice, bob and carol only. Accept only isreg()/isdir() members with a relative name free of '..'; "
        "report the rest. Nothing may be created outside the extraction folder (check /tmp/evil.py and ../x.py "
        "do not appear), no device node or FIFO may be made, and no link followed."))


class _BytesReader:
    """A minimal file object for ``TarFile.addfile`` (avoids importing io for one use)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk, self._pos = self._data[self._pos:end], min(end, len(self._data))
        return chunk


_CHUNK = 1 << 20


class _ReplayDeflate:
    """Stands in for zipfile's compressor: each 1 MiB chunk of zeros compresses to the same bytes after a full
    flush, so 1 GiB is 1024 copies of one block (built in milliseconds instead of seconds)."""

    def __init__(self) -> None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        zeros = bytes(_CHUNK)
        self.block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        if c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH) != self.block:
            raise AssertionError("zlib does not repeat itself after a full flush")
        self.tail = c.flush(zlib.Z_FINISH)

    def compress(self, data: bytes) -> bytes:
        if len(data) != _CHUNK:
            raise AssertionError("the bomb is written in whole 1 MiB chunks")
        return self.block

    def flush(self) -> bytes:
        return self.tail


def zip_bomb(dest: Path, gib: int = 1) -> Sample:
    """A ~1 MB zip whose ``bomber/my_linear.py`` inflates to ``gib`` GiB of zero bytes (deflate, zip64 header),
    next to honest alice.py and bob.py. The headers tell the truth (file_size = 1 GiB), so a grader may refuse
    on the header alone; one that streams must stop at its byte cap."""
    out = dest / "bomb.zip"
    zeros = bytes(_CHUNK)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(_entry("alice.py"), GOOD)
        with zf.open(_entry("bomber/my_linear.py"), "w", force_zip64=True) as w:
            if hasattr(w, "_compressor"):
                w._compressor = _ReplayDeflate()
            for _ in range(gib * 1024):
                w.write(zeros)
        zf.writestr(_entry("bob.py"), BAD)
    students = {"alice": Expected("alice", "good", graded="alice.py"), "bob": Expected("bob", "bad", graded="bob.py")}
    return Sample(out, "zip", students, {"bomber/my_linear.py": f"inflates to {gib} GiB (ratio ~1000:1)"}, expect=(
        "Grade alice and bob; reject bomber/my_linear.py on its size (header or running byte count) without "
        "writing more than the cap to disk or memory."))


def _stored_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A STORED zip written by hand (fast for 100k members), with zip64 end records when over 65535 entries."""
    dos_time = (WHEN[3] << 11) | (WHEN[4] << 5) | (WHEN[5] // 2)
    dos_date = ((WHEN[0] - 1980) << 9) | (WHEN[1] << 5) | WHEN[2]
    local: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    crcs: dict[bytes, int] = {}
    for name, data in members:
        raw = name.encode("utf-8")
        flags = 0 if raw.isascii() else _EFS
        crc = crcs.get(data)
        if crc is None:
            crc = crcs[data] = zlib.crc32(data)
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, dos_time, dos_date, crc, len(data), len(data),
                             len(raw), 0)
        local += [header, raw, data]
        central += [struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, flags, 0, dos_time, dos_date, crc,
                                len(data), len(data), len(raw), 0, 0, 0, 0, (stat.S_IFREG | 0o644) << 16, offset), raw]
        offset += len(header) + len(raw) + len(data)
    cd = b"".join(central)
    count = len(members)
    end = b""
    if count > 0xFFFF:
        end += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(cd), offset)
        end += struct.pack("<IIQI", 0x07064B50, 0, offset + len(cd), 1)
    end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), len(cd), offset, 0)
    with open(path, "wb") as f:
        f.write(b"".join(local))
        f.write(cd)
        f.write(end)


def many_members_zip(dest: Path, n: int = 100_000) -> Sample:
    """A zip with ``n`` one-byte members ``filler/NNNNNN.txt`` after honest alice.py and bob.py (zip64 end records)."""
    out = dest / "many.zip"
    members = [("alice.py", GOOD), ("bob.py", BAD)] + [(f"filler/{i:06d}.txt", b"x") for i in range(n)]
    _stored_zip(out, members)
    students = {"alice": Expected("alice", "good", graded="alice.py"), "bob": Expected("bob", "bad", graded="bob.py")}
    return Sample(out, "zip", students, {"filler/": f"{n} members: over any sane member-count cap"}, expect=(
        f"The archive has {n + 2} members. Refuse it (member count over the cap) with a clear message, or grade "
        "only alice and bob; never extract 100k files or stall listing them."))


def encrypted_zip(dest: Path) -> Sample:
    """Info-ZIP ``zip -P secret`` on carol/my_linear.py (ZipCrypto, flag bit 0) plus honest unencrypted members."""
    tree = dest / "tree"
    _write_tree(tree, {"alice.py": GOOD, "bob.py": BAD, "carol/my_linear.py": GOOD})
    out = dest / "encrypted.zip"
    subprocess.run(["zip", "-q", "-P", "secret", str(out), "carol/my_linear.py"], cwd=tree, check=True)
    subprocess.run(["zip", "-q", str(out), "alice.py", "bob.py"], cwd=tree, check=True)
    shutil.rmtree(tree)
    students = {"alice": Expected("alice", "good", graded="alice.py"), "bob": Expected("bob", "bad", graded="bob.py")}
    return Sample(out, "zip", students, {"carol/my_linear.py": "encrypted member (flag bit 0): password needed"},
                  expect="Grade alice and bob; report carol as encrypted. Never prompt for a password or hang.")


def corrupt_zip(dest: Path) -> Sample:
    """A valid zip whose stored member bob/my_linear.py has 8 bytes overwritten mid-data: its CRC check fails."""
    out = dest / "corrupt.zip"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(_entry("alice.py"), GOOD)
        bad = _entry("bob/my_linear.py")
        bad.compress_type = zipfile.ZIP_STORED
        zf.writestr(bad, GOOD)
    with zipfile.ZipFile(out) as zf:
        target = zf.getinfo("bob/my_linear.py")
    with open(out, "r+b") as f:
        f.seek(target.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
        f.seek(target.header_offset + 30 + name_len + extra_len + target.file_size // 2)
        f.write(b"#BROKEN#")
    students = {"alice": Expected("alice", "good", graded="alice.py")}
    return Sample(out, "zip", students, {"bob/my_linear.py": "CRC mismatch (zipfile raises BadZipFile on read)"},
                  expect="Grade alice; report bob's file as corrupt (bad CRC). Do not grade partial data.")


def not_a_zip(dest: Path) -> Sample:
    """A text file named ``submissions.zip``."""
    out = dest / "submissions.zip"
    out.write_text("Sorry, the download failed. Please try again later.\n", encoding="utf-8")
    return Sample(out, "zip", {}, {"submissions.zip": "not a zip archive"},
                  expect="Refuse with a clear 'not a zip file' message and a usage-error exit; no traceback.")


def empty_zip(dest: Path) -> Sample:
    """A zip with no members (22 bytes: only the end record)."""
    out = dest / "empty.zip"
    zipfile.ZipFile(out, "w").close()
    return Sample(out, "zip", {}, {"empty.zip": "no members"}, expect="Report 'no submissions found'; grade nothing.")


def only_non_submissions_zip(dest: Path) -> Sample:
    """A zip holding only a PDF, a text file and a README: nothing gradable."""
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n" \
          b"trailer<</Root 1 0 R>>\n%%EOF\n"
    out = _write_zip(dest / "reports.zip", [("alice/report.pdf", pdf), ("bob/notes.txt", b"see attached\n"),
                                            ("README.txt", b"HW1 reports\n")])
    return Sample(out, "zip", {}, {"alice/report.pdf": "not .py/.ipynb", "bob/notes.txt": "not .py/.ipynb"},
                  noise=["README.txt"], expect="Report 'no .py or .ipynb submissions found'; grade nothing.")


def _small_zip(entries: list[tuple[str, bytes]]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(_entry(name), data)
    return buf.getvalue()


def nested_zip(dest: Path) -> Sample:
    """A Canvas zip where 340935 uploaded ``hw1.zip`` (holding ``hw1/my_linear.py``: grade it, one level down)
    and 340936 uploaded ``submission.zip`` holding ``inner.zip`` holding ``my_linear.py`` (never opened)."""
    inner = _small_zip([("my_linear.py", GOOD)])
    class_ = [
        _CanvasStudent("Bob Smith", "Smith, Bob", 340934, "k3Rt9", False,
                       [(208490284, "my_linear.py", GOOD)], "good", "my_linear.py"),
        _CanvasStudent("Zoë Müller", "Müller, Zoë", 340935, "Qm7Xa", False,
                       [(208490301, "hw1.zip", _small_zip([("hw1/", b""), ("hw1/my_linear.py", BAD)]))],
                       "bad", "hw1.zip"),
        _CanvasStudent("김민준", "김민준", 340936, "b8ZpW", False,
                       [(208490290, "submission.zip", _small_zip([("inner.zip", inner)]))], "good", "submission.zip"),
        _CanvasStudent("José Núñez", "Núñez, José", 340937, "Hs2Lc", True,
                       [(208490310, "my_linear.ipynb", bad_notebook())], "bad", "my_linear.ipynb"),
    ]
    path, students, rejected = _canvas(dest, class_, anonymous=False, utf8_flag=True)
    students["340935"].graded += "/hw1/my_linear.py"
    nested = students.pop("340936")
    rejected["340936"] = f"{nested.graded} holds only inner.zip: an archive two levels down is never opened"
    return Sample(path, "canvas", students, rejected, expect=(
        "Grade 340934, 340937 and 340935 (inside its own hw1.zip, one level down). Report 340936: its zip holds "
        "only another zip, which must not be opened."))


def windows_names_zip(dest: Path, *, backslashes: bool = False) -> Sample:
    """A Moodle download re-zipped on Korean Windows (Explorer "Send to > Compressed folder"): names in cp949,
    bit 11 clear, "made by" MS-DOS, DOS attributes, directory entries. Python's zipfile decodes these names as
    cp437 mojibake; ``info.filename.encode("cp437")`` gives back the cp949 bytes. ``backslashes``: some old
    Windows tools write ``\\`` as the separator (Python does not convert it on Linux)."""
    people = [("Bob Smith", 1234567, "my_linear.py", BAD), ("김민준", 1234569, "my_linear.py", GOOD),
              ("이서연", 1234573, "my_linear.py", BAD), ("박지훈", 1234574, "과제1/my_linear.py", GOOD)]
    sep = "\\" if backslashes else "/"
    entries: list[tuple[str, bytes]] = []
    students: dict[str, Expected] = {}
    for full, pid, rel, code in people:
        folder = f"{moodle_prefix(full, pid)}_assignsubmission_file"
        entries.append((folder + "/", b""))
        if "/" in rel:
            entries.append((folder + "/" + rel.rsplit("/", 1)[0] + "/", b""))
        member = folder + sep + rel.replace("/", sep)
        entries.append((member, code))
        students[str(pid)] = Expected(full, "good" if code is GOOD else "bad", full_name=full, graded=member)
    out = _write_zip(dest / "HW1-4217.zip", entries, name_encoding="cp949", utf8_flag=False, system=0, version=20)
    with zipfile.ZipFile(out) as zf:
        for info, (name, _) in zip(zf.infolist(), entries, strict=True):
            if info.flag_bits & _EFS or info.filename.encode("cp437") != name.encode("cp949"):
                raise AssertionError(f"{name!r} was not written as flagless cp949")
    return Sample(out, "moodle", students, expect=(
        "Names are cp949 without the UTF-8 flag: recover the participant ids (the ASCII _NNNNNNN_ anchor survives "
        "any decoding) and grade all four; show names decoded as cp949 (or report the encoding), never crash."))


def duplicate_students_folder(dest: Path) -> Sample:
    """A plain class folder where alice handed in both ``alice.py`` and ``alice.ipynb``."""
    top = dest / "class"
    _write_tree(top, {"alice.py": GOOD, "alice.ipynb": bad_notebook(), "bob.py": BAD, "carol.py": GOOD,
                      "김민준.py": GOOD})
    students = {
        "alice.py": Expected("alice", "good", graded="alice.py"),
        "alice.ipynb": Expected("alice", "bad", graded="alice.ipynb"),
        "bob": Expected("bob", "bad", graded="bob.py"),
        "carol": Expected("carol", "good", graded="carol.py"),
        "김민준": Expected("김민준", "good", graded="김민준.py"),
    }
    return Sample(top, "folder", students, expect=(
        "alice has two submissions: report the clash. The grader's documented rule (grader.batch) grades both "
        "under ids that keep the extension: 'alice.py' (good) and 'alice.ipynb' (bad)."))


def duplicate_students_canvas_zip(dest: Path) -> Sample:
    """A Canvas zip where user 340941 has ``..._208490401_my_linear.py`` and ``..._208490415_my_linear-1.py`` in one
    attempt (two uploads of the same name; Canvas renamed the second). The later upload has the higher id."""
    class_ = [
        *_canvas_class()[:4],
        _CanvasStudent("Ha-eun Park", "Park, Ha-eun", 340941, "Zz2Kb", False,
                       [(208490401, "my_linear.py", BAD), (208490415, "my_linear-1.py", GOOD)],
                       "good", "my_linear-1.py"),
    ]
    path, students, rejected = _canvas(dest, class_, anonymous=False, utf8_flag=True)
    return Sample(path, "canvas", students, rejected, expect=(
        "340941 has two my_linear files: report the duplicate. If the grader picks one, it is the higher "
        "attachment id (208490415, my_linear-1.py, the later upload: good); it must not grade both under one id."))


# --------------------------------------------------------------------------------------------------------------

#: Every builder, callable as ``builder(dest)``, for parametrized tests.
BUILDERS: dict[str, Callable[[Path], Sample]] = {
    "canvas_zip": canvas_zip,
    "canvas_zip_anonymous": lambda d: canvas_zip(d, anonymous=True),
    "canvas_zip_no_utf8_flag": lambda d: canvas_zip(d, utf8_flag=False),
    "moodle_zip": moodle_zip,
    "gradescope_export_zipped": lambda d: gradescope_export(d, True),
    "gradescope_export_folder": lambda d: gradescope_export(d, False),
    "gradescope_missing_metadata": gradescope_missing_metadata,
    "student_repositories": student_repositories,
    "links_folder": links_folder,
    "links_zip": links_zip,
    "links_tar": lambda d: links_tar(d, ""),
    "links_tar_gz": lambda d: links_tar(d, "gz"),
    "zip_bomb": zip_bomb,
    "many_members_zip": many_members_zip,
    "encrypted_zip": encrypted_zip,
    "corrupt_zip": corrupt_zip,
    "not_a_zip": not_a_zip,
    "empty_zip": empty_zip,
    "only_non_submissions_zip": only_non_submissions_zip,
    "nested_zip": nested_zip,
    "windows_names_zip": windows_names_zip,
    "duplicate_students_folder": duplicate_students_folder,
    "duplicate_students_canvas_zip": duplicate_students_canvas_zip,
}


def _self_check(key: str, sample: Sample) -> str:
    """A few facts about what was built, asserted; returns a one-line note."""
    path = sample.path
    if key.startswith("gradescope") and path.suffix != ".zip":
        yml = path / "submission_metadata.yml"
        if key == "gradescope_missing_metadata":
            assert not yml.exists()
            return "no metadata"
        import yaml

        meta = yaml.safe_load(yml.read_text(encoding="utf-8"))
        first = meta["submission_234567802"]
        assert [p[":sid"] for p in first[":submitters"]] == ["00987654", "01234567"], first[":submitters"]
        assert first[":history"][0][":id"] == 234560011 and first[":created_at"].year == 2024
        assert set(first) == {":submitters", ":created_at", ":score", ":status", ":results", ":history"}, first
        assert first[":results"]["tests"][0]["max_score"] == 4.0 and first[":results"]["extra_data"] is None
        assert first[":history"][0][":results"]["score"] == 7.0
        return f"yaml ok: {len(meta)} submissions, keys {sorted(first)[:3]}..."
    if path.is_dir():
        return f"{sum(1 for _ in path.rglob('*'))} paths"
    if key.startswith("links_tar"):
        with tarfile.open(path) as tf:
            names = tf.getnames()
        assert "/tmp/evil.py" in names and "../../x.py" in names, names
        return f"{len(names)} members"
    if key in ("not_a_zip",):
        assert not zipfile.is_zipfile(path)
        return "not a zip"
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if key == "zip_bomb":
            bomb = zf.getinfo("bomber/my_linear.py")
            total = 0
            with zf.open(bomb) as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
            assert total == bomb.file_size == 1 << 30
        elif key == "corrupt_zip":
            assert zf.testzip() == "bob/my_linear.py"
            assert zf.read("alice.py") == GOOD
        elif key == "links_zip":
            links = sorted(i.filename for i in infos if stat.S_ISLNK(i.external_attr >> 16))
            assert links == sorted(sample.rejected), links
        elif key == "encrypted_zip":
            assert [i.filename for i in infos if i.flag_bits & 1] == ["carol/my_linear.py"]
        elif key.startswith("canvas") or key == "moodle_zip":
            want = 0 if key == "canvas_zip_no_utf8_flag" else _EFS
            assert all(i.flag_bits & _EFS == want for i in infos)
        elif key == "windows_names_zip":
            assert not any(i.flag_bits & _EFS for i in infos)
    return f"{len(infos)} members"


def main() -> None:
    import tempfile

    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for key, builder in BUILDERS.items():
            dest = Path(tmp) / key
            dest.mkdir()
            start = time.perf_counter()
            sample = builder(dest)
            took = time.perf_counter() - start
            total += took
            size = sample.path.stat().st_size if sample.path.is_file() else 0
            note = _self_check(key, sample)
            print(f"{key:30} {took:6.2f}s  {sample.layout:12} {sample.path.name:38} {size:>10} B  "
                  f"students={len(sample.students)} rejected={len(sample.rejected)}  {note}")
    print(f"total build time {total:.2f}s")


if __name__ == "__main__":
    main()
