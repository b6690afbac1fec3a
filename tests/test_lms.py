"""Canvas and Moodle import files, written by nbgrader export plugins (grader.lms).

A small gradebook (three assignments, four students: one without a roster row, one who handed
nothing in, one late) is exported; the column layouts are pinned to what the LMS documents:

- Canvas Instructor Guide, "How do I import grades in the Gradebook?": the columns of Canvas's
  own gradebook export (Student, ID, SIS User ID, SIS Login ID, Section), one column per
  assignment, and a "Points Possible" row under the header.
- Moodle docs, "Import grades" (CSV file): a column to identify the user by (here Email
  address, mapped under "Identify user by"), one column per grade item; as Moodle's own CSV
  grade export (First name, Last name, ID number, ..., Email address, items).
"""
import csv
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from grader import lms

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = {"part_a": 10.0, "part_b": 20.0, "part_c": 5.0}
ROSTER = """student_id,first_name,last_name,email,canvas_id,sis_user_id,sis_login_id,section,id_number
ada,Ada,Lovelace,ada@uni.example,40211,s1815,ada.l,BN 101,s1815
"o'brien",Flann,O'Brien,flann@uni.example,40212,s1911,flann.o,BN 101,s1911
late,Late,Comer,late@uni.example,40213,s2000,late.c,BN 102,s2000
ghost,Gus,Ghost,gus@uni.example,40299,s2999,gus.g,BN 102,s2999
"""


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """(folder, db_url): a gradebook with ASSIGNMENTS of one test cell each, and students ada (all
    handed in), o'brien (part_a only), late (part_b, two days late), stranger (not in the roster)."""
    from nbgrader.api import Gradebook

    tmp_path = tmp_path_factory.mktemp("lms")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    due = datetime(2026, 11, 1, 12, 0)
    # nbgrader creates a gradebook with the `alembic` script of this environment
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        Gradebook(url, "bn").close()
    with Gradebook(url, "bn") as gb:
        for name, points in ASSIGNMENTS.items():
            gb.add_assignment(name, duedate=due)
            gb.add_notebook("nb", name)
            gb.add_grade_cell("test", "nb", name, max_score=points, cell_type="code")
        for sid, first, last in (("ada", "Ada", "Lovelace"), ("o'brien", "Flann", "O'Brien"),
                                 ("late", "Late", "Comer"), ("stranger", "Sam", "Stranger")):
            gb.add_student(sid, first_name=first, last_name=last)
        scores = {("ada", "part_a"): 7.5, ("ada", "part_b"): 20.0, ("ada", "part_c"): 5.0,
                  ("o'brien", "part_a"): 10.0, ("late", "part_b"): 12.0, ("stranger", "part_a"): 3.0}
        for (sid, name), score in scores.items():
            gb.add_submission(name, sid, timestamp=due + timedelta(days=2 if sid == "late" else -1))
            grade = gb.find_grade("test", "nb", name, sid)
            grade.auto_score, grade.needs_manual_grade = score, False   # as nbgrader's autograder records it
            if sid == "late":   # nbgrader keeps the penalty per notebook
                gb.find_submission_notebook("nb", name, sid).late_submission_penalty = 2.0
            gb.db.commit()
    (tmp_path / "roster.csv").write_text(ROSTER)
    return tmp_path, url


def export(plugin_class, folder, url):
    from nbgrader.api import Gradebook

    plugin = plugin_class()
    plugin.roster, plugin.to = str(folder / "roster.csv"), str(folder / f"{plugin.default_to}")
    with Gradebook(url, "bn") as gb:
        plugin.export(gb)
    with open(plugin.to, newline="", encoding="utf-8") as f:
        return plugin, list(csv.reader(f))


def test_canvas_file_has_canvas_columns_points_row_and_one_row_per_roster_student(gradebook):
    plugin, rows = export(lms.CanvasExportPlugin, *gradebook)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "part_a", "part_b", "part_c"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "10", "20", "5"]
    assert rows[2:] == [
        ["Lovelace, Ada", "40211", "s1815", "ada.l", "BN 101", "7.5", "20", "5"],
        ["Comer, Late", "40213", "s2000", "late.c", "BN 102", "0", "10", "0"],      # 12 - 2 late
        ["O'Brien, Flann", "40212", "s1911", "flann.o", "BN 101", "10", "0", "0"],
    ]
    assert plugin.missing == ["stranger"] and plugin.absent == ["ghost"]


