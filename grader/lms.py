"""Grades a learning management system can import: Canvas and Moodle CSV files.

nbgrader export plugins (its own extension point), so that plain nbgrader writes them too:

    nbgrader export --exporter grader.lms.CanvasExportPlugin --to exports/canvas.csv
    nbgrader export --exporter grader.lms.MoodleExportPlugin --to exports/moodle.csv

The LMS knows students by its own ids, the gradebook by the course's (the folder names in
submitted/). A roster file the instructor provides maps one to the other (ROSTER_COLUMNS; the
path is `LmsExportPlugin.roster`, default roster.csv in the course folder):

    student_id,first_name,last_name,email,canvas_id,sis_user_id,sis_login_id,section,id_number
    ada,Ada,Lovelace,ada@uni.example,40211,s1815,ada.l,BN 101,s1815

student_id is required; nbgrader's own roster (the file `nbgrader db student import` reads:
id,first_name,last_name,email) serves too, its id taken as the student_id, so one file can
feed both. Canvas needs canvas_id (the "ID" column of a Canvas gradebook export),
Moodle needs email (mapped to "Email address" in Moodle's import). A student of the gradebook
without a row (or without that LMS's id) is left out of that file and reported: logged as a
warning, listed in `plugin.missing`, and printed by `course grade`. Never dropped silently.

Scores are nbgrader's: the assignment's score minus the late penalty, 0 when nothing was
handed in (as nbgrader's own CSV export), one column per assignment.

Half a grade is never published unmarked. A written answer that no one has graded yet (in the
gradebook: a grade that needs a manual grade and has no manual score) would count 0, and an
import would overwrite the LMS's grade with it. So an assignment with such answers among the
students of the file gets no column (its name, the students and the cells waiting are logged,
and kept in `plugin.waiting` and `plugin.refused`); with `autograded_only` it gets one anyway,
its header marked AUTOGRADED_ONLY (a header the LMS does not know makes a new item, so the real
one is not overwritten), and is listed in `plugin.partial`. When no column is left, no file is written (an old
one is removed, so that it cannot be imported by mistake).

Text cells that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a
carriage return) get a leading single quote (OWASP, "CSV Injection"): names come from the
roster, which students may influence. Scores are numbers and stay as they are. `bom` writes a
UTF-8 byte order mark, for Excel; `percent` writes each score as a percentage of the
assignment's maximum (for an LMS grade item out of 100: Moodle's default for a new item).
See docs/lms.md.
"""
import csv
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, Unicode

from grader.record import to_be_graded

ROSTER_COLUMNS = ("student_id", "first_name", "last_name", "email", "canvas_id", "sis_user_id",
                  "sis_login_id", "section", "id_number")
# Canvas gradebook import: the columns of Canvas's own gradebook export, then one column per
# assignment (a header Canvas does not know creates that assignment); a second row
# "Points Possible" carries each assignment's points (Canvas Instructor Guide, "How do I
# import grades in the Gradebook?").
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "    Points Possible"
# Moodle grade import (Grades > Import > CSV file): one row per user, a column that identifies
# the user (mapped to "Email address" under "Identify user by"), one column per grade item
# (mapped to an existing or a new grade item), as in Moodle's own CSV grade export.
MOODLE_COLUMNS = ("First name", "Last name", "ID number", "Email address")
# What marks a column whose written answers are not all graded yet, and one of percentages
AUTOGRADED_ONLY = "autograded points only"
PERCENT = "%"
# The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def read_roster(path):
    """{student_id: row dict} from a roster CSV (ROSTER_COLUMNS; extra columns ignored, missing
    ones empty). The student id is the student_id column, else nbgrader's id column. Raises
    ValueError when the file has neither."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        key = "student_id" if "student_id" in fields else "id" if "id" in fields else None
        if key is None:
            raise ValueError(f"{path}: a roster needs a student_id column (columns: {', '.join(ROSTER_COLUMNS)}), "
                             f"or nbgrader's id column")
        roster = {}
        for row in reader:
            sid = (row.get(key) or "").strip()
            if sid:
                roster[sid] = {c: (row.get(c) or "").strip() for c in ROSTER_COLUMNS}
                roster[sid]["student_id"] = sid
    return roster


def _fmt(score):
    return f"{score:g}"


def guard(text):
    """`text` as a spreadsheet shows it as text: with a leading single quote when it starts like a
    formula (FORMULA_STARTS), else unchanged. For text cells only: scores are written as numbers."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def ungraded(gradebook, assignment, student):
    """[(notebook, cell)] of the student's written answers of `assignment` that no one has graded:
    grades that need a manual grade and have no manual score (nbgrader.api.Grade). [] when nothing
    was handed in."""
    try:
        sub = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return []
    return [(nb.name, g.name) for nb in sub.notebooks for g in nb.grades if to_be_graded(g)]


