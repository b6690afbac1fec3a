"""The hidden checks: instructor-only code, one module per notebook, run by the grader.

A source notebook's hidden section is an import and a call or two into its module here, for
example in b2_backward.ipynb's test cell b2-test-robust::

    ### BEGIN HIDDEN TESTS
    from grader.checks.part_b import b2_backward as _checks
    _checks.test_robust(batchnorm_backward)
    ### END HIDDEN TESTS

The student's answers come in as arguments (in the grader they are handles to the kernel's
objects, grader.judge); every other input a check needs comes from `grader.checks.reference`,
never from the student's other answers, so that one mistake costs one task. The modules are
ordinary code: linted, covered by `duplicates`, unit-tested with the wrong and right answers of
answers/, and never mounted into a student's kernel (grader.sandbox binds course/ only).

With plain nbgrader (`IsolatedExecute.judge = False`, no sandbox), the hidden sections run in
the kernel: it needs this package importable there (`pip install -e .` of the course does it).
"""