def test_moodle_file_identifies_students_by_email_and_has_one_column_per_grade_item(gradebook):
    plugin, rows = export(lms.MoodleExportPlugin, *gradebook)
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "part_a", "part_b", "part_c"]
    assert rows[1:] == [
        ["Ada", "Lovelace", "s1815", "ada@uni.example", "7.5", "20", "5"],
        ["Late", "Comer", "s2000", "late@uni.example", "0", "10", "0"],
        ["Flann", "O'Brien", "s1911", "flann@uni.example", "10", "0", "0"],
    ]
    assert plugin.missing == ["stranger"]


def test_the_scores_are_those_of_nbgraders_own_csv_export(gradebook):
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    folder, url = gradebook
    theirs = CsvExportPlugin()
    theirs.to = str(folder / "grades.csv")
    with Gradebook(url, "bn") as gb:
        theirs.export(gb)
    with open(theirs.to, newline="") as f:
        expected = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    _, rows = export(lms.CanvasExportPlugin, folder, url)
    by_login = {"late.c": "late", "ada.l": "ada", "flann.o": "o'brien"}
    for row in rows[2:]:
        for name, value in zip(ASSIGNMENTS, row[5:]):
            assert float(value) == expected[(by_login[row[3]], name)]


def test_a_student_missing_from_the_roster_is_reported_not_dropped_silently(gradebook, caplog):
    folder, url = gradebook
    caplog.set_level("WARNING")
    plugin, rows = export(lms.MoodleExportPlugin, folder, url)
    assert "stranger" in caplog.text and "not in the roster" in caplog.text
    assert not any("stranger" in cell.lower() for row in rows for cell in row)


def test_a_roster_without_student_ids_is_refused(tmp_path):
    (tmp_path / "roster.csv").write_text("name,email\nAda,ada@uni.example\n")
    with pytest.raises(ValueError, match="student_id"):
        lms.read_roster(tmp_path / "roster.csv")


def test_nbgraders_own_roster_serves_as_the_lms_roster(tmp_path):
    """The file `nbgrader db student import` reads (id, first_name, last_name, email) is a roster
    too: one file for both, Moodle matching by email."""
    (tmp_path / "roster.csv").write_text("id,first_name,last_name,email\nada,Ada,Lovelace,ada@uni.example\n")
    roster = lms.read_roster(tmp_path / "roster.csv")
    assert roster["ada"]["student_id"] == "ada" and roster["ada"]["email"] == "ada@uni.example"
    assert roster["ada"]["canvas_id"] == ""


def test_a_roster_course_grade_cannot_use_costs_only_the_lms_files(tmp_path, capsys):
    from grader import cli

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "roster.csv").write_text("name,email\nAda,ada@uni.example\n")
    cli._lms(tmp_path, tmp_path / "roster.csv")
    assert "LMS files not written" in capsys.readouterr().out


def test_nbgrader_export_uses_the_plugin_from_the_command_line(gradebook):
    folder, url = gradebook
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--exporter", "grader.lms.CanvasExportPlugin",
         "--to", "canvas.csv", f"--CourseDirectory.db_url={url}", "--CourseDirectory.course_id=bn",
         "--LmsExportPlugin.roster=roster.csv"],
        cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = list(csv.reader((folder / "canvas.csv").open(newline="")))
    assert rows[0][:5] == list(lms.CANVAS_COLUMNS) and len(rows) == 5
    assert "stranger" in result.stdout + result.stderr


# --------------------------------------------------------------------------- written answers

COURSE_ID = "batchnorm-tutorial10"   # nbgrader_config.py's, for the command line
WRITTEN = {"part_a": (30.0, 13.0), "part_b": (20.0, 0.0)}   # assignment: (autograded, written) points
WRITTEN_ROSTER = """student_id,first_name,last_name,email,canvas_id,sis_user_id,sis_login_id,section,id_number
ada,Ada,Lovelace,ada@uni.example,40211,s1815,ada.l,BN 101,s1815
bob,Bob,Boole,bob@uni.example,40212,s1816,bob.b,BN 101,s1816
"""


