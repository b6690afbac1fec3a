"""What a handed-in notebook can put in front of the instructor (grader.sanitize, grader.mathml):
every attack below is shown as text or not at all, every output and markdown cell of the course's
own notebooks passes unchanged, and no score changes. The same attacks in a real browser, in
formgrader and on a feedback page: tests/test_browser_outputs.py."""
import base64
import copy
import glob
import io
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from grader import mathml, repair, sanitize
from grader.execute import KEPT_NOTE, SKIPPED_NOTE, SkipWhenGrading

ROOT = Path(__file__).resolve().parents[1]


def png_bytes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


PNG = base64.b64encode(png_bytes()).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 20).decode()


def display(data, metadata=None, kind="display_data"):
    output = {"output_type": kind, "data": data, "metadata": metadata or {}}
    if kind == "execute_result":
        output["execution_count"] = 1
    return output


# (what the output carries, what the sanitised output must keep)
HOSTILE_OUTPUTS = {
    "script in text/html": (display({"text/html": "<script>alert(1)</script>", "text/plain": "<IPython.HTML>"}),
                            {"text/plain": "<IPython.HTML>"}),
    "img onerror in text/html": (display({"text/html": '<img src=x onerror="alert(1)">'}), None),
    "svg with script": (display({"image/svg+xml": '<svg onload="alert(1)"><script>alert(2)</script></svg>'}), None),
    "javascript": (display({"application/javascript": "alert(1)"}), None),
    "markdown with a javascript link": (display({"text/markdown": "[x](javascript:alert(1))"}), None),
    "a widget": (display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "IntSlider()"}),
                 {"text/plain": "IntSlider()"}),
    "a png that is not base64": (display({"image/png": 'x" onerror="alert(1)'}), None),
    "a png that is not a png": (display({"image/png": base64.b64encode(b"<svg onload=alert(1)>").decode()}), None),
    "a jpeg that is a png": (display({"image/jpeg": PNG}), None),
    "a latex link": (display({"text/latex": r"$\href{javascript:alert(1)}{x}$", "text/plain": "x"}),
                     {"text/plain": "x"}),
    "a latex macro made on the spot": (display({"text/latex": r"$\def\x{\hr}\x ef{javascript:alert(1)}{x}$"}), None),
}


@pytest.mark.parametrize("name", HOSTILE_OUTPUTS)
def test_a_hostile_output_keeps_only_plain_text_and_real_images(name):
    output, kept = HOSTILE_OUTPUTS[name]
    clean = sanitize.sanitize_output(output)
    assert clean["output_type"] == output["output_type"]
    if kept is None:
        assert list(clean["data"]) == ["text/plain"] and "is not shown" in clean["data"]["text/plain"], clean
    else:
        assert clean["data"] == kept
    assert clean["metadata"] == {}


def test_an_image_keeps_its_payload_and_only_numeric_sizes():
    clean = sanitize.sanitize_output(display(
        {"image/png": PNG, "image/jpeg": JPEG, "text/plain": "<Figure>"},
        {"image/png": {"width": "1 onerror=alert(1)", "height": 200, "unconfined": True},
         "image/jpeg": {"width": 300}, "isolated": True, "filenames": {"image/png": "x\" onerror=alert(1)"}}))
    assert clean["data"] == {"image/png": PNG, "image/jpeg": JPEG, "text/plain": "<Figure>"}
    assert clean["metadata"] == {"image/png": {"height": 200}, "image/jpeg": {"width": 300}}
    wrapped = PNG[:60] + "\n" + PNG[60:]   # base64 broken into lines, as some writers save it
    assert sanitize.sanitize_output(display({"image/png": [wrapped]}))["data"]["image/png"] == PNG


