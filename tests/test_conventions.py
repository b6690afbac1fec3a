"""One set of conventions (docs/conventions.md), and every notebook and grader agreeing with it.

- the card: one source (docs/conventions.md), copied unchanged into every assignment folder of
  source/, release/ and solution/, so that a notebook's link `[conventions](conventions.md)` works
  for students and instructors alike; the numbers it quotes are right;
- the notebooks: those that state a convention link the card; no notebook uses beta for a
  momentum or says that the running variance keeps the biased variance (other than when it
  describes cs231n's or Keras's choice); no code, in any notebook or in course/, weighs a running
  value with (1 - momentum) (PyTorch's meaning) or averages a biased variance into one;
- the graders: A5's and C4's reference solutions, run on the same batch, both update the running
  variance with m/(m-1) sigma_B^2 (the source notebooks pass their hidden tests elsewhere, so
  the hidden tests expect the same), and momentum is the fraction of the old value kept.
"""
import ast
import re
from pathlib import Path

import numpy as np
import pytest

import nbrun

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "docs" / "conventions.md"
PARTS = sorted(p.name for p in (ROOT / "source").glob("part_*") if p.is_dir())
NOTEBOOKS = sorted(str(p.relative_to(ROOT / "source")) for p in (ROOT / "source").glob("part_*/*.ipynb"))
LINK = "[conventions](conventions.md)"
def _text(notebook, kinds=("markdown",)):
    """The notebook's cells of the given kinds, as (index, source) pairs."""
    nb = nbrun.load(notebook)
    return [(n, c.source) for n, c in enumerate(nb.cells) if c.cell_type in kinds]


def _sentences(text):
    """Sentences of a markdown text (split at full stops, colons and line ends)."""
    return [s for s in re.split(r"(?<=[.:;])\s+|\n", text) if s.strip()]


# --------------------------------------------------------------------------- the card

@pytest.mark.parametrize("part", PARTS)
def test_every_assignment_folder_has_the_card_unchanged(part):
    card = CARD.read_text()
    for folder in ("source", "release", "solution"):
        copy = ROOT / folder / part / "conventions.md"
        assert copy.is_file(), f"{copy} is missing: copy docs/conventions.md there (and run `course release`)"
        assert copy.read_text() == card, (
            f"{copy} differs from docs/conventions.md, the one source of the card: "
            f"copy it to source/{part}/ and run `./run course release`")


def test_card_states_each_convention_and_how_others_map_onto_it():
    card = CARD.read_text()
    for needed in (r"\mathcal{L}", "$m$", "`N = m`", "**biased**", "**unbiased**", r"\frac{m}{m-1}\sigma_B^2",
                   r"$\rho$", "fraction of the **old**", "PyTorch", "cs231n", "Keras", "`1 - momentum`",
                   r"\sqrt{\sigma_B^2+\epsilon}", "never a\nmomentum"):
        assert needed in card, f"the card does not say {needed!r}"


def test_card_quotes_the_right_factors():
    card = CARD.read_text()
    quoted = re.findall(r"(\d+)% at \$m = (\d+)\$", card)
    assert quoted, "the card quotes how much the two variances differ"
    for percent, m in quoted:
        m = int(m)
        assert round(100 * (m / (m - 1) - 1)) == int(percent), f"m/(m-1) at m = {m} is not {percent}% more"


# --------------------------------------------------------------------------- the notebooks

@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_links_the_card(notebook):
    text = "\n".join(s for _, s in _text(notebook))
    assert LINK in text, f"{notebook} states conventions (notation at least) but does not link {LINK}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_link_to_the_card_reaches_it(notebook):
    for _, source in _text(notebook):
        for target in re.findall(r"\]\(([^)]*conventions[^)]*)\)", source):
            assert target == "conventions.md", f"{notebook} links the card as {target!r}; use {LINK}"
            assert (ROOT / "source" / notebook).parent.joinpath(target).is_file()


MOMENTUM_AS_BETA = [
    re.compile(r"momentum\s*(\(|\$|=|of|is)?\s*\$?\\beta(?!_)", re.I),   # "momentum $\beta$", "momentum = \beta"
    re.compile(r"\\beta(?!_)\s*(=|\\approx)\s*0\.9"),                      # "\beta = 0.9"
    re.compile(r"1\s*/\s*\(\s*1\s*-\s*\\beta(?!_)\s*\)"),                  # "1/(1-\beta)"
    re.compile(r"β\s*=\s*0\.9|1\s*/\s*\(\s*1\s*[-−]\s*β\s*\)|momentum\s*β"),
]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_notebook_calls_the_momentum_beta(notebook):
    """beta is the shift of the layer; the momentum is rho (`momentum`)."""
    for index, source in _text(notebook, ("markdown", "code")):
        for pattern in MOMENTUM_AS_BETA:
            found = pattern.search(source)
            assert not found, (f"{notebook}, cell {index}: {found.group(0)!r} uses beta for a momentum; "
                               "the course writes rho (code: momentum), see docs/conventions.md")
        for line in source.splitlines():
            assert not re.search(r"\bbeta\s*\*\s*\w*run", line), (
                f"{notebook}, cell {index}: {line.strip()!r} weighs a running value with beta; use momentum")