@pytest.fixture()
def written(tmp_path):
    """A course folder (nbgrader_config.py, source/, roster.csv, gradebook.db) whose part_a has a
    written answer (a task cell, graded by hand) beside its tests, part_b tests only; ada and bob
    hand in both with every test passed, and no one has graded the written answers yet."""
    from nbgrader.api import Gradebook

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "source").mkdir()
    (tmp_path / "roster.csv").write_text(WRITTEN_ROSTER)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        Gradebook(url, COURSE_ID).close()
    with Gradebook(url, COURSE_ID) as gb:
        for name, (auto, by_hand) in WRITTEN.items():
            gb.add_assignment(name)
            gb.add_notebook("nb", name)
            gb.add_grade_cell("test", "nb", name, max_score=auto, cell_type="code")
            if by_hand:
                gb.add_task_cell("explain", "nb", name, max_score=by_hand, cell_type="markdown")
        for sid in ("ada", "bob"):
            gb.add_student(sid)
            for name, (auto, _) in WRITTEN.items():
                gb.add_submission(name, sid)
                grade = gb.find_grade("test", "nb", name, sid)
                grade.auto_score, grade.needs_manual_grade = auto, False
        gb.db.commit()
    return tmp_path, url


def export_written(folder, url, plugin_class=lms.MoodleExportPlugin, **traits):
    """(plugin, rows) of a file of the `written` course, the plugin's traits set to `traits`."""
    from nbgrader.api import Gradebook

    plugin = plugin_class(**traits)
    plugin.roster, plugin.to = str(folder / "roster.csv"), str(folder / plugin.default_to)
    with Gradebook(url, COURSE_ID) as gb:
        plugin.export(gb)
    return plugin, read_rows(plugin.to) if Path(plugin.to).exists() else None


def read_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def grade_by_hand(url, student, score):
    """What a TA does in formgrader: a manual score for the student's written answer."""
    from nbgrader.api import Gradebook

    with Gradebook(url, COURSE_ID) as gb:
        grade = gb.find_grade("explain", "nb", "part_a", student)
        grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()


def course(root, *argv, capsys):
    """(exit status, stdout) of `course --root ROOT ARGV`, run in this process."""
    from grader import cli

    code = cli.main(["--root", str(root), *argv])
    return code, capsys.readouterr().out


def test_an_assignment_with_written_answers_not_graded_yet_gets_no_column(written, caplog):
    """Not part_a 30 of 43 for a perfect answer: the column is left out, and the log says which
    assignment, how many answers of how many students, and which cells."""
    caplog.set_level("WARNING")
    plugin, rows = export_written(*written)
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "part_b"]
    assert [r[4:] for r in rows[1:]] == [["20"], ["20"]]
    assert plugin.refused == ["part_a"] and plugin.partial == []
    assert plugin.waiting["part_a"] == "2 written answers of 2 students not graded yet (nb/explain: 2)"
    assert "part_a left out: 2 written answers of 2 students not graded yet" in caplog.text


def test_a_file_with_no_assignment_fully_graded_is_not_written_and_an_old_one_is_removed(written):
    folder, url = written
    from nbgrader.api import Gradebook

    (folder / "moodle.csv").write_text("an older export\n")
    with Gradebook(url, COURSE_ID) as gb:   # part_b's test needs a hand too (a grader marked it for review)
        for sid in ("ada", "bob"):
            gb.find_grade("test", "nb", "part_b", sid).needs_manual_grade = True
        gb.db.commit()
    plugin, rows = export_written(folder, url)
    assert rows is None and plugin.written is None and plugin.refused == ["part_a", "part_b"]


def test_only_the_students_in_the_file_count(written):
    """bob's written answer graded, ada's not: 1 answer of 1 student waits."""
    folder, url = written
    grade_by_hand(url, "bob", 10.0)
    plugin, _ = export_written(folder, url)
    assert plugin.waiting["part_a"] == "1 written answer of 1 student not graded yet (nb/explain: 1)"


def test_autograded_only_writes_the_column_marked_as_such(written):
    plugin, rows = export_written(*written, plugin_class=lms.CanvasExportPlugin, autograded_only=True)
    assert rows[0][5:] == ["part_a (autograded points only)", "part_b"]
    assert rows[1][5:] == ["43", "20"] and [r[5:] for r in rows[2:]] == [["30", "20"], ["30", "20"]]
    assert plugin.partial == ["part_a"] and plugin.refused == []


