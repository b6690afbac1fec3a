"""nbgrader configuration of the Batch Normalization course (Tutorial 10).

The course root is this folder: source/ holds the instructor notebooks, release/ the student
versions, submitted/ what students hand in, autograded/ and feedback/ what grading writes.
"""
import os

c = get_config()  # noqa: F821 (injected by nbgrader)

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "batchnorm-tutorial10"
# The assignments are the folders of source/: part_a (derivations), part_b (code), part_c
# (concepts); `course release` (generate_assignment) enters them into the gradebook.
# SQLite next to this file unless a gradebook URL is given (PostgreSQL for a large class).
c.CourseDirectory.db_url = os.environ.get(
    "COURSE_DB_URL", "sqlite:///" + os.path.join(ROOT, "gradebook.db")
)

# Students get a stub that fails loudly instead of silently returning None.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: the slowest notebook (B5 trains two deep nets) takes a few seconds per cell under
# NBGRADER_EXECUTION; 120 s leaves room for a slow machine and stops an infinite loop.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
# A student who deleted or never had a test cell still gets it back when grading.
c.OverwriteCells.add_missing_cells = True
# Warnings go to stderr, and any stderr output would zero a test cell: drop them.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^.*\b\w*Warning: "
# A student who prints a million lines must not flood the feedback.
c.LimitOutput.enabled = True
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60

# Feedback shows what failed and why, never the hidden tests: nbgrader puts them back before
# grading, so strip their code, the mark schemes, and tracebacks that would quote them.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    ClearHiddenTests, ClearMarkScheme, ClearOutput, GetGrades, IncludeHeaderFooter, LockCells)

from grader.build import StripHiddenTraces  # noqa: E402
from grader.execute import IsolatedExecute, ResultsAsDisplay, SkipWhenGrading, StderrAsOutput  # noqa: E402

from grader.feedback import MarkUngraded  # noqa: E402

# MarkUngraded: a written answer no one has graded yet reads "to be graded", not 0 points.
c.GenerateFeedback.preprocessors = [
    GetGrades, MarkUngraded, ClearHiddenTests, ClearMarkScheme, StripHiddenTraces, CSSHTMLHeaderPreprocessor]
# Feedback pages render their math offline: the LaTeX is turned into MathML when the page is
# written (grader.mathml), instead of MathJax loaded from a CDN by the student's browser. Their
# template is nbgrader's feedback template with the course's changes (grader/templates/course-feedback).
import nbgrader  # noqa: E402

import grader  # noqa: E402
from grader.mathml import OfflineHTMLExporter  # noqa: E402

c.GenerateFeedback.exporter_class = OfflineHTMLExporter
c.OfflineHTMLExporter.template_name = "course-feedback"
c.OfflineHTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(grader.__file__), "templates"),
    os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates")]

# Autograding: nbgrader's steps, except that the kernel starts in an empty folder (not next to
# the notebook with its hidden tests, nor next to files the student handed in; in the sandbox when
# `course grade` runs it), that what a student's code prints to stderr is kept as output instead
# of zeroing the test that called it, and that a result the student's code puts into a test cell
# (through the displayhook) is shown, not read as partial credit.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades)

from grader.limits import CapOutputs  # noqa: E402
from grader.sanitize import SanitizeNotebook  # noqa: E402

# CapOutputs after LimitOutput: LimitOutput counts lines, CapOutputs caps characters (one 10 MB line).
# SanitizeNotebook after both: formgrader (the instructor's logged-in session) and the feedback
# pages render these notebooks, so only plain text, PNG and JPEG images and safe markdown are kept.
c.Autograde.autograde_preprocessors = [
    SkipWhenGrading, IsolatedExecute, IgnorePattern, StderrAsOutput, ResultsAsDisplay, ClearMetadataPreprocessor,
    LimitOutput, CapOutputs, SanitizeNotebook, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
# Before that, the handed-in notebook is cleaned (and first written to autograded/): its outputs
# cleared except those of the figure cells the grader does not run (the student's own plots,
# shown in formgrader and the feedback), and sanitised at once.
from nbgrader.preprocessors import DeduplicateIds, OverwriteCells, OverwriteKernelspec  # noqa: E402

from grader.execute import KeepFigureOutputs  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    KeepFigureOutputs, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata, SanitizeNotebook]

# Late submissions. An assignment's due date lives in the gradebook (`nbgrader db assignment add
# part_b --duedate "2026-12-04 23:59:00 UTC"`, or formgrader's Manage Assignments page); the time of
# a submission is its timestamp.txt, written by `nbgrader submit` in the exchange and kept by
# `nbgrader collect`. Autograding (AssignLatePenalties above) takes PERCENT_PER_DAY percent of a
# late notebook's score off per started day late, all of it from the tenth day; the penalty is in
# the gradebook (late_submission_penalty), the feedback (score after the penalty) and the CSV
# export. nbgrader's built-in choices instead: c.LateSubmissionPlugin.penalty_method = "zero" (a
# late notebook scores 0) or "none". tests/test_hub.py checks a late submission against this.
import math  # noqa: E402

from nbgrader.plugins import LateSubmissionPlugin  # noqa: E402
from traitlets import Float  # noqa: E402


class PenaltyPerDayLate(LateSubmissionPlugin):
    """percent_per_day percent of the notebook's score off for every started day late."""

    percent_per_day = Float(10.0, help="Percent of the score taken off per started day late.").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        return round(min(score, score * self.percent_per_day / 100 * days), 2)


c.AssignLatePenalties.plugin_class = PenaltyPerDayLate
c.PenaltyPerDayLate.percent_per_day = 10.0

# Solutions for self-learners keep the mark schemes (what a full written answer contains) and
# are not executed: like every committed notebook they carry no outputs.
c.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput]