def _says_running_variance_is_biased(sentence):
    if re.search(r"course\s+(keeps|uses|stores)\s+(the\s+biased|\$\\sigma_B\^2\$)", sentence, re.I):
        return True  # A5 once said so, next to PyTorch's unbiased running variance
    if not re.search(r"running[ _]var|running variance|\\hat\\sigma\^2|inference|test time", sentence, re.I):
        return False
    if re.search(r"cs231n|keras", sentence, re.I) and not re.search(r"\b(this|the) course\b|\bwe\b|\bhere\b", sentence, re.I):
        return False  # describing another library's convention
    keeps_biased = re.search(r"(?<!un)biased\s+(batch\s+)?(variance|\$\\sigma_B\^2\$|estimate)|keeps?\s+\$\\sigma_B\^2\$",
                             sentence, re.I)
    return bool(keeps_biased) and not re.search(r"unbiased|\\frac\{m\}\{m-1\}|m\s*/\s*\(m\s*-\s*1\)", sentence, re.I)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_notebook_keeps_the_biased_variance_for_inference(notebook):
    for index, source in _text(notebook):
        for sentence in _sentences(source):
            assert not _says_running_variance_is_biased(sentence), (
                f"{notebook}, cell {index} says the running (inference) variance is the biased one: {sentence!r}; "
                "the course's running variance is the unbiased m/(m-1) sigma_B^2 (docs/conventions.md)")


def test_the_sentence_check_tells_the_conventions_apart():
    assert _says_running_variance_is_biased("the running variance keeps $\\sigma_B^2$ of A1, as the layer does")
    assert _says_running_variance_is_biased("At inference the layer uses the biased variance.")
    assert not _says_running_variance_is_biased("The running variance averages in the unbiased $\\frac{m}{m-1}\\sigma_B^2$.")
    assert not _says_running_variance_is_biased("cs231n's assignment averages the biased $\\sigma_B^2$ into its running variance.")
    assert _says_running_variance_is_biased("this course keeps $\\sigma_B^2$ of A1, as cs231n does.")
    assert not _says_running_variance_is_biased("Batch norm normalizes with the biased variance.")


def _code_sources():
    """(where, code) of every code cell of every notebook and of every module of course/."""
    for notebook in NOTEBOOKS:
        for index, source in _text(notebook, ("code",)):
            yield f"{notebook}, cell {index}", source
    for path in sorted((ROOT / "course").glob("*.py")):
        yield f"course/{path.name}", path.read_text()


