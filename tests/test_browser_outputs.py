"""The student's figures reach formgrader and the feedback; nothing else a student hands in runs
there (grader.sanitize), in a real browser.

A student hands in C1 and B5 with their own plots in the figure cells (which the grader does
not run) and, beside them, what an attacker would put in front of the instructor: a `<script>`
output, a text/html output with an `onerror` handler, an SVG with a script, JavaScript, an image
whose width carries a handler, a PNG payload that breaks out of its attribute, `javascript:`
links, raw HTML in markdown and in a raw cell. Every payload would set `window.PWNED`. After
`course grade`, formgrader's submission page (in JupyterLab's server, the instructor's session)
and the feedback page (from disk, offline) must show the student's plots and none of the
payloads: no dialog, no `window.PWNED`, no element or link that carries one.
"""
import base64
import io
from pathlib import Path

import nbformat
import pytest

import browser
from browser import screenshot
from grader import coursedir, grading, sandbox
from test_grading import copy_course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("part_c/c1_gamma_beta.ipynb", "part_b/b5_covariate_shift.ipynb")
STUDENT = "hostile-figures"
WIDTH, HEIGHT = 320, 180   # the student's own plot, in pixels


def student_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    ax.plot([0, 1, 2], [0, 2, 1], color="tab:orange")
    ax.set_title("my own plot")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def hostile_outputs(png):
    out = nbformat.v4.new_output
    return [
        out("display_data", data={"text/html": "<script>window.PWNED = 'script'</script><b>x</b>", "text/plain": "x"}),
        out("display_data", data={"text/html": "<img src=x onerror=\"window.PWNED = 'onerror'\">"}),
        out("display_data", data={"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.PWNED = 'svg'\">"
                                                    "<script>window.PWNED = 'svg script'</script></svg>"}),
        out("display_data", data={"application/javascript": "window.PWNED = 'javascript'"}),
        out("display_data", data={"image/png": png}, metadata={"image/png": {"width": "1 onerror=window.PWNED='width'"}}),
        out("display_data", data={"image/png": "x\" onerror=\"window.PWNED='payload'"}),
    ]


HOSTILE_MARKDOWN = [
    "[click me](javascript:window.PWNED='link')",
    "<img src=x onerror=\"window.PWNED='markdown img'\">",
    "<details open ontoggle=\"window.PWNED='details'\">x</details>",
    "<script>window.PWNED='markdown script'</script>",
]


def handed_in(notebook, png):
    nb = nbformat.read(ROOT / "solution" / notebook, as_version=4)
    figures = 0
    for cell in nb.cells:
        if "skip-when-grading" in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"},
                                                   metadata={"image/png": {"width": WIDTH, "height": HEIGHT}}),
                            *hostile_outputs(png)]
            figures += 1
    assert figures, notebook
    own = nbformat.v4.new_code_cell("print('my own cell')")
    own.outputs = hostile_outputs(png)
    nb.cells += [own, *(nbformat.v4.new_markdown_cell(text) for text in HOSTILE_MARKDOWN),
                 nbformat.v4.new_raw_cell("<script>window.PWNED='raw'</script>")]
    return nb, figures


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    browser.require_browser()
    root = copy_course(tmp_path_factory.mktemp("outputs"), notebooks=set(NOTEBOOKS))
    png, figures = student_plot(), {}
    for notebook in NOTEBOOKS:
        nb, figures[notebook] = handed_in(notebook, png)
        path = root / "submitted" / STUDENT / notebook
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
    grades = grading.grade_class(root, progress=lambda message: None, unsandboxed=sandbox.available() is not None)
    assert not grades.failures, grades.failures
    assert all(row.problem is None or not row.problem for row in grades[STUDENT]), grades[STUDENT]
    return root, figures


@pytest.fixture(scope="module")
def lab(course):
    server = browser.Lab(course[0], course[0].parent / "lab").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = browser.launch(playwright)
        yield chrome
        chrome.close()


def submission_id(root, notebook):
    from nbgrader.api import Gradebook

    api = coursedir.make_api(root)
    assignment, name = Path(notebook).parent.name, Path(notebook).stem
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        return gb.find_submission_notebook(name, assignment, STUDENT).id


def nothing_ran(page, dialogs):
    """What of the payloads ran or is in the page (empty when none)."""
    found = page.evaluate("""() => {
        const found = [];
        if (window.PWNED !== undefined) found.push('window.PWNED = ' + window.PWNED);
        for (const el of document.querySelectorAll('*')) {
            for (const attr of el.attributes) {
                // formgrader's own handlers (its name toggle) are not the student's
                if (/^on/i.test(attr.name) && !/^toggle_name\((true|false)\);$/.test(attr.value))
                    found.push(el.tagName + ' ' + attr.name + '=' + attr.value);
                if (/^\\s*javascript:/i.test(attr.value)) found.push(el.tagName + ' ' + attr.name + '=' + attr.value);
            }
        }
        for (const s of document.querySelectorAll('script')) if (s.textContent.includes('PWNED')) found.push('script');
        if (document.querySelector('svg[onload], iframe, object, embed')) found.push('svg/iframe/object/embed');
        return found;
    }""")
    return found + [f"dialog: {message}" for message in dialogs]


def own_plots(page):
    """How many of the page's images are the student's own plot (its size in pixels)."""
    return page.evaluate(f"""() => [...document.images].filter(img => img.complete
        && img.naturalWidth === {WIDTH} && img.naturalHeight === {HEIGHT}).length""")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_formgrader_shows_the_students_plots_and_runs_none_of_the_payloads(chromium, lab, course, notebook):
    root, figures = course
    context = chromium.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(browser.TIMEOUT * 1000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(lab.url(f"formgrader/submissions/{submission_id(root, notebook)}"))
    page.locator("#notebook-container").first.wait_for()
    page.wait_for_load_state("load")
    page.get_by_text("shows this cell as its text").first.wait_for()
    assert own_plots(page) >= figures[notebook], f"{own_plots(page)} of the student's {figures[notebook]} plots shown"
    assert nothing_ran(page, dialogs) == []
    assert "as handed in" in page.locator("body").inner_text()
    name = Path(notebook).stem
    page.get_by_text("as handed in").first.scroll_into_view_if_needed()
    screenshot(page, f"instructor-formgrader-student-figure-{name}")
    context.close()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_feedback_shows_the_students_plots_and_runs_none_of_the_payloads(chromium, course, notebook):
    root, figures = course
    context = chromium.new_context(viewport=browser.VIEWPORT, offline=True)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    path = root / "feedback" / STUDENT / notebook.replace(".ipynb", ".html")
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert own_plots(page) >= figures[notebook]
    assert nothing_ran(page, dialogs) == []
    page.get_by_text("as handed in").first.scroll_into_view_if_needed()
    screenshot(page, f"student-feedback-own-figure-{Path(notebook).stem}")
    context.close()
