"""Part B (code): every wrong answer in answers/part_b loses points, every right one keeps them."""
import pytest

from suites import check_right, check_wrong, right_cases, wrong_cases


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_b"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_b"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)


B1_TO_B4 = ["part_b/b1_forward.ipynb", "part_b/b2_backward.ipynb", "part_b/b3_gradient_check.ipynb",
            "part_b/b4_layernorm.ipynb"]


@pytest.mark.parametrize("notebook", B1_TO_B4)
def test_hidden_tests_leave_no_names_in_the_students_namespace(notebook):
    """Each hidden-test section is one function, called once: the names it uses (_x, _expected, ...)
    are its locals, so they never overwrite a helper of the same name that the student defined."""
    import ast

    import nbrun
    from grader.review import _bound_names

    for cell in nbrun.load(notebook).cells:
        if not nbrun.meta(cell).get("grade") or "BEGIN HIDDEN TESTS" not in cell.source:
            continue
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        tree = ast.parse(hidden)
        functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert len(functions) == 1 and _bound_names(tree) == set(functions), (
            f"{nbrun.grade_id(cell)}: the hidden tests bind {sorted(_bound_names(tree))} at the top level")
        assert ast.unparse(tree.body[-1]) == f"{functions[0]}()", f"{nbrun.grade_id(cell)}: the function is not called last"


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
            n, d = (2, 3, 4)
    with pytest.raises(CheckFailed, match=r"your code raised AssertionError: \(no message\)"):
        with case("x of shape (2, 3, 4)"):
            raise AssertionError()  # a bare assert of the student's code
    with pytest.raises(CheckFailed, match=r"^For x of shape \(2, 3, 4\): out is wrong"):
        with case("x of shape (2, 3, 4)"):
            raise CheckFailed("out is wrong")
