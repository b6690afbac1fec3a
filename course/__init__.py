"""Helpers for the Batch Normalization course (Tutorial 10).

- course.testing   checks used by the notebooks' test cells, with messages a student can act on
- course.gradcheck numerical gradients by centered differences
- course.grading   drives nbgrader: release, grade a class, the demo class, self-check
- course.cli       the command line (`course ...` or `python -m course ...`)
"""
