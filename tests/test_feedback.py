"""The feedback page as a student reads it (grader.feedback, grader/templates/course-feedback):
written answers not yet graded read "to be graded", not 0 points, until a grader gives points;
the formula a failed check is about is shown as math; every cell that ran has its number; a
figure cell shows the student's own plot, from the notebook handed in."""
import base64
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader import sandbox
from grader.coursedir import grading_key, make_api, require_success, working_directory
from grader.execute import KEPT_NOTE
from grader.grading import NotebookOutcome, grade_notebook
from test_sanitize import PNG

ROOT = Path(__file__).resolve().parents[1]
C1, A1 = ("part_c", "c1_gamma_beta"), ("part_a", "a1_forward_formulas")
STUDENT = "self"


def handed_in(tmp_path):
    """C1 solved, with the student's plot in its figure cell; A1 with a variance that divides by m - 1."""
    c1 = nbformat.read(ROOT / "solution" / C1[0] / f"{C1[1]}.ipynb", as_version=4)
    for cell in c1.cells:
        if "skip-when-grading" in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    a1 = nbformat.read(ROOT / "solution" / A1[0] / f"{A1[1]}.ipynb", as_version=4)
    for cell in a1.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "a1-var":
            cell.source = "sigma2_B = Sum((x[j] - mu_B)**2, (j, 1, m)) / (m - 1)\nsigma2_B"
    paths = {}
    for (assignment, name), nb in ((C1, c1), (A1, a1)):
        paths[assignment] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, str(paths[assignment]))
    return paths


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A scratch course in which C1 and A1 were graded (as `course check` grades) and feedback written."""
    scratch = tmp_path_factory.mktemp("feedback")
    paths = handed_in(tmp_path_factory.mktemp("handed-in"))
    for assignment, name in (C1, A1):
        (scratch / "source" / assignment).mkdir(parents=True)
        shutil.copy(ROOT / "source" / assignment / f"{name}.ipynb", scratch / "source" / assignment)
    api = make_api(ROOT, root=str(scratch), db_url=f"sqlite:///{scratch / 'gradebook.db'}",
                   overrides={"IsolatedExecute.sandbox": sandbox.available() is None,
                              "IsolatedExecute.sizes_key": grading_key(ROOT)})
    with working_directory(scratch):
        for assignment, name in (C1, A1):
            require_success(api.generate_assignment(assignment, force=True), "generate_assignment")
            source = ROOT / "source" / assignment / f"{name}.ipynb"
            outcome = NotebookOutcome(assignment, name)
            assert grade_notebook(api, scratch, assignment, paths[assignment], nbformat.read(source, as_version=4),
                                  nbformat.read(scratch / "release" / assignment / f"{name}.ipynb", as_version=4),
                                  outcome, [], student=STUDENT), outcome.problem
            require_success(api.generate_feedback(assignment, STUDENT, force=True), "generate_feedback")
    return api, scratch


def page(scratch, assignment, name):
    return (scratch / "feedback" / STUDENT / assignment / f"{name}.html").read_text(encoding="utf-8")


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_written_answer_not_yet_graded_reads_to_be_graded_until_it_is(graded):
    api, scratch = graded
    text = text_of(page(scratch, *C1))
    assert "c1_gamma_beta (6 of 6 points graded so far · 4 written points to be graded)" in text
    assert "to be graded (4 points)" in text and "Score: 0.0 / 4.0" not in text
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        grade = gb.find_grade("c1-written", C1[1], C1[0], STUDENT)
        grade.manual_score = 3.0
        gb.db.commit()
    with working_directory(scratch):
        require_success(api.generate_feedback(C1[0], STUDENT, force=True), "generate_feedback")
    text = text_of(page(scratch, *C1))
    assert "Score: 9.0 / 10.0" in text and "to be graded" not in text


def test_the_formula_a_failed_check_is_about_is_shown_as_math(graded):
    _, scratch = graded
    html = page(scratch, *A1)
    shown = re.search(r"Your answer:\s*(<math.*?</math>)", html, re.S)
    assert shown and "<mfrac>" in shown.group(1), "the student's sigma2_B is not rendered as MathML"
    assert html.index(shown.group(0)) < html.index("CheckFailed")   # above the message it belongs to
    assert "white-space: pre-wrap" in html   # long messages wrap instead of scrolling


def test_every_cell_that_ran_has_its_number_in_order(graded):
    _, scratch = graded
    nb = nbformat.read(scratch / "autograded" / STUDENT / A1[0] / f"{A1[1]}.ipynb", as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), counts
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert tests and all(c.execution_count for c in tests)
    assert "In&nbsp;[&nbsp;]" not in page(scratch, *A1)


def test_the_figure_cell_shows_the_students_own_plot(graded):
    _, scratch = graded
    nb = nbformat.read(scratch / "autograded" / STUDENT / C1[0] / f"{C1[1]}.ipynb", as_version=4)
    figure = next(c for c in nb.cells if "skip-when-grading" in c.metadata.get("tags", []))
    assert figure.outputs[0]["text"] == KEPT_NOTE and figure.outputs[1]["data"]["image/png"] == PNG
    assert figure.execution_count is None   # the grader did not run it
    html = page(scratch, *C1)
    assert f"data:image/png;base64,{PNG}" in html and base64.b64decode(PNG)[:4] == b"\x89PNG"


def test_feedback_pages_compile_their_templates_once_a_process():
    """grader.mathml keeps Jinja's compiled templates: a second exporter (nbgrader makes one a page) compiles none."""
    from grader.mathml import COMPILED_TEMPLATES, OfflineHTMLExporter

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$x^2$")])
    first, _ = OfflineHTMLExporter().from_notebook_node(nb)
    compiled = dict(COMPILED_TEMPLATES._code)
    assert compiled
    second, _ = OfflineHTMLExporter().from_notebook_node(nb)
    assert COMPILED_TEMPLATES._code == compiled and first == second
    assert "<math" in second


