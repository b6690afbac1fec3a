"""Part B (code): every wrong answer in answers/part_b loses points, every right one keeps them."""
import pytest

from suites import check_right, check_wrong, elsewhere_cases, right_cases, wrong_cases


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_b"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_b"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)


@pytest.mark.parametrize("notebook, answer", elsewhere_cases("part_b"))
def test_a_mistake_graded_elsewhere_costs_nothing_here(notebook, answer):
    check_right(notebook, answer)


def test_check_array_reshape_compares_values_of_a_same_size_array_of_another_shape():
    import numpy as np

    from course.testing import CheckFailed, check_array

    check_array("dgamma", np.array([[1.0, 2.0]]), [1.0, 2.0], reshape=True)  # the shape is another test's business
    with pytest.raises(CheckFailed, match=r"compared after reshaping it to \(2,\)"):
        check_array("dgamma", np.array([[1.0, 3.0]]), [1.0, 2.0], reshape=True)
    with pytest.raises(CheckFailed, match=r"has shape \(1, 3\); expected \(2,\)"):
        check_array("dgamma", np.array([[1.0, 2.0, 3.0]]), [1.0, 2.0], reshape=True)
    with pytest.raises(CheckFailed, match=r"has shape \(1, 2\); expected \(2,\)"):
        check_array("dgamma", np.array([[1.0, 2.0]]), [1.0, 2.0])


def test_shape_and_scalar_messages_say_what_is_off():
    import numpy as np

    from course.testing import CheckFailed, check_array, check_scalar

    with pytest.raises(CheckFailed, match=r"first axis \(of length 2\) is missing") as info:
        check_array("out", np.zeros((3, 4)), np.zeros((2, 3, 4)))
    assert "batch" not in str(info.value)  # the first axis is not always the batch
    with pytest.raises(CheckFailed, match=r"wrap what you have in np.array"):
        check_array("running_means", [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(CheckFailed, match=r"mode_gap is 0.5; expected 0.25\.\n  Your mode_gap matches what you get when "
                                          r"the differences cancel") as info:
        check_scalar("mode_gap", 0.5, 0.25, mistakes={"the differences cancel": 0.5, "other": 0.75})
    assert info.value.mistake == "the differences cancel"
    assert "shape" not in str(info.value)


def test_check_array_close_names_a_near_miss_only_when_no_known_mistake_matches():
    import numpy as np

    from course.testing import CheckFailed, check_array

    with pytest.raises(CheckFailed, match="within a relative 1e-03 of the expected value: look at eps"):
        check_array("dx", np.array([1.0000001]), [1.0], rtol=1e-9, close=(1e-3, "look at eps"))
    with pytest.raises(CheckFailed) as failure:
        check_array("dx", np.array([1.0000001]), [1.0], rtol=1e-9, close=(1e-3, "look at eps"),
                    mistakes={"a known mistake": [1.0000001]})
    assert "a known mistake" in str(failure.value) and "look at eps" not in str(failure.value)


def test_case_names_the_case_of_a_failed_check_and_of_an_exception():
    from course.testing import CheckFailed, case

    with pytest.raises(CheckFailed, match=r"^For x of shape \(2, 3, 4\), your code raised ValueError: too many"):
        with case("x of shape (2, 3, 4)"):
            _, _ = (2, 3, 4)
    with pytest.raises(CheckFailed, match=r"your code raised AssertionError: \(no message\)"):
        with case("x of shape (2, 3, 4)"):
            raise AssertionError()  # a bare assert of the student's code
    with pytest.raises(CheckFailed, match=r"^For x of shape \(2, 3, 4\): out is wrong"):
        with case("x of shape (2, 3, 4)"):
            raise CheckFailed("out is wrong")
