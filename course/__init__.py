"""The Batch Normalization course (Tutorial 10): what students' kernels import.

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
- course.protocol    the exchange between the kernel's agent and the grader's judge: tags, limits, classes, defined once
- course.zygote      the process a student's graded kernels are forked from, one at a time, in that student's sandbox

The instructor's grader is the package `grader` beside this one; a student's kernel runs in a
sandbox that has this package and not that one.
"""
