"""The sample class, graded once per test session in a scratch course (shared by the tests of
faults, cheating and the PostgreSQL gradebook)."""
import pytest

import sample_class
from test_grading import copy_course

_GRADED = {}


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """(root, [Submission], ClassGrades, expected {student: {stem: score}}) of the sample class
    graded with two worker processes. Imported by several test modules, each of which pytest
    gives its own fixture: the class is graded only once all the same."""
    if not _GRADED:
        root = copy_course(tmp_path_factory.mktemp("sample-class"), notebooks=sample_class.SMALL_COURSE)
        subs, grades = sample_class.grade_sample_class(root, jobs=2)
        _GRADED["class"] = root, subs, grades, sample_class.expected_scores(subs)
    return _GRADED["class"]