def test_safe_latex_streams_and_errors_pass_unchanged():
    latex = display({"text/latex": r"$\displaystyle \frac{\gamma}{\sqrt{\sigma^{2} + \epsilon}}$", "text/plain": "g"})
    assert sanitize.sanitize_output(latex)["data"] == latex["data"]
    stream = {"output_type": "stream", "name": "stderr", "text": "<script>x</script>"}
    assert sanitize.sanitize_output(stream) == stream   # shown in <pre>, escaped by nbconvert
    error = {"output_type": "error", "ename": "ValueError", "evalue": "<b>", "traceback": ["\x1b[31mline", 3]}
    assert sanitize.sanitize_output(error) == {**error, "traceback": ["\x1b[31mline"]}
    assert sanitize.sanitize_output({"output_type": "update_display_data"}) is None
    assert sanitize.sanitize_output("not an output") is None


def _scored(outputs):
    cell = nbformat.v4.new_code_cell("check()", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 2, "schema_version": 3}})
    cell.outputs = [nbformat.from_dict(output) for output in outputs]
    return cell


@pytest.mark.parametrize("outputs", [
    [display({"text/plain": "0.5"}, kind="execute_result")],
    [display({"text/html": "<b>1.0</b>", "text/plain": "1.0"}, kind="execute_result")],
    [{"output_type": "error", "ename": "AssertionError", "evalue": "no", "traceback": []}],
    [{"output_type": "stream", "name": "stderr", "text": "warning"}],
    [display({"text/html": "<script>x</script>"}), {"output_type": "stream", "name": "stdout", "text": "ok"}],
    [],
])
def test_no_score_changes(outputs):
    cell = _scored(outputs)
    assert determine_grade(sanitize.sanitize_cell(cell)) == determine_grade(cell)


HOSTILE_MARKDOWN = {
    "a javascript link": "[click](javascript:alert(1))",
    "in capitals, with an entity": "[click](JaVaScRiPt&#58;alert(1))",
    "with a tab in the scheme": '<a href="java&#9;script:alert(1)">click</a>',
    "as a reference": "[click][x]\n\n[x]: javascript:alert(1)",
    "a data: link": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "an img handler": '<img src="x" onerror="alert(1)">',
    "an image from another host": "![x](https://example.org/track.png)",
    "a script": "<script>alert(1)</script>",
    "an svg": '<svg><a href="javascript:alert(1)"><text>x</text></a></svg>',
    "an iframe": '<iframe src="/formgrader/api/assignment/part_a/release"></iframe>',
    "a style sheet": "<style>body { display: none }</style>",
    "a style attribute": '<p style="position:fixed;top:0;left:0;width:100%;height:100%">x</p>',
    "a details handler": "<details open ontoggle=alert(1)>x</details>",
    "a form": '<form action="/formgrader/api/x" method="post"><button>Save</button></form>',
    "a MathJax link": r"$\href{javascript:alert(1)}{x}$",
    "a MathJax style": r"$\style{position:fixed}{x}$",
    "a MathJax macro made on the spot": r"$\def\x{\hr}\x ef{javascript:alert(1)}{x}$",
    "a MathJax link, its delimiters spelled as entities": r"&#92;(\href{javascript:alert(1)}{x}&#92;)",
    "a MathJax link split by a comment": r"&#92;(\h<!-- -->ref{javascript:alert(1)}{x}&#92;)",
    "a missing attachment": "![x](attachment:nothing.png)",
    "a comment that hides a tag": "<!-- --><script>alert(1)</script>",
}


@pytest.mark.parametrize("name", HOSTILE_MARKDOWN)
def test_hostile_markdown_is_shown_as_its_text(name):
    source = HOSTILE_MARKDOWN[name]
    assert sanitize.unsafe_markdown(source), f"{name} would be rendered"
    cell = sanitize.sanitize_cell(nbformat.v4.new_markdown_cell(source))
    assert source in cell.source and "shows this cell as its text" in cell.source
    assert sanitize.unsafe_markdown(cell.source) is None   # the text block itself renders safely
    page = sanitize.render_markdown(cell.source)
    assert not re.search(r"<(script|svg|iframe|style|form)|<[a-z][^>]*\son[a-z]+=|<a[^>]*href=.javascript", page, re.I), page