def test_percent_gives_each_score_as_a_percentage_of_the_maximum(written):
    folder, url = written
    grade_by_hand(url, "ada", 13.0)
    grade_by_hand(url, "bob", 6.5)
    _, rows = export_written(folder, url, plugin_class=lms.CanvasExportPlugin, percent=True)
    assert rows[0][5:] == ["part_a (%)", "part_b (%)"] and rows[1][5:] == ["100", "100"]
    assert [r[5:] for r in rows[2:]] == [["100", "100"], ["84.88", "100"]]   # 36.5 of 43


def test_course_export_writes_the_written_answers_once_they_are_graded(written, capsys):
    """After formgrader: `course export` rewrites grades.csv and the LMS files from the gradebook,
    without grading, and the totals include the manual scores."""
    folder, url = written
    code, out = course(folder, "export", capsys=capsys)
    assert code == 0
    assert "part_a NOT in them: 2 written answers of 2 students not graded yet (nb/explain: 2)" in out
    assert "then run `course export`" in out
    assert read_rows(folder / "exports" / "moodle.csv")[0][4:] == ["part_b"]

    grade_by_hand(url, "ada", 13.0)
    grade_by_hand(url, "bob", 4.0)
    code, out = course(folder, "export", capsys=capsys)
    assert code == 0 and "NOT in them" not in out and "not graded yet" not in out
    assert f"Canvas import file: {folder / 'exports' / 'canvas.csv'}" in out
    canvas = read_rows(folder / "exports" / "canvas.csv")
    assert canvas[0][5:] == ["part_a", "part_b"] and canvas[1][5:] == ["43", "20"]
    assert [r[5:] for r in canvas[2:]] == [["43", "20"], ["34", "20"]]   # ada, bob
    with open(folder / "exports" / "grades.csv", newline="") as f:
        grades = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    assert grades[("ada", "part_a")] == 43.0 and grades[("bob", "part_a")] == 34.0


def test_course_export_autograded_only_says_so(written, capsys):
    folder, _ = written
    code, out = course(folder, "export", "--autograded-only", capsys=capsys)
    assert code == 0
    assert ("part_a: AUTOGRADED POINTS ONLY (--autograded-only), and its header says so: 2 written answers of "
            "2 students not graded yet (nb/explain: 2), counted as 0") in out
    assert read_rows(folder / "exports" / "moodle.csv")[0][4:] == ["part_a (autograded points only)", "part_b"]


def test_course_export_bom_begins_the_files_with_a_utf8_byte_order_mark(written, capsys):
    folder, _ = written
    course(folder, "export", capsys=capsys)
    assert not (folder / "exports" / "canvas.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    course(folder, "export", "--bom", capsys=capsys)
    for name in ("canvas.csv", "moodle.csv"):
        data = (folder / "exports" / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and not data.startswith(b"\xef\xbb\xbf" * 2)


# --------------------------------------------------------------------------- formula injection

HOSTILE = [  # (roster value, what the file says)
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("Ada", "Ada"),
    ("O'Brien", "O'Brien"),
]


@pytest.mark.parametrize("value, shown", HOSTILE, ids=[repr(v) for v, _ in HOSTILE])
def test_a_roster_value_a_spreadsheet_would_run_is_written_as_text(value, shown):
    assert lms.guard(value) == shown


def test_every_text_cell_of_both_files_is_guarded_and_scores_stay_numbers(written):
    folder, url = written
    hostile = "=1+1"
    (folder / "roster.csv").write_text(
        "student_id,first_name,last_name,email,canvas_id,sis_user_id,sis_login_id,section,id_number\n"
        f"ada,{hostile},{hostile},{hostile},40211,{hostile},{hostile},{hostile},{hostile}\n")
    for plugin_class in (lms.CanvasExportPlugin, lms.MoodleExportPlugin):
        _, rows = export_written(folder, url, plugin_class=plugin_class, autograded_only=True,
                                 columns={"part_b": "-B"})
        assert "'-B" in rows[0]
        ada = rows[-1]
        assert hostile not in ada and f"'{hostile}" in ada
        assert ada[-2:] == ["30", "20"]   # numbers, unquoted
