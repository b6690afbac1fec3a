"""Part C (concepts): every wrong answer in answers/part_c loses points, every right one keeps them,
and no test cell gives points to the stubs a student starts from."""
import pytest

import answers
import nbrun
from suites import check_right, check_wrong, elsewhere_cases, right_cases, wrong_cases

NOTEBOOKS = [n for n in answers.notebooks() if n.startswith("part_c/")]


@pytest.mark.parametrize("notebook, answer", wrong_cases("part_c"))
def test_wrong_answer_loses_points(notebook, answer):
    check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", right_cases("part_c"))
def test_right_answer_keeps_full_marks(notebook, answer):
    check_right(notebook, answer)


@pytest.mark.parametrize("notebook, answer", elsewhere_cases("part_c"))
def test_a_mistake_graded_elsewhere_costs_nothing_here(notebook, answer):
    check_right(notebook, answer)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_test_cell_fails_on_the_stubs(notebook):
    """The release stubs, with the earlier batch-norm code pasted in, score nothing anywhere."""
    nb = nbrun.load(notebook)
    stubs = {cell: code for cell, code in nbrun.release_answers(nb).items()
             if not cell.endswith("-batchnorm")}  # the pasted B1/B2/C4 code stays the reference
    assert stubs, f"{notebook} has no solution cells to stub"
    result = nbrun.run(nbrun.with_answers(nb, stubs))
    passed = [c.grade_id for c in result.cells if c.score > 0]
    assert not passed, f"{notebook}: test cells {passed} give points to the release stubs"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_written_answers_are_task_cells_with_a_mark_scheme(notebook):
    """Each notebook has a manually graded written answer: a task cell with points whose mark
    scheme reaches graders but not the student's copy, followed by a cell to write in."""
    nb = nbrun.load(notebook)
    tasks = [i for i, c in enumerate(nb.cells) if nbrun.meta(c).get("task")]
    assert tasks, f"{notebook} has no written-answer task cell"
    released = nbrun.release_version(nb)
    for i in tasks:
        cell = nb.cells[i]
        assert nbrun.meta(cell).get("points", 0) > 0, f"{nbrun.grade_id(cell)} has no points"
        assert "=== BEGIN MARK SCHEME ===" in cell.source and "=== END MARK SCHEME ===" in cell.source
        assert "MARK SCHEME" not in released.cells[i].source, f"{nbrun.grade_id(cell)}: the mark scheme leaks"
        after = nb.cells[i + 1]
        assert after.cell_type == "markdown" and not nbrun.meta(after), \
            f"{nbrun.grade_id(cell)} should be followed by an ordinary markdown cell for the answer"


def _run_full(notebook):
    """The namespace of a source notebook run top to bottom with the reference solution, figures
    and experiments included (full run, as a student sees it; figures are closed)."""
    import os

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace, old_show = {"__name__": "__main__"}, plt.show
    saved = os.environ.pop("NBGRADER_EXECUTION", None)
    plt.show = lambda *args, **kwargs: None
    try:
        for cell in nbrun.load(notebook).cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "<cell>", "exec"), namespace)
    finally:
        plt.show = old_show
        plt.close("all")
        if saved is not None:
            os.environ["NBGRADER_EXECUTION"] = saved
    return namespace


def test_c5_text_matches_its_run():
    """C5's "What you should see": slopes, gradient ratios and entropies as the notebook's own run prints them."""
    import numpy as np

    runs = _run_full("part_c/c5_gradient_flow.ipynb")["runs"]
    saturated, grads, slopes, entropy = runs["small", "plain"]
    assert saturated.max() < 0.005 and 1e-7 < grads[0] / grads[-1] < 1e-5      # "about 10^-6 of the last one's"
    assert entropy[0] > 3.5 and (entropy[4:] < 0.05).all()                     # "from the fifth layer on ... 0 bits"
    saturated, grads, slopes, entropy = runs["large", "plain"]
    assert 0.35 < saturated.mean() < 0.6 and slopes.mean() < 0.1               # "about half of the units saturate"
    assert 0.8 < entropy.min() and entropy.max() < 3.2                          # "about 1 to 3 bits"
    for init in ("small", "large"):
        saturated, grads, slopes, entropy = runs[init, "bn"]
        assert saturated.max() < 0.005 and np.allclose(slopes, 0.2, atol=0.02)  # "a mean slope near 0.2"
        assert (entropy > 3.8).all() and (entropy < np.log2(20)).all()         # "about 4 bits of the possible 4.3"
        assert 0.5 < grads[0] / grads[-1] < 2                                   # "the same size in every layer"


def test_c6_text_matches_its_run():
    """C6: smaller normalization groups narrow the test-train gap; BN over the whole batch is like the plain net."""
    import numpy as np

    ns = _run_full("part_c/c6_regularization.ipynb")
    gap = {name: np.mean(values) for name, values in ns["gaps"].items()}
    assert gap["BN, m = 4"] < gap["BN, m = 16"] < gap["BN, m = 200"], gap
    assert abs(gap["BN, m = 200"] - gap["without BN"]) < 0.1 * gap["without BN"], gap
    test_loss = {name: np.mean([t for _, t in values]) for name, values in ns["losses"].items()}
    assert test_loss["BN, m = 4"] < test_loss["BN, m = 200"], test_loss    # "here the test loss itself is lower too"


def test_c3_text_matches_its_run():
    """C3's mark scheme: the largest stable rate with BN is about 10 times that without."""
    ns = _run_full("part_c/c3_learning_rates.ipynb")
    best = {name: ns["largest_stable_lr"](ns["lrs"], finals, initial) for name, (initial, finals) in ns["sweep"].items()}
    assert 5 <= best["bn"] / best["plain"] <= 20, best