def test_a_fence_inside_the_text_does_not_end_its_block():
    source = "````\n</code></pre><script>alert(1)</script>\n````\n<script>x</script>"
    cell = sanitize.sanitize_cell(nbformat.v4.new_markdown_cell(source))
    assert sanitize.unsafe_markdown(cell.source) is None and "<script" not in sanitize.render_markdown(cell.source)


def test_plain_markdown_links_math_and_tables_stay_markdown():
    for source in ["A link to [the paper](https://arxiv.org/abs/1502.03167), `code`, **bold** and $\\hat x_i$.",
                   "| a | b |\n|:-|-:|\n| $\\mu$ | 2 |", "## A heading\n\n<details><summary>Hint</summary>Look at A4.</details>",
                   "[back to the top](#Task-1) <br> <sub>small</sub>", "mail [us](mailto:ta@example.org)"]:
        assert sanitize.unsafe_markdown(source) is None, source
        assert sanitize.sanitize_cell(nbformat.v4.new_markdown_cell(source)).source == source


def test_attachments_keep_real_pngs_and_jpegs_only():
    cell = nbformat.v4.new_markdown_cell("![plot](attachment:plot.png)")
    cell.attachments = {"plot.png": {"image/png": PNG, "image/svg+xml": "<svg onload=alert(1)>"},
                        "evil.svg": {"image/svg+xml": "<svg onload=alert(1)>"}}
    clean = sanitize.sanitize_cell(cell)
    assert clean.attachments == {"plot.png": {"image/png": PNG}} and clean.source == cell.source
    only_svg = nbformat.v4.new_markdown_cell("![x](attachment:evil.svg)")
    only_svg.attachments = {"evil.svg": {"image/svg+xml": "<svg onload=alert(1)>"}}
    assert "shows this cell as its text" in sanitize.sanitize_cell(only_svg).source


def test_a_raw_cell_is_shown_as_text():
    clean = sanitize.sanitize_cell(nbformat.v4.new_raw_cell("<script>alert(1)</script>"))
    assert clean.cell_type == "markdown" and "<script" not in sanitize.render_markdown(clean.source)


def test_metadata_keeps_the_graders_fields_only():
    cell = nbformat.from_dict({"cell_type": "code", "source": "x = 1", "outputs": [], "execution_count": None, "metadata": {
        "nbgrader": {"grade": True, "solution": False, "grade_id": "a1-test", "points": 2, "locked": True,
                     "schema_version": 3, "evil": "<script>"},
        "tags": ["skip-when-grading", '"><script>', 3], "alt": "\" onerror=alert(1)", "jupyter": {"source_hidden": True},
        "course": {"verdict": {"a1-test": "passed"}}}, "id": 'x"><script>'})
    clean = sanitize.sanitize_cell(cell)
    assert clean.metadata == {"nbgrader": {"grade": True, "solution": False, "grade_id": "a1-test", "points": 2,
                                           "locked": True, "schema_version": 3},
                              "tags": ["skip-when-grading"], "course": {"verdict": {"a1-test": "passed"}}}
    assert clean.id != cell.id
    bad_id = sanitize.sanitize_cell(nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade_id": "a b<"}}))
    assert "grade_id" not in bad_id.metadata["nbgrader"]
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"x": "</script><script>alert(1)</script>"}},
        "title": "<script>"})
    clean_nb, _ = sanitize.SanitizeNotebook().preprocess(nb, {})
    assert set(clean_nb.metadata) == {"kernelspec"}
    nbformat.validate(clean_nb)


