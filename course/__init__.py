"""Helpers for the Batch Normalization course (Tutorial 10).

- course.testing     checks used by the notebooks' test cells, with messages a student can act on
- course.symbolic    checks a SymPy answer (Part A) and explains what is off
- course.gradcheck   numerical gradients by centered differences
- course.data        the 8x8 handwritten digits (shipped with the course, from UCI), standardised and split
- course.mlp         the course's one deep network, for B5 and Part C (it takes the student's batch norm as arguments)
- course.experiments training runs and sweeps of that network for the Part C experiments
- course.palette     the colours and labels of "with BN" / "without BN" (no plotting library)
- course.viz         colours, plots and the covariate-shift explorer widget
- course.grading     drives nbgrader: release, grade a class, the demo class, self-check
- course.progress    the progress bar of a grading run
- course.report      the class report: scores, pass rates, named mistakes tallied, what needs the instructor
- course.report_page the class report as one offline HTML page (plots, MathML)
- course.lms         Canvas and Moodle grade import files (nbgrader export plugins)
- course.mathml      LaTeX as MathML in HTML pages (feedback, report): math that renders offline
- course.cli         the command line (`course ...` or `python -m course ...`)
"""
