"""The instructor's grader of the Batch Normalization course: drives nbgrader.

Students' kernels never import it (their sandbox does not have it); it imports the student
package `course` for the checks the judge runs.

- grader.coursedir   the course folder, its configuration and nbgrader's API on it
- grader.build       release/ and solution/ from source/
- grader.grading     grade a class, its stages in order:
  - grader.repair      read and repair: a handed-in notebook rebuilt around the instructor's cells
  - grader.execute     run: nbgrader's autograde with a kernel of its own, in the sandbox (grader.sandbox)
  - grader.judge       judge: each test cell run in the grader, the kernel asked only for values
  - grader.judge_process  the judge's own sandboxed process, forked per notebook
  - grader.review      the scan of the student's code, a review aid
  - grader.record      the grades into the class gradebook, and its export
  - grader.table       the grade table and lists printed after grading
- grader.workers     the worker processes that grade students (one that dies is replaced)
- grader.democlass   the demo class
- grader.selfcheck   `course check`: one notebook, graded privately
- grader.progress    the progress bar of a grading run
- grader.report      the class report: scores, pass rates, named mistakes tallied, what needs the instructor
- grader.report_page the class report as one offline HTML page (plots, MathML)
- grader.lms         Canvas and Moodle grade import files (nbgrader export plugins)
- grader.mathml      LaTeX as MathML in HTML pages (feedback, report): math that renders offline
- grader.sandbox     the sandbox students' kernels and the judge run in (bubblewrap)
- grader.limits      caps on what an autograded notebook keeps
- grader.cli         the command line (`course ...` or `python -m grader ...`)
"""
import sys

# jsonschema, which nbformat validates notebooks with, imports rfc3987_syntax where it is installed
# (jupyter_events asks for it) to check the "iri" formats, which no notebook or Jupyter schema uses;
# that import builds some 35 Lark parsers, 0.85 s of the start of every process of the grader (each
# command, each grading process). Kept out, jsonschema leaves those two formats unchecked.
sys.modules.setdefault("rfc3987_syntax", None)
