"""Part B (code): every wrong answer in answers/part_b loses points, every right one keeps them."""
import pytest

from suites import check_right, check_wrong, right_cases, wrong_cases


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_b"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_b"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)
