"""The course in JupyterLab, in a real browser: what a student, an instructor and a self-learner
see and do.

One JupyterLab server (127.0.0.1, a random port, a token) serves a scratch copy of the course in
which a demo class has been graded; headless Chromium (Debian's, driven by Playwright) works in it:
- student: runs a release notebook and sees the stub's NotImplementedError, types a solution and
  sees the visible tests pass, and nbgrader's Validate button report the result; drags B5's slider
  and the histogram changes;
- instructor: the nbgrader extensions load in JupyterLab 4, the Formgrader panel shows the demo
  class, a written Part C answer gets points by hand and they reach the CSV export;
- self-learner: solution notebooks run clean;
- after grading, with the network off: the class report opens from disk with its plots, and a
  feedback page shows its formulas typeset (MathML, no MathJax from a CDN).

Every step leaves a PNG in artifacts/screenshots/. Without Chromium the tests skip, except in CI
(env var CI set) where that fails. Chromium: `bash tools/install_browser.sh`.
"""
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import browser
from browser import Notebook, screenshot
from grader import coursedir, democlass, record

ROOT = Path(__file__).resolve().parents[1]
# The demo class is graded on these notebooks (all of them would take minutes): one with code,
# one with a written answer.
DEMO_NOTEBOOKS = ("part_b/b1_forward.ipynb", "part_c/c1_gamma_beta.ipynb")
WRITTEN = ("part_c", "c1_gamma_beta", "c1-written")   # the written answer graded by hand below
B5 = "part_b/b5_covariate_shift.ipynb"


def solutions(notebook):
    """{cell index: code} of the source notebook's solution cells, as a student would type them."""
    nb = nbformat.read(ROOT / "source" / notebook, as_version=4)
    return {i: "\n".join(line for line in c.source.splitlines()
                          if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line) + "\n"
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def grade_ids(notebook, kind):
    """{cell index: grade_id} of the source notebook's code cells that are `kind` ("grade", "solution")."""
    nb = nbformat.read(ROOT / "source" / notebook, as_version=4)
    return {i: c.metadata["nbgrader"]["grade_id"] for i, c in enumerate(nb.cells)
            if c.metadata.get("nbgrader", {}).get(kind) and c.cell_type == "code"}


def _env():
    """This environment, with its scripts first on PATH and no gradebook URL from outside."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("COURSE_DB_URL", None)
    return env


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A scratch course with a graded demo class (on DEMO_NOTEBOOKS) and every release and
    solution notebook."""
    browser.require_browser()
    root = tmp_path_factory.mktemp("browser") / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "answers", root / "answers", ignore=shutil.ignore_patterns("__pycache__"))
    for notebook in DEMO_NOTEBOOKS:
        (root / "source" / notebook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "source" / notebook, root / "source" / notebook)
    # the instructor's command, in a process of its own so that a hang fails instead of blocking
    demo = subprocess.run([sys.executable, "-m", "grader", "--root", str(root), "demo"], cwd=root,
                          capture_output=True, text=True, timeout=600, env=_env())
    assert demo.returncode == 0 and "demo-perfect" in demo.stdout, demo.stdout + demo.stderr
    for folder in ("release", "solution"):
        shutil.copytree(ROOT / folder, root / folder, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="module")
def lab(course):
    server = browser.Lab(course, course.parent / "lab").start()
    yield server
    server.stop()
    assert server.process.returncode is not None


