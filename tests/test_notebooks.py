"""Every notebook of the course: well-formed, passes its own tests, and its release is honest.

- source notebooks: nbgrader metadata is consistent, no outputs, no magics, test cells never end
  with an expression; run top to bottom they score full marks, both as the grader runs them
  (skipping the figure and experiment cells tagged skip-when-grading) and with every cell;
- release notebooks: no solution, hidden test or mark scheme; the stubs fail every test cell;
- release/ and solution/ are exactly what `course release` makes from source/ now.
"""
import ast
import filecmp
import shutil
from pathlib import Path

import nbformat
import pytest

import nbrun
from grader import build, execute

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(str(p.relative_to(ROOT / "source")) for p in (ROOT / "source").glob("part_*/*.ipynb"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME")


def test_every_part_has_notebooks():
    assert any(s.startswith("part_b/") for s in SOURCES)


@pytest.mark.parametrize("notebook", SOURCES)
def test_source_notebook_is_well_formed(notebook):
    nb = nbrun.load(notebook)
    nbformat.validate(nb)
    ids = [nbrun.grade_id(c) for c in nb.cells if nbrun.grade_id(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"
    for cell in nb.cells:
        meta = nbrun.meta(cell)
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{notebook}: committed with outputs"
            assert not any(line.lstrip().startswith(("%", "!")) for line in cell.source.splitlines()), (
                f"{notebook}: magics or shell escapes do not run under the course's test runner")
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            assert meta.get("locked") and float(meta["points"]) > 0, f"{meta['grade_id']}: locked, with points"
            tree = ast.parse(cell.source)
            assert not (tree.body and isinstance(tree.body[-1], ast.Expr)
                        and not isinstance(tree.body[-1].value, ast.Call)), (
                f"{meta['grade_id']} ends with an expression: nbgrader would read it as partial credit")
        if any(m in cell.source for m in ("BEGIN HIDDEN TESTS",)):
            assert meta.get("grade") and not meta.get("solution"), "hidden tests only in test cells"
        if "BEGIN MARK SCHEME" in cell.source:
            assert meta.get("task"), "mark schemes only in task cells"


@pytest.mark.parametrize("notebook", SOURCES)
def test_source_notebook_passes_all_its_tests(notebook):
    result = nbrun.run(nbrun.load(notebook))
    assert result.cells, f"{notebook} has no test cells"
    assert result.score == result.max_score, result.messages()
    assert not result.errors, f"{notebook}: cells that are not tests raised: {result.errors}"
    assert not result.stderr, f"{notebook} writes to stderr (students see it; graders may zero it):\n{result.stderr}"


@pytest.mark.parametrize("notebook", SOURCES)
def test_source_notebook_runs_clean_with_the_cells_the_grader_skips(notebook):
    """What the student sees: every cell, figures and experiments included (reduced runs)."""
    result = nbrun.run(nbrun.load(notebook), skip=False)
    assert result.score == result.max_score, result.messages()
    assert not result.errors, f"{notebook}: cells raised: {result.errors}"
    assert not result.stderr, f"{notebook} writes to stderr:\n{result.stderr}"


def _names(source):
    """(names a cell binds, names it reads) at any depth."""
    bound, read = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return bound, read


@pytest.mark.parametrize("notebook", SOURCES)
def test_cells_the_grader_skips_feed_nothing_it_runs(notebook):
    """A skipped cell may only draw or explore: no cell the grader runs may read a name that
    only a skipped cell binds (else a test would fail with a NameError while grading)."""
    skipped_names, problems = {}, []
    for index, cell in enumerate(nbrun.load(notebook).cells):
        if cell.cell_type != "code":
            continue
        bound, read = _names(cell.source)
        if execute.skipped_when_grading(cell):
            skipped_names.update(dict.fromkeys(bound, index))
            continue
        problems += [f"cell {index} reads {name!r}, bound only by skipped cell {skipped_names[name]}"
                     for name in sorted(read & set(skipped_names))]
        for name in bound:
            skipped_names.pop(name, None)
    assert not problems, problems


@pytest.mark.parametrize("notebook", SOURCES)
def test_release_stub_fails_every_test(notebook):
    nb = nbrun.load(notebook)
    result = nbrun.run(nbrun.with_answers(nb, nbrun.release_answers(nb)))
    passing = [c.grade_id for c in result.cells if c.score > 0]
    assert not passing, f"these tests pass on the empty stub: {passing}"


@pytest.mark.parametrize("notebook", SOURCES)
def test_release_notebook_holds_no_solution_or_hidden_test(notebook):
    path = ROOT / "release" / notebook
    assert path.exists(), f"{path} missing: run `course release`"
    text = path.read_text()
    for marker in MARKERS:
        assert marker not in text, f"{path} contains '{marker}'"


def test_release_and_solution_are_up_to_date(tmp_path):
    """Regenerate into a scratch copy of the course; the committed files must be identical."""
    shutil.copytree(ROOT / "source", tmp_path / "source")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    build.release(tmp_path)
    stale = []
    for folder in ("release", "solution"):
        fresh = sorted(p.relative_to(tmp_path) for p in (tmp_path / folder).rglob("*.ipynb"))
        committed = sorted(p.relative_to(ROOT) for p in (ROOT / folder).rglob("*.ipynb"))
        stale += [f"{p} (missing or extra)" for p in set(fresh) ^ set(committed)]
        stale += [str(p) for p in set(fresh) & set(committed)
                  if not filecmp.cmp(tmp_path / p, ROOT / p, shallow=False)]
    assert not stale, "stale; run `./run course release` and commit:\n" + "\n".join(sorted(stale))
