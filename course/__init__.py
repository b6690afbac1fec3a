"""Helpers for the Batch Normalization course (Tutorial 10).

- course.testing     checks used by the notebooks' test cells, with messages a student can act on
- course.symbolic    checks a SymPy answer (Part A) and explains what is off
- course.gradcheck   numerical gradients by centered differences
- course.data        the 8x8 handwritten digits (shipped with the course, from UCI), standardised and split
- course.mlp         the course's one deep network, for B5 and Part C (it takes the student's batch norm as arguments)
- course.experiments training runs and sweeps of that network for the Part C experiments
- course.palette     the colours and labels of "with BN" / "without BN" (no plotting library)
- course.viz         colours, plots and the covariate-shift explorer widget
- course.agent       the kernel's side of grading: answers the grader's requests with values (never verdicts)
- course.symtree     SymPy expressions as JSON trees, both ways (the grader builds only an allow-list)

What students' kernels import ends here; the rest is the instructor's grader (drives nbgrader):
- course.coursedir   the course folder, its configuration and nbgrader's API on it
- course.build       release/ and solution/ from source/
- course.grading     grade a class, its stages in order:
  - course.repair      read and repair: a handed-in notebook rebuilt around the instructor's cells
  - course.execute     run: nbgrader's autograde with a kernel of its own, in the sandbox (course.sandbox)
  - course.judge       judge: each test cell run in the grader, the kernel asked only for values
  - course.judge_process  the judge's own sandboxed process, forked per notebook
  - course.review      the scan of the student's code, a review aid
  - course.record      the grades into the class gradebook, and its export
  - course.table       the grade table and lists printed after grading
- course.workers     the worker processes that grade students (one that dies is replaced)
- course.democlass   the demo class
- course.selfcheck   `course check`: one notebook, graded privately
- course.progress    the progress bar of a grading run
- course.report      the class report: scores, pass rates, named mistakes tallied, what needs the instructor
- course.report_page the class report as one offline HTML page (plots, MathML)
- course.lms         Canvas and Moodle grade import files (nbgrader export plugins)
- course.mathml      LaTeX as MathML in HTML pages (feedback, report): math that renders offline
- course.cli         the command line (`course ...` or `python -m course ...`)
"""