@pytest.fixture(scope="module")
def chromium(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = browser.launch(playwright)
        yield chrome
        chrome.close()


@pytest.fixture()
def page(chromium, lab):
    context = chromium.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(browser.TIMEOUT * 1000)
    yield page
    context.close()
    for session in lab.api("api/sessions"):  # no kernel left running for the next test
        lab.api(f"api/sessions/{session['id']}", method="DELETE")


# --------------------------------------------------------------------------- student

@pytest.mark.parametrize("notebook", ["part_b/b1_forward.ipynb", "part_b/b2_backward.ipynb"])
def test_student_runs_the_stub_types_a_solution_and_validates(page, lab, notebook):
    name = Path(notebook).stem
    console = browser.Console(page)
    nb = Notebook(page, lab, f"release/{notebook}").open()
    tests = grade_ids(notebook, "grade")

    # 1. Run all: the first test cell fails with the stub's NotImplementedError.
    nb.run_all()
    first_test = min(tests)
    failing = nb.cell(first_test)
    failing.scroll_into_view_if_needed()
    assert "NotImplementedError" in nb.outputs_text(failing), (
        f"{notebook}: running the release notebook should stop at {tests[first_test]} with the "
        f"stub's NotImplementedError; its output is:\n{nb.outputs_text(failing)[:500]}")
    screenshot(page, f"student-{name}-1-stub-fails")

    # 2. Validate the untouched notebook: nbgrader reports the failing tests.
    nb.save()
    dialog = validate(nb)
    assert "The following cell failed" in dialog and "NotImplementedError" in dialog, dialog[:800]
    screenshot(page, f"student-{name}-2-validate-stub")
    close_dialog(page)

    # 3. Type the solutions into the answer cells, run everything again: the visible tests pass.
    for index, code in solutions(notebook).items():
        nb.replace_source(nb.cell(index), code)
    nb.run_all()
    assert nb.errors() == [], f"{notebook}: errors after typing the solutions: {nb.errors()}"
    for index, grade_id in tests.items():
        prompt = nb.cell(index).locator(".jp-InputPrompt").first.inner_text()
        assert re.search(r"\[\d+\]", prompt), f"{grade_id} did not run (prompt {prompt!r})"
    passed = nb.cell(first_test)
    passed.scroll_into_view_if_needed()
    screenshot(page, f"student-{name}-3-tests-pass")

    # 4. Save and Validate: nbgrader runs the notebook as the grader will and reports success.
    nb.save()
    dialog = validate(nb)
    assert "Success! Your notebook passes all the tests." in dialog, dialog[:800]
    screenshot(page, f"student-{name}-4-validate-passes")
    close_dialog(page)
    assert console.unexpected() == []


def validate(nb):
    """Click nbgrader's Validate button in the notebook's toolbar; return the result dialog's text."""
    nb.panel.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
    dialog = nb.page.locator(".jp-Dialog-content")
    dialog.get_by_text(re.compile("Validation Results|Validation failed|Success")).first.wait_for(
        timeout=120_000)
    return dialog.inner_text()


def close_dialog(page):
    page.locator(".jp-Dialog-content .jp-Dialog-button").last.click()
    page.locator(".jp-Dialog").wait_for(state="detached")


@pytest.mark.skipif(not (ROOT / "release" / B5).exists(), reason="no B5 notebook yet")
def test_student_drags_the_b5_slider_and_the_histogram_changes(page, lab, course):
    # A student who has finished B5: every answer cell of the release notebook holds a solution.
    path = course / "release" / B5
    finished = democlass.fill_release(nbformat.read(path, as_version=4), {
        grade_id: solutions(B5)[index] for index, grade_id in grade_ids(B5, "solution").items()})
    nbformat.write(finished, str(path))
    console = browser.Console(page)
    nb = Notebook(page, lab, f"release/{B5}").open()
    nb.run_all(timeout=180)
    assert nb.errors() == [], nb.errors()

    explorer = nb.panel.locator(".jp-OutputArea-output .widget-vbox", has=page.locator(".widget-slider")).last
    image = explorer.locator("img").first
    image.wait_for()
    explorer.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    readout = explorer.locator(".widget-readout").first
    first_epoch, first_src = readout.inner_text(), image.get_attribute("src")
    before = image.screenshot()
    screenshot(page, "student-b5-1-explorer")

    # drag the slider's handle to the right end of its track, as a user would
    handle = explorer.locator(".noUi-handle").first
    track = explorer.locator(".noUi-target").first
    box, start = track.bounding_box(), handle.bounding_box()
    y = start["y"] + start["height"] / 2
    page.mouse.move(start["x"] + start["width"] / 2, y)
    page.mouse.down()
    for fraction in (0.25, 0.5, 0.75, 1.05):
        page.mouse.move(box["x"] + fraction * box["width"], y, steps=5)
    page.mouse.up()
    page.wait_for_function("([r, e]) => r.textContent.trim() !== e.trim()",
                           arg=[readout.element_handle(), first_epoch])
    nb.wait_idle()   # the kernel has redrawn the histogram for every epoch the slider passed
    last_epoch = readout.inner_text()
    page.wait_for_function("([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
                           arg=[image.element_handle(), first_src])
    after = image.screenshot()
    screenshot(page, "student-b5-2-slider-dragged")
    changed = changed_share(before, after)
    assert int(last_epoch) > int(first_epoch), (first_epoch, last_epoch)
    assert changed > 0.005, (
        f"dragging the slider from epoch {first_epoch} to {last_epoch} changed only {changed:.2%} "
        "of the histogram's pixels")
    assert console.unexpected() == []


def changed_share(png_a, png_b):
    """Share of pixels that differ between two PNG screenshots of the same element."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png_a)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(png_b)).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).sum(axis=-1) > 30).mean())


# --------------------------------------------------------------------------- instructor

def test_instructor_nbgrader_extensions_are_enabled_and_ok():
    env = _env()
    lab = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=env,
                         capture_output=True, text=True, timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", lab.stdout + lab.stderr)
    line = next((l for l in listing.splitlines() if "@jupyter/nbgrader" in l), "")
    assert "v0.9.6" in line and "enabled" in line and "OK" in line, listing
    server = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], env=env,
                            capture_output=True, text=True, timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    for extension in ("formgrader", "validate_assignment"):
        assert re.search(rf"nbgrader\.server_extensions\.{extension}\s+enabled", listing), listing
        assert re.search(rf"nbgrader\.server_extensions\.{extension}\s+OK", listing), listing


def test_instructor_grades_a_written_answer_in_formgrader_and_it_reaches_the_export(page, lab, course):
    assignment, notebook, grade_id = WRITTEN
    student, points = "demo-perfect", 3
    before = exported_score(course, assignment, student)
    console = browser.Console(page)
    page.goto(lab.url("lab", query="reset"))
    page.locator(".jp-LabShell").wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text="View").first.click()   # room for formgrader
    page.locator(".lm-Menu-itemLabel").get_by_text("Appearance", exact=True).hover()
    page.locator(".lm-Menu-itemLabel").get_by_text("Show Left Sidebar", exact=True).click()
    page.locator("#jp-left-stack").wait_for(state="hidden")
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Formgrader", exact=True).click()
    frame = page.frame_locator(".jp-MainAreaWidget iframe").first
    for part in ("part_b", "part_c"):
        frame.locator("#main-table").get_by_role("link", name=part, exact=True).wait_for()
    screenshot(page, "instructor-1-formgrader-assignments")

    # the demo class, graded
    frame.get_by_role("link", name="Manage Students").click()
    for demo in democlass.DEMO_STUDENTS:
        frame.locator("#main-table").get_by_text(demo, exact=True).wait_for()
    screenshot(page, "instructor-2-formgrader-demo-class")

    # Manual Grading > part_c > c1_gamma_beta > the student's submission: give points by hand
    frame.get_by_role("link", name="Manual Grading").click()
    frame.locator("#main-table").get_by_role("link", name=assignment, exact=True).click()
    frame.locator("#main-table").get_by_role("link", name=notebook, exact=True).click()
    frame.get_by_text(f"Submission #{len(democlass.DEMO_STUDENTS)}").wait_for()
    frame.get_by_role("button", name="Show All Names").click()
    first, last = student.split("-", 1)
    frame.locator("a.name-shown", has_text=f"{last}, {first.title()}").click()
    score = frame.locator(f"input.score#{grade_id}")
    score.wait_for()
    wait_until_grades_load(score)
    score.scroll_into_view_if_needed()
    score.fill(str(points))
    score.press("Tab")   # formgrader saves a score when the field loses focus
    manual = wait_for_manual_score(course, assignment, notebook, grade_id, student)
    assert manual == points, f"formgrader saved {manual} points for {grade_id}, not {points}"
    screenshot(page, "instructor-3-written-answer-graded")

    after = exported_score(course, assignment, student)
    assert after == before + points, (
        f"the export shows {after} for {student}/{assignment}; expected {before} + {points} given by hand")
    # formgrader's submission page loads MathJax from a CDN, unreachable offline
    assert console.unexpected(offline_cdn=[("cdnjs.cloudflare.com", "MathJax is not defined")]) == []


def wait_until_grades_load(score, timeout=60.0):
    """Formgrader binds its save-on-change handlers once it has fetched the submission's grades
    (formgrade.js sets `formgrader.grades.loaded`); a score typed before that is never saved."""
    import time

    loaded = ("el => { const f = el.ownerDocument.defaultView.formgrader;"
              " return Boolean(f && f.grades && f.grades.loaded); }")
    deadline = time.monotonic() + timeout
    while not score.evaluate(loaded):
        assert time.monotonic() < deadline, f"formgrader did not load the grades within {timeout} s"
        time.sleep(0.2)


def wait_for_manual_score(course, assignment, notebook, grade_id, student, timeout=60.0):
    """The manual score of one grade in the gradebook, once formgrader has saved one."""
    import time

    from nbgrader.api import Gradebook

    api = coursedir.make_api(course)
    deadline = time.monotonic() + timeout
    while True:
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            score = gb.find_grade(grade_id, notebook, assignment, student).manual_score
        if score is not None or time.monotonic() > deadline:
            return score
        time.sleep(0.1)


def exported_score(course, assignment, student):
    """The student's score for the assignment in nbgrader's CSV export of the gradebook."""
    path = record.export_csv(coursedir.make_api(course), course / "exports" / "grades.csv")
    row = next(r for r in coursedir.read_csv(path)
               if r["student_id"] == student and r["assignment"] == assignment)
    return float(row["score"])


# --------------------------------------------------------------------------- self-learner

@pytest.mark.parametrize("notebook", ["part_b/b1_forward.ipynb", "part_b/b2_backward.ipynb"])
def test_self_learner_solution_notebook_runs_clean(page, lab, notebook):
    console = browser.Console(page)
    nb = Notebook(page, lab, f"solution/{notebook}").open()
    nb.run_all()
    assert nb.errors() == [], f"solution/{notebook} shows errors or warnings: {nb.errors()}"
    prompts = nb.panel.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    assert prompts and all(re.search(r"\[\d+\]", p) for p in prompts), f"not every cell ran: {prompts}"
    nb.cell(min(grade_ids(notebook, "grade"))).scroll_into_view_if_needed()   # a test, passing
    screenshot(page, f"self-learner-{Path(notebook).stem}-runs-clean")
    assert console.unexpected() == []


# --------------------------------------------------------------------------- after grading, offline

def offline_page(chromium):
    """A page with no network: every request that is not for a file on disk or a data URI fails
    (and is recorded in the returned list)."""
    context = chromium.new_context(viewport=browser.VIEWPORT, offline=True)
    page = context.new_page()
    page.set_default_timeout(browser.TIMEOUT * 1000)
    refused = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            return request_route.continue_()
        refused.append(url)
        return request_route.abort()

    page.route("**/*", route)
    return context, page, refused


def typeset(page, selector):
    """How a formula was laid out: the heights of the first fraction's numerator and
    denominator, and whether the numerator sits above the denominator. Raw LaTeX has no
    fraction at all; MathML the browser could not lay out puts both on one line."""
    return page.evaluate("""sel => {
        const frac = document.querySelector(sel + ' mfrac');
        if (!frac) return null;
        const [num, den] = [...frac.children].map(c => c.getBoundingClientRect());
        return {above: num.bottom <= den.top + 1, height: num.height + den.height};
    }""", selector)


def test_instructor_reads_the_class_report_offline(chromium, course):
    context, page, refused = offline_page(chromium)
    console = browser.Console(page)
    page.goto((course / "exports" / "class-report.html").as_uri())
    page.get_by_role("heading", name="Class report").wait_for()
    text = page.locator("body").inner_text()
    assert f"{len(democlass.DEMO_STUDENTS)} students in the gradebook" in text
    assert "Written answers awaiting manual grading" in text and "part_c/c1_gamma_beta" in text
    for image in page.locator("img").all():   # the plots, drawn from the page itself
        assert image.evaluate("img => img.complete && img.naturalWidth > 100"), image.get_attribute("alt")
    # the partly wrong student's mistake, tallied under its name
    assert re.search(r"1 of 4 — .*(variance|gamma|eps|beta)", text), text[:3000]
    assert "$" not in page.locator(".lead").inner_text()   # no raw LaTeX
    screenshot(page, "instructor-4-class-report")
    page.screenshot(path=str(browser.SCREENSHOTS / "instructor-4-class-report-full.png"), full_page=True)
    assert refused == [] and console.unexpected() == []
    context.close()


def test_feedback_formulas_render_with_the_network_off(chromium, course):
    context, page, refused = offline_page(chromium)
    console = browser.Console(page)
    page.goto((course / "feedback" / "demo-perfect" / "part_b" / "b1_forward.html").as_uri())
    formula = page.locator("math[display='block']").first
    formula.wait_for()
    formula.scroll_into_view_if_needed()
    layout = typeset(page, "math[display='block']")
    assert layout and layout["above"] and layout["height"] > 12, layout
    assert "\\frac" not in page.locator("body").inner_text()
    screenshot(page, "student-feedback-b1-offline-formula")
    assert refused == [] and console.unexpected() == []
    context.close()


def test_instructor_opens_the_class_report_in_jupyterlab(page, lab, course):
    console = browser.Console(page)
    page.goto(lab.url("lab/tree/exports/class-report.html", query="reset"))
    frame = page.frame_locator(".jp-HTMLViewer iframe").first
    frame.get_by_role("heading", name="Class report").wait_for()
    assert frame.locator("math").count() > 0 and frame.locator("img").count() >= 2
    screenshot(page, "instructor-5-class-report-in-jupyterlab")
    assert console.unexpected() == []
