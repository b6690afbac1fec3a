"""B3 (gradient check) and B4 (layer norm): what the generic suites do not cover.

- A student who fills in the release notebook with correct code gets full marks, both from the
  visible tests alone (what `course check` runs) and once autograding puts the hidden tests back.
- B3 grades the checker, not the student's batch norm nor Tasks 1 and 2: a wrong backward pasted
  from B2 costs no B3 points, and the checker's own report then calls it wrong; helpers that raise
  cost only their own tests (and the report, which runs them).
- B4 grades backward and its parameter gradients on top of the student's forward: with a forward
  that is wrong (ddof=1, or statistics over the batch axis), a right backward keeps its points and
  every known wrong backward still loses them.
"""
import copy

import pytest

import answers
import nbrun

B3 = "part_b/b3_gradient_check.ipynb"
B4 = "part_b/b4_layernorm.ipynb"


def _reference_answers(nb):
    """The source's solution cells, as a student who got everything right would write them."""
    return {nbrun.grade_id(c): c.source for c in nb.cells
            if nbrun.meta(c).get("solution") and c.cell_type == "code"}


def _with_source_tests(student, source):
    """What autograde grades: the student's notebook with the locked cells of the source."""
    graded = copy.deepcopy(student)
    locked = {nbrun.grade_id(c): c for c in source.cells if nbrun.meta(c).get("locked")}
    for i, cell in enumerate(graded.cells):
        if nbrun.grade_id(cell) in locked:
            graded.cells[i] = copy.deepcopy(locked[nbrun.grade_id(cell)])
    return graded


@pytest.mark.parametrize("notebook", [B3, B4])
def test_release_filled_in_correctly_gets_full_marks(notebook):
    source = nbrun.load(notebook)
    student = nbrun.with_answers(nbrun.release_version(source), _reference_answers(source))
    visible = nbrun.run(student)
    assert visible.score == visible.max_score > 0, visible.messages()
    graded = nbrun.run(_with_source_tests(student, source))
    assert graded.score == graded.max_score == visible.max_score, graded.messages()


def test_b3_a_wrong_pasted_backward_costs_no_b3_points_and_the_report_flags_it():
    wrong_b2 = """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = x.mean(axis=0), x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

        def batchnorm_backward(dout, cache):  # misses the term through the mean
            x, x_hat, mu, var, gamma, eps = cache
            dgamma = (dout * x_hat).sum(axis=0)
            dx = gamma / np.sqrt(var + eps) * (dout - x_hat * dgamma / len(x))
            return dx, dgamma, dout.sum(axis=0)
    """
    answer = answers.Answer("backward misses the mean term", {"b3-batchnorm": wrong_b2})
    result = nbrun.run(nbrun.with_answers(nbrun.load(B3), answer.cells))
    assert result.score == result.max_score, result.messages()
    report = [line for line in result.stdout.splitlines() if line.strip().startswith("dx")]
    assert report and "WRONG" in report[0], f"the report should call dx wrong:\n{result.stdout[-2000:]}"


def test_b3_hidden_checker_tests_use_their_own_batch_norm():
    """Only the report runs the pasted batch norm; the other B3 tests bring their own."""
    source = nbrun.load(B3)
    broken = "def batchnorm_forward(*args):\n    raise RuntimeError('broken')\n\nbatchnorm_backward = batchnorm_forward\n"
    result = nbrun.run(nbrun.with_answers(source, {"b3-batchnorm": broken}))
    scores = {c.grade_id: c.score for c in result.cells}
    assert scores["b3-test-report"] == 0  # the report runs the student's own batch norm
    for grade_id in ("b3-test-centered", "b3-test-relerr", "b3-test-checker"):
        cell = next(c for c in result.cells if c.grade_id == grade_id)
        assert cell.score == cell.max_points, f"{grade_id}: {cell.error}"


def test_b3_the_paste_cell_left_as_released_costs_only_the_report():
    """The checker's defaults are looked up when it is called: an empty paste cell costs only Test 2."""
    source = nbrun.load(B3)
    stub = nbrun.release_answers(source)["b3-batchnorm"]
    result = nbrun.run(nbrun.with_answers(source, {"b3-batchnorm": stub}))
    lost = {c.grade_id: c for c in result.cells if c.score < c.max_points}
    assert set(lost) == {"b3-test-report"}, result.messages()
    assert "paste them into the cell at the top" in lost["b3-test-report"].error