def _course_notebooks():
    return sorted(glob.glob(str(ROOT / "source" / "*" / "*.ipynb")) + glob.glob(str(ROOT / "release" / "*" / "*.ipynb"))
                  + glob.glob(str(ROOT / "solution" / "*" / "*.ipynb")))


def test_every_markdown_cell_of_the_course_is_shown_as_written():
    for path in _course_notebooks():
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                assert sanitize.unsafe_markdown(cell.source, cell.get("attachments")) is None, (path, index)


def test_sanitising_twice_changes_nothing_more():
    nb = nbformat.read(ROOT / "source" / "part_c" / "c1_gamma_beta.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN["a script"]))
    nb.cells.append(_scored([display({"text/html": "<b>x</b>"}), display({"image/png": PNG})]))
    once, _ = sanitize.SanitizeNotebook().preprocess(copy.deepcopy(nb), {})
    twice, _ = sanitize.SanitizeNotebook().preprocess(copy.deepcopy(once), {})
    assert nbformat.writes(once) == nbformat.writes(twice)
    nbformat.validate(once)


def test_mathml_keeps_no_link_style_class_or_element_from_the_formula():
    for tex in [r"\href{javascript:alert(1)}{x}", r"\style{position:fixed}{x}", r"\class{evil}{x}"]:
        out = mathml.inline(tex)
        assert "javascript" not in out and "position" not in out and "evil" not in out, out
    out = mathml.inline(r"\text{<img/src=x/onerror=alert(1)>}")
    assert "<img" not in out and "&lt;img" in out
    page = mathml.render_math("<p>$\\text{&lt;img/src=x/onerror=alert(1)&gt;}$</p>")   # as markdown renders it
    assert "<math" in page and "<img" not in page
    # markdown that is not a tag stays text
    assert "<img" not in sanitize.render_markdown("<img/src=x/onerror=alert(1)>")
    assert "<mfrac>" in mathml.inline(r"\frac{a}{b}") and 'mathcolor="red"' in mathml.inline(r"\color{red}{x}")


def test_a_figure_cell_keeps_the_students_plot_and_says_where_it_comes_from():
    release = nbformat.read(ROOT / "release" / "part_c" / "c1_gamma_beta.ipynb", as_version=4)
    source = nbformat.read(ROOT / "source" / "part_c" / "c1_gamma_beta.ipynb", as_version=4)
    handed_in = copy.deepcopy(release)
    figure = next(i for i, c in enumerate(handed_in.cells) if "skip-when-grading" in c.metadata.get("tags", []))
    handed_in.cells[figure].outputs = [nbformat.from_dict(display({"image/png": PNG, "text/html": "<script>"})),
                                       nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "R^2"})]
    other = next(i for i, c in enumerate(handed_in.cells) if c.cell_type == "code" and i != figure)
    handed_in.cells[other].outputs = [nbformat.from_dict(display({"image/png": PNG}))]
    data = nbformat.reads(nbformat.writes(handed_in), as_version=4)
    repaired, _ = repair.repair(repair.read_notebook(data), release, source)
    cells = {c.source: c for c in repaired.cells if c.cell_type == "code"}
    kept = cells[handed_in.cells[figure].source]
    assert [o.get("data", {}).get("image/png") for o in kept.outputs] == [PNG, None]
    assert "text/html" not in kept.outputs[0]["data"]
    assert cells[handed_in.cells[other].source].outputs == []
    skipped, _ = SkipWhenGrading().preprocess_cell(kept, {}, 0)
    assert skipped.outputs[0]["text"] == KEPT_NOTE and len(skipped.outputs) == 3
    again, _ = SkipWhenGrading().preprocess_cell(skipped, {}, 0)   # graded again: one note
    assert [o.get("text") for o in again.outputs].count(KEPT_NOTE) == 1
    empty = copy.deepcopy(kept)
    empty.outputs = []
    assert SkipWhenGrading().preprocess_cell(empty, {}, 0)[0].outputs[0]["text"] == SKIPPED_NOTE
