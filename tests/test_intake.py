"""Where submissions come from: links refused, archives read safely, LMS layouts recognised (issue 10).

Everything goes through the real CLI on real folders and archives (made with Info-ZIP ``zip -y``, which
stores links as links, and with ``tarfile``), except the small rule tables at the end.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import lms_samples
import pytest

from conftest import ROOT, ZOO, Run, in_parallel, result_files, run_grader, stable

REFERENCE = ROOT / "reference" / "my_linear.py"
BUGGY = ZOO / "my_linear" / "bias_left_out.py"
SECRET = "hunter2-judge-secret-7c1f"  # in the judge's environment: /proc/self/environ of the judge holds it


def _stable(doc: dict[str, Any]) -> dict[str, Any]:
    """A result without timings, environment and path (the clean and hostile classes lie in different folders)."""
    doc = stable(doc)
    doc["submission"].pop("path")
    return doc


def _all_output(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


def _honest(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REFERENCE, folder / "alice.py")
    shutil.copy(BUGGY, folder / "bob.py")


def _links(folder: Path, outside: Path) -> dict[str, str]:
    """Every kind of entry that must not be followed; returns id -> what it is."""
    outside.mkdir(parents=True, exist_ok=True)
    (folder / "eve.py").symlink_to(REFERENCE)
    (folder / "mallory.py").symlink_to("/etc/passwd")
    (folder / "trudy.py").symlink_to("/proc/self/environ")
    (folder / "oscar").symlink_to(REFERENCE.parent)  # a folder link into reference/
    (folder / "peggy").mkdir()
    (folder / "peggy" / "my_linear.py").symlink_to("../../../reference/my_linear.py")
    (folder / "sybil").mkdir()
    (folder / "sybil" / "my_linear.py").write_text(REFERENCE.read_text())
    (folder / "sybil" / "notes").symlink_to("/etc")  # a submission that merely contains a link
    shutil.copy(REFERENCE, outside / "victor_target.py")
    os.link(outside / "victor_target.py", folder / "victor.py")  # a hard link
    (folder / "walter").mkdir()
    os.mkfifo(folder / "walter" / "my_linear.py")
    return {"eve": "symbolic link", "mallory": "symbolic link", "trudy": "symbolic link", "oscar": "symbolic link",
            "peggy": "symbolic link", "sybil": "symbolic link", "victor": "hard link", "walter": "FIFO"}


def _assert_refused(results: dict[str, dict[str, Any]], refused: dict[str, str], out: Path) -> None:
    for sub_id, what in refused.items():
        doc = results[sub_id]
        assert doc["status"] == "rejected" and doc["score"] == 0, (sub_id, doc["status"], doc["score"])
        message = doc["errors"][0]["message"]
        assert what in message and "follows no link" in message, (sub_id, message)
    everything = _all_output(out)
    passwd_first = Path("/etc/passwd").read_text().splitlines()[0].encode()
    for leaked in (passwd_first, SECRET.encode(), b"BEGIN SOLUTION", b"x @ self.weights + self.bias"):
        assert leaked not in everything, leaked


def test_links_in_a_class_folder_earn_nothing_and_leak_nothing(tmp_path: Path, schema: dict) -> None:
    clean, hostile = tmp_path / "clean", tmp_path / "hostile"
    _honest(clean)
    _honest(hostile)
    refused = _links(hostile, tmp_path / "elsewhere")
    env = {"GRADER_TEST_SECRET": SECRET}
    run = run_grader("grade", "my_linear", hostile, "--out", tmp_path / "out", "--jobs", "2", "--seed", "3", env=env)
    assert run.returncode == 0, run.stderr
    base = run_grader("grade", "my_linear", clean, "--out", tmp_path / "base", "--jobs", "2", "--seed", "3")
    assert base.returncode == 0, base.stderr
    results = result_files(tmp_path / "out")
    assert sorted(results) == sorted(["alice", "bob", *refused])
    for doc in results.values():
        jsonschema.validate(doc, schema)
    _assert_refused(results, refused, tmp_path / "out")
    honest = result_files(tmp_path / "base")
    for sub_id in ("alice", "bob"):  # byte-identical to a run without the links, timings and paths aside
        assert _stable(results[sub_id]) == _stable(honest[sub_id])
    assert results["alice"]["score"] == 11 and 0 < results["bob"]["score"] < 11


def test_links_in_zip_and_tar_archives_are_refused(tmp_path: Path, schema: dict) -> None:
    folder = tmp_path / "class"
    _honest(folder)
    refused = _links(folder, tmp_path / "elsewhere")
    del refused["walter"], refused["victor"]  # zip stores neither FIFOs nor hard links: they become plain files
    shutil.rmtree(folder / "walter")
    (folder / "victor.py").unlink()
    archive = tmp_path / "class.zip"
    subprocess.run(["zip", "-q", "-r", "-y", str(archive), "."], cwd=folder, check=True)
    out = tmp_path / "out-zip"
    run = run_grader("grade", "my_linear", archive, "--out", out, "--jobs", "2", env={"GRADER_TEST_SECRET": SECRET})
    assert run.returncode == 0, run.stderr
    results = result_files(out)
    assert sorted(results) == sorted(["alice", "bob", *refused])
    _assert_refused(results, refused, out)
    assert results["alice"]["score"] == 11
    assert results["alice"]["submission"]["path"] == f"{archive}/alice.py"

    tar_path = tmp_path / "class.tar.gz"
    with tarfile.open(tar_path, "w:gz") as bundle:
        bundle.add(REFERENCE, "alice.py")
        for name, kind, target in (("eve.py", tarfile.SYMTYPE, "/etc/passwd"),
                                   ("mallory.py", tarfile.LNKTYPE, "alice.py"),
                                   ("dev.py", tarfile.CHRTYPE, ""), ("fifo.py", tarfile.FIFOTYPE, "")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.devmajor, info.devminor = kind, target, 1, 3
            bundle.addfile(info)
    out = tmp_path / "out-tar"
    run = run_grader("grade", "my_linear", tar_path, "--out", out, "--jobs", "1")
    assert run.returncode == 0, run.stderr
    results = result_files(out)
    for doc in results.values():
        jsonschema.validate(doc, schema)
    assert {k: (d["status"], d["score"]) for k, d in results.items()} == {
        "alice": ("graded", 11), "eve": ("rejected", 0), "mallory": ("rejected", 0), "dev": ("rejected", 0),
        "fifo": ("rejected", 0)}
    words = {k: d["errors"][0]["message"] for k, d in results.items() if k != "alice"}
    assert "symbolic link" in words["eve"] and "hard link" in words["mallory"]
    assert "device" in words["dev"] and "FIFO" in words["fifo"]


def test_check_refuses_a_link_and_quotes_nothing_of_its_target(tmp_path: Path) -> None:
    link = tmp_path / "my_linear.py"
    link.symlink_to("/etc/passwd")
    run = run_grader("check", "my_linear", link, "--format", "json")
    assert run.returncode == 1, run.stderr
    doc = run.json()
    assert doc["status"] == "rejected" and "symbolic link" in doc["errors"][0]["message"]
    assert Path("/etc/passwd").read_text().splitlines()[0] not in run.stdout + run.stderr


@pytest.mark.parametrize(("names", "chosen", "left_out"), [
    (["my_linear.py"], "my_linear.py", []),
    (["helper.py", "my_linear.py"], "my_linear.py", ["helper.py"]),
    (["my_linear.ipynb", "my_linear.py"], "my_linear.py", ["my_linear.ipynb"]),
    (["src/my_linear.py", "my_linear (1).py"], "my_linear (1).py", ["src/my_linear.py"]),
    (["solution.py", "tests/test_solution.py"], "solution.py", ["tests/test_solution.py"]),
    (["a.py", "b.py"], None, ["a.py", "b.py"]),
])
def test_the_rules_that_choose_the_file_of_a_folder_submission(names: list[str], chosen: str | None,
                                                                 left_out: list[str]) -> None:
    from grader.intake.choose import Candidate, choose
    from grader.intake.tree import Node

    candidates = [Candidate(Node(n.split("/")[-1], n), n, n.count("/")) for n in names]
    choice = choose(candidates, [], "my_linear", "carol")
    assert (choice.chosen.shown if choice.chosen else None) == chosen
    assert sorted(choice.left_out) == sorted(left_out)
    if chosen is None:
        assert "a.py, b.py" in (choice.problem or "") and "none is named my_linear.py" in (choice.problem or "")


def test_a_newer_canvas_upload_wins() -> None:
    from grader.intake.choose import Candidate, choose
    from grader.intake.tree import Node

    older = Candidate(Node("my_linear.py", "a"), "my_linear.py", 0, upload=500)
    newer = Candidate(Node("my_linear-1.py", "b"), "my_linear-1.py", 0, upload=900)
    assert choose([older, newer], [], "my_linear", "x").chosen is newer


def test_member_names_written_by_windows_tools() -> None:
    from grader.intake.archives import decode_name

    assert decode_name("김민준/my_linear.py".encode()) == ("김민준/my_linear.py", None)
    assert decode_name("김민준/my_linear.py".encode("cp949")) == ("김민준/my_linear.py", "CP949 (Korean Windows)")
    name, encoding = decode_name(b"Jos\xe9.py")  # Latin-1 from an old tool: shown, never refused
    assert encoding == "CP437 (the zip default)" and name.endswith(".py")


# ---- the layouts TAs download ------------------------------------------------------------------------

LAYOUTS = {
    "canvas": lambda d: lms_samples.canvas_zip(d),
    "canvas_without_utf8_flag": lambda d: lms_samples.canvas_zip(d, utf8_flag=False),
    "moodle": lambda d: lms_samples.moodle_zip(d),
    "gradescope_zip": lambda d: lms_samples.gradescope_export(d, zipped=True),
    "gradescope_folder": lambda d: lms_samples.gradescope_export(d, zipped=False),
    "repositories": lambda d: lms_samples.student_repositories(d),
}
_LMS_ID = {"canvas": "user_id", "moodle": "participant_id", "gradescope": "submission_id", "repositories": "username"}


@pytest.fixture(scope="module")
def lms_downloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, Run]]:
    """Every LMS-shaped download graded by its own real `grader grade` (two commands at a time): kind ->
    (sample, results folder, the finished command)."""
    def grade(kind: str) -> tuple[Any, Path, Run]:
        download = tmp_path_factory.mktemp(f"download-{kind}")
        sample = LAYOUTS[kind](download)
        out = tmp_path_factory.mktemp(f"out-{kind}") / "out"
        gradebook = sample.layout if sample.layout in ("canvas", "moodle") else "csv"
        run = run_grader("grade", "my_linear", sample.path, "--out", out, "--jobs", "2", "--gradebook", gradebook,
                         "--gradebook-column", "My Linear (4711)")
        return sample, out, run

    kinds = sorted(LAYOUTS)
    return dict(zip(kinds, in_parallel([lambda k=k: grade(k) for k in kinds]), strict=True))


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_an_lms_download_is_graded_straight_from_the_archive(
        kind: str, lms_downloads: dict[str, tuple[Any, Path, Run]], schema: dict) -> None:
    sample, out, run = lms_downloads[kind]
    gradebook = sample.layout if sample.layout in ("canvas", "moodle") else "csv"
    assert run.returncode == 0, run.stderr
    results = result_files(out)
    assert sorted(results) == sorted([*sample.students, *sample.rejected]), run.stderr
    with (out / f"gradebook-{gradebook}.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    if gradebook == "canvas":  # exactly one row per student, keyed on the Canvas user id, scores as numbers
        assert table[0] == ["Student", "ID", "Section", "My Linear (4711)"]
        assert table[1][0].strip() == "Points Possible" and float(table[1][3]) == 11
        assert sorted(row[1] for row in table[2:]) == sorted(results)
        assert all(float(row[3]) == results[row[1]]["score"] for row in table[2:])
    elif gradebook == "moodle":
        assert table[0][:3] == ["Identifier", "Full name", "Grade"]
        assert sorted(row[0] for row in table[1:]) == sorted(f"Participant {i}" for i in results)
        assert all(float(row[2]) == results[row[0].split()[-1]]["score"] for row in table[1:])
    else:
        people = sum(max(1, len(d["submission"]["lms"].get("submitters", []))) for d in results.values())
        assert len(table) - 1 == people
    for sub_id, doc in results.items():
        jsonschema.validate(doc, schema)
        lms = doc["submission"]["lms"]
        assert lms["layout"] == sample.layout and lms[_LMS_ID[sample.layout]] == sub_id
    for sub_id, expected in sample.students.items():
        doc, lms = results[sub_id], results[sub_id]["submission"]["lms"]
        where = f"{sub_id}: {doc['submission']['path']} {doc['errors']}"
        assert doc["status"] == "graded", where
        assert (doc["score"] == 11) == (expected.code == "good") and doc["score"] > 0, where
        assert doc["submission"]["path"].endswith(expected.graded), (where, expected.graded)
        noise = (".ipynb_checkpoints/", "__MACOSX/")  # never looked at, so not "left out" either
        assert sorted(Path(p).name for p in doc["submission"].get("left_out", [])) == sorted(
            Path(p).name for p in expected.left_out if not any(n in p for n in noise)), where
        if sample.layout == "canvas":
            assert lms["name"] == expected.name and lms["late"] == expected.late
        elif sample.layout == "moodle":
            assert lms["name"] == expected.name
        elif sample.layout == "gradescope":
            assert [p["sid"] for p in lms["submitters"]] == [p["sid"] for p in expected.submitters]
            assert [p["name"] for p in lms["submitters"]] == [p["name"] for p in expected.submitters]
    for sub_id in sample.rejected:
        assert results[sub_id]["status"] == "rejected" and results[sub_id]["score"] == 0
    assert not list(sample.path.parent.rglob("*.json")), "nothing is extracted beside the download"
    assert any(ord(c) > 127 for e in sample.students.values() for c in e.full_name or e.name)


BAD_ARCHIVES = {
    "not_a_zip": ("not a zip or tar archive", 2),
    "empty_zip": ("is empty", 2),
    "only_non_submissions_zip": ("not a .py or .ipynb file", 2),
}


@pytest.mark.parametrize("kind", sorted(BAD_ARCHIVES))
def test_an_archive_with_nothing_to_grade_says_so_in_one_line(kind: str, tmp_path: Path) -> None:
    sample = getattr(lms_samples, kind)(tmp_path)
    words, code = BAD_ARCHIVES[kind]
    run = run_grader("grade", "my_linear", sample.path, "--out", tmp_path / "out")
    assert run.returncode == code and words in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))


def test_hostile_archives_beside_a_class_cost_only_their_own_students(tmp_path: Path, schema: dict) -> None:
    """A 1 GiB zip bomb, 100 000 members, an encrypted and a corrupt member, a nested zip, Windows names,
    absolute and ``..`` names: one grade run over all of them; the honest students are graded."""
    names = ("zip_bomb", "many_members_zip", "encrypted_zip", "corrupt_zip", "nested_zip", "windows_names_zip",
             "links_tar")
    for name in names:
        (tmp_path / name).mkdir()
    made = {name: getattr(lms_samples, name)(tmp_path / name) for name in names if name != "links_tar"}
    made["links_tar"] = lms_samples.links_tar(tmp_path / "links_tar", "gz")
    outs = {name: tmp_path / f"out-{name}" for name in made}
    runs = dict(zip(made, in_parallel([
        lambda name=name: run_grader("grade", "my_linear", made[name].path, "--out", outs[name], "--jobs", "2",
                                     timeout=300)
        for name in made]), strict=True))
    for name, sample in made.items():
        out, run = outs[name], runs[name]
        assert run.returncode == 0, (name, run.stderr[-3000:])
        assert "Traceback" not in run.stderr, name
        results = result_files(out)
        for doc in results.values():
            jsonschema.validate(doc, schema)
        for sub_id, expected in sample.students.items():
            assert results[sub_id]["status"] == "graded", (name, sub_id, results[sub_id]["errors"])
            assert (results[sub_id]["score"] == 11) == (expected.code == "good"), (name, sub_id)
        if name == "zip_bomb":
            doc = results["bomber"]
            assert doc["status"] == "rejected" and "MiB" in doc["errors"][0]["message"], doc["errors"]
        if name == "many_members_zip":
            assert "100002 members, more than the 50000" in run.stderr
        if name == "encrypted_zip":
            assert "encrypted (password-protected)" in results["carol"]["errors"][0]["message"]
        if name == "corrupt_zip":
            assert results["bob"]["status"] == "rejected" and "damaged" in results["bob"]["errors"][0]["message"]
        if name == "nested_zip":
            doc = results["340936"]  # uploaded a zip that holds only another zip
            assert doc["status"] == "rejected" and "archive inside an archive" in doc["errors"][0]["message"]
            assert results["340935"]["submission"]["path"].endswith("hw1.zip/hw1/my_linear.py")
        if name == "windows_names_zip":
            assert "CP949 (Korean Windows)" in run.stderr
            assert any(d["submission"]["lms"]["name"] == "김민준" for d in results.values())
        if name == "links_tar":
            assert "`..`" in run.stderr and "absolute name" in run.stderr
    bomb_root = made["zip_bomb"].path.parent
    assert sum(p.stat().st_size for p in bomb_root.rglob("*") if p.is_file()) < 50 << 20, "nothing was extracted"


def test_two_uploads_of_one_student_and_an_export_without_its_metadata(tmp_path: Path) -> None:
    """Canvas: the newer of two uploads is graded and the other named; Gradescope without its metadata: one
    clear line, and every submission still graded under its submission id."""
    (tmp_path / "canvas").mkdir()
    (tmp_path / "gradescope").mkdir()
    canvas = lms_samples.duplicate_students_canvas_zip(tmp_path / "canvas")
    gradescope = lms_samples.gradescope_missing_metadata(tmp_path / "gradescope")
    for sample, out in ((canvas, tmp_path / "out-c"), (gradescope, tmp_path / "out-g")):
        run = run_grader("grade", "my_linear", sample.path, "--out", out, "--jobs", "2")
        assert run.returncode == 0, run.stderr
        results = result_files(out)
        assert sorted(results) == sorted([*sample.students, *sample.rejected])
        for sub_id, expected in sample.students.items():
            doc = results[sub_id]
            assert (doc["score"] == 11) == (expected.code == "good"), sub_id
            assert doc["submission"]["path"].endswith(expected.graded), (sub_id, doc["submission"]["path"])
            assert sorted(Path(p).name for p in doc["submission"].get("left_out", [])) == sorted(
                Path(p).name for p in expected.left_out)
        if sample is gradescope:
            assert "without submission_metadata.yml" in run.stderr
            assert all(d["submission"]["lms"]["submitters"] == [] for d in results.values())


def test_no_csv_cell_the_grader_writes_is_a_formula(tmp_path: Path) -> None:
    """Ids and names chosen by students (file names, Moodle folder names) come back neutralised."""
    from grader.spreadsheet import looks_like_formula

    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTAB"):
        shutil.copy(REFERENCE, plain / f"{name}.py")
    moodle = tmp_path / "moodle"
    for name, pid in (("=HYPERLINK(x)", "101"), ("@Bob", "102")):
        (moodle / f"{name}_{pid}_assignsubmission_file").mkdir(parents=True)
        shutil.copy(BUGGY, moodle / f"{name}_{pid}_assignsubmission_file" / "my_linear.py")
    files = []
    for source, gradebook in ((plain, "csv"), (moodle, "moodle")):
        out = tmp_path / f"out-{gradebook}"
        run = run_grader("grade", "my_linear", source, "--out", out, "--jobs", "2", "--gradebook", gradebook)
        assert run.returncode == 0, run.stderr
        files += [out / "summary.csv", out / f"gradebook-{gradebook}.csv"]
    seen = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    seen.add(cell)
                    try:
                        float(cell)
                    except ValueError:
                        assert not looks_like_formula(cell), (path.name, cell)
    assert {"'=1+2", "'+SUM_A1_", "'-2+3", "'@cmd", "'=HYPERLINK(x)", "'@Bob"} <= seen, sorted(seen)