def describe_waiting(waiting):
    """What waits to be graded by hand, in a line ("2 written answers of 2 students not graded yet
    (nb/explain: 2)"); `waiting` is {student: [(notebook, cell)]}, of the students with some."""
    cells = {}
    for student, where in waiting.items():
        for key in where:
            cells.setdefault(key, []).append(student)
    count = sum(len(where) for where in waiting.values())
    detail = ", ".join(f"{nb}/{cell}: {len(who)}" for (nb, cell), who in sorted(cells.items()))
    return (f"{count} written answer{'s' * (count != 1)} of {len(waiting)} "
            f"student{'s' * (len(waiting) != 1)} not graded yet ({detail})")


class LmsExportPlugin(ExportPlugin):
    """What the Canvas and Moodle exporters share: the roster, the scores, the missing students."""

    roster = Unicode("roster.csv", help="CSV mapping course student ids to LMS ids").tag(config=True)
    columns = Dict({}, help="{assignment: LMS column header}, e.g. {'part_a': 'Part A (12345)'}; "
                            "default: the assignment's name").tag(config=True)
    autograded_only = Bool(False, help="write the column of an assignment whose written answers are not all "
                                       "graded yet, the ungraded ones counting 0, its header marked "
                                       f"'({AUTOGRADED_ONLY})'; default: leave such a column out").tag(config=True)
    percent = Bool(False, help="scores as percentages of each assignment's maximum (0-100), headers marked "
                               f"'({PERCENT})': for an LMS grade item out of 100").tag(config=True)
    bom = Bool(False, help="begin the file with a UTF-8 byte order mark, so that Excel reads it as UTF-8"
               ).tag(config=True)
    required = "canvas_id"    # the roster column this LMS matches students by
    default_to = "lms.csv"

    def scores(self, gradebook):
        """([assignment], {assignment: max score}, {student_id: {assignment: score}}, {student_id: Student})."""
        assignments = [a for a in gradebook.assignments if not self.assignment or a.name in self.assignment]
        students = {s.id: s for s in gradebook.students if not self.student or s.id in self.student}
        table = {}
        for sid in students:
            row = {}
            for a in assignments:
                try:
                    sub = gradebook.find_submission(a.name, sid)
                    row[a.name] = max(0.0, (sub.score or 0.0) - (sub.late_submission_penalty or 0.0))
                except MissingEntry:
                    row[a.name] = 0.0
            table[sid] = row
        return [a.name for a in assignments], {a.name: a.max_score for a in assignments}, table, students

    def export(self, gradebook):
        """Write the file (self.to); returns its path, or None when no column could be written.
        Sets .missing, .absent, .waiting {assignment: what waits, a line}, .refused and .partial
        (the assignments of .waiting left out, and written marked AUTOGRADED_ONLY), .written."""
        roster = read_roster(self.roster) if Path(self.roster).is_file() else {}
        if not roster:
            self.log.warning("no roster at %s: no student can be matched to the LMS", self.roster)
        names, maxima, table, students = self.scores(gradebook)
        self.missing = sorted(s for s in table if not roster.get(s, {}).get(self.required))
        self.absent = sorted(s for s in roster if s not in table)
        dest = Path(self.to or self.default_to)
        if self.missing:
            self.log.warning("not in the roster (no %s), left out of %s: %s",
                             self.required, dest, ", ".join(self.missing))
        written = [s for s in sorted(table) if s not in self.missing]
        self.waiting, self.refused, self.partial = {}, [], []
        for name in names:
            waiting = {s: w for s in written if (w := ungraded(gradebook, name, s))}
            if not waiting:
                continue
            self.waiting[name] = describe_waiting(waiting)
            if self.autograded_only:
                self.partial.append(name)
                self.log.warning("%s: %s marked autograded points only: %s, counted as 0", dest, name,
                                 self.waiting[name])
            else:
                self.refused.append(name)
                self.log.warning("%s: %s left out: %s", dest, name, self.waiting[name])
        names = [n for n in names if n not in self.refused]
        self.written = None
        if not names:
            dest.unlink(missing_ok=True)  # an older file would publish what it no longer says
            self.log.warning("%s not written: %s", dest, "no assignment is fully graded" if self.refused
                             else "the gradebook has no assignment")
            return None
        if self.percent:
            table = {s: {n: round(100 * row[n] / maxima[n], 2) if maxima[n] else 0.0 for n in names}
                     for s, row in table.items()}
            maxima = {n: 100.0 for n in names}
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "w", newline="", encoding="utf-8-sig" if self.bom else "utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([guard(c) for c in (*self.fixed_columns, *map(self.header, names))])
            for row in self.extra_rows(names, maxima):
                writer.writerow(row)
            for sid in written:
                person = dict(roster[sid])
                person["first_name"] = person["first_name"] or (students[sid].first_name or "")
                person["last_name"] = person["last_name"] or (students[sid].last_name or "")
                writer.writerow([guard(c) for c in self.identity(person)] + [_fmt(table[sid][n]) for n in names])
        self.written = dest
        return dest

    def header(self, name):
        """The column header of assignment `name`: columns[name] or the name, marked when the column
        holds percentages or autograded points only."""
        marks = [m for m, on in ((AUTOGRADED_ONLY, name in self.partial), (PERCENT, self.percent)) if on]
        return self.columns.get(name, name) + (f" ({', '.join(marks)})" if marks else "")