def test_feedback_pages_remember_the_formulas_and_code_cells_every_student_s_page_repeats():
    """grader.mathml keeps a formula's MathML and a code cell's highlighting by what they depend on:
    a page rendered again is the same page, made from what was kept; a cell over `longest`
    characters and a conversion that raises are not kept; past `limit` all is forgotten at once."""
    from grader import mathml

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$\\hat{x}_i = \\frac{x_i - \\mu_B}{\\sigma_B}$"),
                                         nbformat.v4.new_code_cell("y = gamma_q7 * x_hat + beta")])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    mathml.MATHML.kept.clear(), mathml.HIGHLIGHTED.kept.clear()
    first, _ = mathml.OfflineHTMLExporter().from_notebook_node(nb)
    assert len(mathml.MATHML.kept) == 1 and len(mathml.HIGHLIGHTED.kept) == 1
    mathml.MATHML.kept = {key: value.replace("<mi>", "<mi data-kept>") for key, value in mathml.MATHML.kept.items()}
    mathml.HIGHLIGHTED.kept = {key: value.replace("gamma_q7", "GAMMA_Q7") for key, value in mathml.HIGHLIGHTED.kept.items()}
    second, _ = mathml.OfflineHTMLExporter().from_notebook_node(nb)
    assert second == first.replace("<mi>", "<mi data-kept>").replace("gamma_q7", "GAMMA_Q7") and second != first

    other_magic = nbformat.v4.new_code_cell("y = gamma_q7 * x_hat + beta", metadata={"magics_language": "bash"})
    nb.cells.append(other_magic)
    mathml.OfflineHTMLExporter().from_notebook_node(nb)
    assert len(mathml.HIGHLIGHTED.kept) == 2   # the same source highlighted for another language is its own entry

    remembered = mathml.Remembered(limit=10, longest=5)
    assert remembered.get(("x" * 6,), lambda: "long") == "long" and not remembered.kept
    with pytest.raises(ValueError):
        remembered.get(("bad",), lambda: (_ for _ in ()).throw(ValueError("no")))
    assert not remembered.kept
    remembered.get(("a",), lambda: "123456"), remembered.get(("b",), lambda: "1234")
    assert remembered.size == 10 and set(remembered.kept) == {("a",), ("b",)}
    remembered.get(("c",), lambda: "1")
    assert remembered.kept == {("c",): "1"} and remembered.size == 1


def test_feedback_pages_make_nbconvert_s_accessibility_edits_without_parsing_the_page():
    """OfflineHTMLExporter does what nbconvert's HTMLExporter does with BeautifulSoup (an alt text on
    an image without one, tabindex on each cell's input and output) in render_math's walk over the
    tags: the same elements get the same attributes; nothing inside <pre>, <script> or <style> changes."""
    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter

    from grader.mathml import NO_ALT, OfflineHTMLExporter, render_math

    image = nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('An image ![a plot](data:image/png;base64,' + PNG + ') and $x^2$.\n\n'
                                      '<img src="data:image/png;base64,' + PNG + '">'),
        nbformat.v4.new_code_cell("print('<img src=x> <div class=\"jp-OutputArea-output\">')", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text='<img src=x> <div class="jp-OutputArea-output">\n'),
            image]),
        nbformat.v4.new_code_cell("1 + 1", execution_count=1, outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]),
    ])

    def edits(html):
        soup = BeautifulSoup(html, "html.parser")
        return ([(tag.name, tag.get("alt"), tag.get("tabindex"), tuple(tag.get("class") or ()))
                 for tag in soup.find_all(True) if tag.get("alt") is not None or tag.get("tabindex") is not None],
                [tag.get_text() for tag in soup.find_all(["pre", "script", "style"])])

    class WithSoup(OfflineHTMLExporter):  # nbconvert's own pass, then the math
        def from_notebook_node(self, nb, resources=None, **kw):
            html, resources = HTMLExporter.from_notebook_node(self, nb, resources, **kw)
            return render_math(html), resources

    for template in ("lab", "classic"):
        ours, _ = OfflineHTMLExporter(template_name=template).from_notebook_node(nb)
        theirs, _ = WithSoup(template_name=template).from_notebook_node(nb)
        assert edits(ours) == edits(theirs), template
        found = edits(ours)[0]
        assert any(alt == NO_ALT for _, alt, _, _ in found) and any(alt == "a plot" for _, alt, _, _ in found)
        if template == "lab":
            assert sum(tabindex == "0" for _, _, tabindex, _ in found) >= 5
