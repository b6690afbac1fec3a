"""The feedback page's view of grades that are not given yet (MarkUngraded).

nbgrader's feedback shows a written answer no one has graded as "Score: 0.0 / 3.0" and counts it
in the page's total: a perfect B5 reads 14 / 17 until a teaching assistant has read it. Here
such a cell is marked `to_be_graded` (grader.record.to_be_graded, as the LMS files and the class
report decide it), and the page's resources say what is graded and what waits:

    resources["nbgrader"]["pending_points"]    points of the answers still to be graded
    resources["nbgrader"]["graded_score"]  the score of everything else (autograded or graded by hand), less a late penalty
    resources["nbgrader"]["graded_max"]    the points of everything else

The course's feedback template (grader/templates/course-feedback) reads them: "to be graded (3
points)" on the cell, "14 of 14 points graded so far · 3 written points to be graded" in the header.
Runs after nbgrader's GetGrades, which fills each cell's score and points.
"""
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_task

from grader.record import to_be_graded


class MarkUngraded(NbGraderPreprocessor):
    """Mark the grade cells that wait for a grader's hand; see the module."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        pending, graded, graded_max = 0.0, 0.0, 0.0
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                if not (is_grade(cell) or is_task(cell)):
                    continue
                try:
                    grade = gb.find_grade(cell.metadata["nbgrader"]["grade_id"], info["notebook"],
                                          info["assignment"], info["student"])
                except MissingEntry:
                    continue
                if to_be_graded(grade):
                    cell.metadata["nbgrader"]["to_be_graded"] = True
                    pending += grade.max_score or 0.0
                else:
                    graded += grade.score or 0.0
                    graded_max += grade.max_score or 0.0
        info["pending_points"] = pending
        info["graded_score"] = max(graded - (info.get("late_penalty") or 0.0), 0.0)
        info["graded_max"] = graded_max
        return nb, resources