class CanvasExportPlugin(LmsExportPlugin):
    """A Canvas gradebook import CSV (Grades > Import): Student, ID, SIS User ID, SIS Login ID,
    Section, one column per assignment, and the Points Possible row."""

    required = "canvas_id"
    default_to = "canvas.csv"
    fixed_columns = CANVAS_COLUMNS

    def extra_rows(self, names, maxima):
        return [[CANVAS_POINTS_ROW] + [""] * (len(CANVAS_COLUMNS) - 1) + [_fmt(maxima[n]) for n in names]]

    def identity(self, p):
        name = ", ".join(x for x in (p["last_name"], p["first_name"]) if x) or p["student_id"]
        return [name, p["canvas_id"], p["sis_user_id"], p["sis_login_id"], p["section"]]


class MoodleExportPlugin(LmsExportPlugin):
    """A Moodle grade import CSV: First name, Last name, ID number, Email address, one column
    per assignment (grade item)."""

    required = "email"
    default_to = "moodle.csv"
    fixed_columns = MOODLE_COLUMNS

    def extra_rows(self, names, maxima):
        return []

    def identity(self, p):
        return [p["first_name"], p["last_name"], p["id_number"], p["email"]]


def export_all(api, folder, roster, autograded_only=False, percent=False, bom=False):
    """Write canvas.csv and moodle.csv into `folder` with the roster at `roster` (the options:
    LmsExportPlugin's traits of the same names). Returns {"canvas": plugin, "moodle": plugin},
    each with .written (None when no column could be written), .missing, .refused, .partial."""
    from nbgrader.api import Gradebook

    done = {}
    for key, cls in (("canvas", CanvasExportPlugin), ("moodle", MoodleExportPlugin)):
        plugin = cls(parent=api)
        plugin.roster, plugin.to = str(roster), str(Path(folder) / f"{key}.csv")
        plugin.autograded_only, plugin.percent, plugin.bom = autograded_only, percent, bom
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            plugin.export(gb)
        done[key] = plugin
    return done


def demo_roster(path, students):
    """A roster for the demo class (made-up LMS ids), so that `course demo` shows the LMS files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ROSTER_COLUMNS)
        for i, sid in enumerate(students):
            first, last = sid.split("-", 1)
            writer.writerow([sid, first.title(), last, f"{sid}@example.edu", 90001 + i, f"S{90001 + i}",
                             sid, "BN demo", f"S{90001 + i}"])
    return path