def _statements(source):
    """Each statement of the code (assignments, returns, ...) as text; the raw lines if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source.splitlines()
    return [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return))]


NEW_WEIGHT_ON_OLD = re.compile(r"\(1 - (self\.)?(momentum|rho)\) \* [\w.]*(run|old|previous)", re.I)
BLENDS_A_VARIANCE = re.compile(r"(momentum|rho)\) \* (?P<term>[^,\]]*(var|sigma2|sigma_B)[^,\]]*)")


def test_the_code_checks_tell_the_conventions_apart():
    assert NEW_WEIGHT_ON_OLD.search("self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mu")
    assert not NEW_WEIGHT_ON_OLD.search("running_mean = momentum * running_mean + (1 - momentum) * mu")
    biased = "self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var"
    unbiased = "running_var = rho * running_var + (1 - rho) * var * m / (m - 1)"
    assert BLENDS_A_VARIANCE.search(biased) and BLENDS_A_VARIANCE.search(unbiased)
    assert re.search(r"m - 1|ddof=1", unbiased) and not re.search(r"m - 1|ddof=1", biased)


def test_no_code_weighs_the_old_running_value_with_one_minus_momentum():
    """momentum is the fraction of the OLD value kept (PyTorch's momentum is 1 - ours)."""
    for where, source in _code_sources():
        for statement in _statements(source):
            assert not NEW_WEIGHT_ON_OLD.search(statement), (
                f"{where}: {statement!r} weighs the old running value with 1 - momentum (PyTorch's meaning)")


def test_no_code_averages_a_biased_variance_into_a_running_one():
    """A running variance blends in m/(m-1) times the batch variance (or ddof=1), never the biased one."""
    for where, source in _code_sources():
        if "### BEGIN HIDDEN TESTS" in source:  # hidden tests build the wrong answers on purpose
            source = source.split("### BEGIN HIDDEN TESTS")[0]
        for statement in _statements(source):
            if "running_var" not in statement and "run_var" not in statement:
                continue
            found = BLENDS_A_VARIANCE.search(statement)
            if found:
                assert re.search(r"m - 1|N - 1|\(m - 1\)|ddof=1|unbiased", statement), (
                    f"{where}: {statement!r} averages a biased variance into a running variance; "
                    "the course uses the unbiased m/(m-1) sigma_B^2 (docs/conventions.md)")


# --------------------------------------------------------------------------- the graders

def _namespace(notebook, grade_ids):
    """Run the source notebook's cells with these grade_ids (reference solutions) in a namespace."""
    cells = nbrun.cells_by_id(nbrun.load(notebook))
    namespace = {"__name__": "__main__"}
    for grade_id in grade_ids:
        exec(compile(cells[grade_id].source, grade_id, "exec"), namespace)
    return namespace


def test_a5_and_c4_update_the_running_variance_alike_and_as_the_card_says():
    from course.symbolic import evaluate

    rng = np.random.default_rng(13)
    m, rho = 6, 0.8
    batch = rng.normal(2.0, 1.5, size=m)
    old_mean, old_var = 0.5, 1.3
    biased = batch.var()
    card = rho * old_var + (1 - rho) * m / (m - 1) * biased            # docs/conventions.md

    a5 = _namespace("part_a/a5_running_statistics.ipynb", ["a5-setup", "a5-ema-formulas"])
    a5_var = evaluate(a5["running_var_new"], m=m, x=batch, momentum=rho, running_mean=old_mean, running_var=old_var)
    a5_mean = evaluate(a5["running_mean_new"], m=m, x=batch, momentum=rho, running_mean=old_mean, running_var=old_var)

    c4 = _namespace("part_c/c4_train_vs_inference.ipynb", ["c4-setup", "c4-running"])
    c4_mean, c4_var = c4["update_running"](np.array([old_mean]), np.array([old_var]), np.array([batch.mean()]),
                                           np.array([biased]), m, momentum=rho)

    assert a5_var == pytest.approx(card, rel=1e-12), "A5's running variance does not follow the card"
    assert float(c4_var[0]) == pytest.approx(card, rel=1e-12), "C4's running variance does not follow the card"
    assert card != pytest.approx(rho * old_var + (1 - rho) * biased, rel=1e-6)  # the data tells the two apart
    assert a5_mean == pytest.approx(rho * old_mean + (1 - rho) * batch.mean(), rel=1e-12)
    assert float(c4_mean[0]) == pytest.approx(a5_mean, rel=1e-12), "A5 and C4 weigh the momentum differently"


def test_the_graders_name_cs231n_s_biased_running_variance_as_the_mistake():
    """A5's and C4's hidden tests call the biased running variance a mistake, and say whose choice it is."""
    for module in ("part_a/a5_running_statistics.py", "part_c/c4_train_vs_inference.py"):
        source = (nbrun.ROOT / "grader" / "checks" / module).read_text()
        assert "cs231n's choice" in source and "uses the unbiased" in source, module


# --------------------------------------------------------------------------- C2's bound

def test_c2_states_the_bound_after_its_tests_and_with_gamma():
    nb = nbrun.load("part_c/c2_epsilon.ipynb")
    ids = [nbrun.grade_id(c) for c in nb.cells]
    jacobian_test, bound_test = ids.index("c2-test-jacobian"), ids.index("c2-test-bound")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" and not (cell.cell_type == "code" and not nbrun.meta(cell).get("solution")):
            continue
        text = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        if index < jacobian_test:
            assert r"\hat{x}\hat{x}^\top" not in text, f"cell {index} gives Task 1's Jacobian before its test"
        if index <= bound_test:
            assert not re.search(r"1\s*/\s*\\?sqrt\{?\\?(epsilon|eps)\}?|1 / sqrt\(var \+ eps\)", text), (
                f"cell {index} gives Task 2's bound before its test")
    amplify = [s for c in nb.cells if c.cell_type == "markdown" for s in _sentences(c.source) if "amplif" in s]
    stated = [s for s in amplify if r"\sqrt{\epsilon}" in s]
    assert stated and all(r"|\gamma|" in s or r"\gamma = 1" in s for s in stated), (
        "C2's amplification bound must carry gamma: |gamma|/sqrt(eps), or say 'for gamma = 1'")
