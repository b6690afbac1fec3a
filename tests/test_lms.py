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
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from grader import lms

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

    import shutil

    shutil.copy(Path(__file__).resolve().parents[1] / "nbgrader_config.py", tmp_path)
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