def test_b3_broken_helpers_cost_only_their_own_tests_and_the_report():
    """The checker's tests hand it the course's gradient and error: Tasks 1 and 2 that raise cost their
    own tests and the report on the student's batch norm (which runs them), not Test 3."""
    source = nbrun.load(B3)
    raise_ = "    raise RuntimeError('broken')\n"
    broken = {"b3-centered": "def centered_difference_gradient(f, x, dout, h=1e-5):\n" + raise_,
              "b3-relerr": "def relative_error(a, b):\n" + raise_}
    result = nbrun.run(nbrun.with_answers(source, broken))
    lost = {c.grade_id for c in result.cells if c.score < c.max_points}
    assert lost == {"b3-test-centered", "b3-test-relerr", "b3-test-report"}, result.messages()


_B4_MODULE = answers.load(B4)
_DDOF = ("x.var(axis=axes, keepdims=True)", "x.var(axis=axes, keepdims=True, ddof=1)")
_BATCH_AXIS = ("axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))", "axes = (0,)")
# the same mistake made in each right answer's forward pass (they write the variance each their own way)
_RIGHT_DDOF = {
    "layer norm as batch norm of the transpose": ("var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)"),
    "reshape to (samples, M) and back": ("var = ((flat - mu) ** 2).mean(axis=1)[:, None]",
                                         "var = ((flat - mu) ** 2).sum(axis=1)[:, None] / (M - 1)"),
    "staged backward through var and mu (computational graph)": (
        "var = np.mean(xc ** 2, axis=axes, keepdims=True)", "var = np.var(x, axis=axes, keepdims=True, ddof=1)"),
    "a module-level helper named like an old hidden-test name (_axes)": _DDOF,
}


def _with_forward_mistake(answer, mistake):
    code = answer.cells[_B4_MODULE.CELL]
    assert code.count(mistake[0]) == 1, f"{answer.name}: the forward pass does not write {mistake[0]!r} once"
    return {_B4_MODULE.CELL: code.replace(*mistake)}


@pytest.mark.parametrize("mistake", [_DDOF, _BATCH_AXIS], ids=["ddof=1", "batch axis"])
@pytest.mark.parametrize("answer", [a for a in _B4_MODULE.WRONG if a.loses in (_B4_MODULE.BACKWARD, _B4_MODULE.PARAMS)],
                         ids=lambda a: a.name)
def test_b4_a_wrong_backward_on_a_wrong_forward_still_loses_its_points(answer, mistake):
    if mistake is _BATCH_AXIS and answer.name.startswith("dx treats gamma as a constant of the sums"):
        pytest.skip("on statistics over the batch axis gamma is a constant of the sums: that dx is then the exact "
                    "gradient of the forward pass, as a right backward's is (no test can tell them apart)")
    result = nbrun.run(nbrun.with_answers(nbrun.load(B4), _with_forward_mistake(answer, mistake)))
    scores = {c.grade_id: c for c in result.cells}
    for grade_id in answer.loses:
        assert scores[grade_id].score < scores[grade_id].max_points, (
            f"'{answer.name}' on a forward pass with {mistake[1]!r} keeps the points of {grade_id}:\n"
            f"{result.messages()}")
    assert scores["b4-test-forward"].score == 0, result.messages()


@pytest.mark.parametrize("answer", _B4_MODULE.RIGHT, ids=lambda a: a.name)
def test_b4_a_right_backward_on_a_wrong_forward_keeps_its_points(answer):
    result = nbrun.run(nbrun.with_answers(nbrun.load(B4), _with_forward_mistake(answer, _RIGHT_DDOF[answer.name])))
    lost = {c.grade_id for c in result.cells if c.score < c.max_points}
    assert lost and lost <= set(_B4_MODULE.FORWARD), result.messages()



def test_b3_checker_messages_name_the_call_as_a_student_writes_it():
    from grader.checks.part_b import b3_gradient_check as b3
    assert b3._call({}) == "check_batchnorm_gradient with its default N and D"
    assert b3._call(dict(N=7, D=3)) == "check_batchnorm_gradient(N=7, D=3)"
