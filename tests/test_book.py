"""The course as a book (`./run book`, tools/book.py): built from the source notebooks, then read
from disk in Chromium with the network off, as a self-learner would.

Two builds, by the command itself: the whole book (every notebook run; 35 to 70 s on 2 cores),
and two notebooks with --no-solutions. Checked:
- the site: every source notebook is a page, in the sheet's order, titled with its number and
  difficulty, after the conventions card; each exercise page ships its release notebook (the very
  file of release/) and says how to open it (`./run lab`) and check it (`course check`);
- nothing of the grader: no file of the site (pages, search index, downloads, scripts, styles)
  holds a hidden test's code or markers or a mark scheme, and a book built --no-solutions holds
  no reference solution;
- in Chromium, with every request that is not for a file on disk refused and recorded: no page
  asks another host for anything, its figures are drawn (naturalWidth > 0), its formulas are
  MathML laid out by the browser (no LaTeX left in the text), each solution stays folded until
  the reader opens it, B5 shows its explorer's frames, and the search page finds B5.
Screenshots of A4 and B5 go to artifacts/screenshots/ (docs/img/book-*.png are copies). Without
Chromium the browser tests skip, except in CI (env var CI set). Chromium: `bash tools/install_browser.sh`.
"""
import html
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import browser
from browser import screenshot
from grader.coursedir import assignments, source_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [(part, path) for part in assignments(ROOT) for path in source_notebooks(ROOT, part)]
PAGES = [f"{part}/{path.stem}.html" for part, path in NOTEBOOKS]
WITHOUT_SOLUTIONS = ("a5_running_statistics", "b1_forward")   # a figure drawn by a solution; code
MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "grader.checks", "_checks.", "BEGIN MARK SCHEME",
           "END MARK SCHEME")
TITLE = re.compile(r"^([ABC]\d) · (easy|medium|hard) · \S")


def _regions(text, begin, end):
    """The lines strictly between each `begin` marker line and the next `end` marker line."""
    lines, inside = [], False
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def release_text():
    """Every cell of every release notebook, as one text."""
    return "\n".join(c.source for path in sorted((ROOT / "release").glob("part_*/*.ipynb"))
                     for c in nbformat.read(path, as_version=4).cells)


def hidden_strings():
    """What only the grader may know: every line of every hidden test and of every mark scheme
    (but a line the student version has too, like a call's `seed=SEED, weight_scale=WEIGHT_SCALE,`)."""
    found = set()
    for _, path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            found.update(_regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
            found.update(line for line in _regions(cell.source, "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===")
                         if len(line) >= 30)   # a long line is the scheme's own: "1. (1 point) Without BN the ..."
    public = release_text()
    return {line for line in found if line not in public}


def solution_strings(name):
    """The reference solution's lines of a notebook that neither the student versions nor the
    conventions card have."""
    path = next(path for _, path in NOTEBOOKS if path.stem == name)
    public = release_text() + (ROOT / "docs" / "conventions.md").read_text()   # the card writes var = x.var(axis=0)
    return {line for cell in nbformat.read(path, as_version=4).cells
            for line in _regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
            if len(line) >= 12 and not line.startswith("#") and line not in public}


def texts(path):
    """A file of the site as it could be searched: its raw text, and for a page its text without
    tags (code is highlighted span by span) or for a notebook its cells' sources."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    yield raw
    if path.suffix == ".html":
        yield " ".join(html.unescape(re.sub(r"<[^>]+>", "", raw)).split())
    elif path.suffix == ".ipynb":
        yield "\n".join(c.source for c in nbformat.reads(raw, as_version=4).cells)


def leaks(site, strings):
    """{file: [strings it holds]} over every file of the site."""
    found = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        held = sorted({s for text in texts(path) for s in strings if s in text})
        if held:
            found[str(path.relative_to(site))] = held
    return found


def build(out, *options):
    """`./run book` into `out`, in a process of its own as a user runs it; returns what it printed
    (and prints how long it took)."""
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "tools.book", "--out", str(out), *options], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    assert run.returncode == 0, f"./run book {' '.join(options)} failed:\n{run.stdout[-6000:]}\n{run.stderr[-6000:]}"
    assert (out / "index.html").is_file(), run.stdout[-2000:]
    print(f"book {' '.join(options) or '(all)'}: built in {seconds:.0f} s")
    return run.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "book"
    stdout = build(out)
    assert "the book (with solutions)" in stdout and f"open {out / 'index.html'}" in stdout
    return out


@pytest.fixture(scope="module")
def lessons_only(tmp_path_factory):
    out = tmp_path_factory.mktemp("book-no-solutions") / "book"
    options = ["--no-solutions"] + [f"--notebook={name}" for name in WITHOUT_SOLUTIONS]
    assert "the book (without solutions)" in build(out, *options)
    return out


# --------------------------------------------------------------------------- the site, as files

def test_every_notebook_is_a_page_in_the_sheets_order(site):
    index = (site / "index.html").read_text()
    main = index[index.index('<main'):]
    linked = re.findall(r'<li class="toctree-l1"><a class="reference internal" href="([^"#]+)"', main)
    assert linked == ["conventions.html"] + PAGES
    for (_, path), page in zip(NOTEBOOKS, PAGES):
        title = html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", (site / page).read_text(), re.S)
                                     .group(1))).strip()
        assert TITLE.match(title) and title.startswith(path.stem[:2].upper()), f"{page}: {title!r}"
    assert "then open <em>Show the solution</em>" in index
    card = (site / "conventions.html").read_text()
    assert "Conventions of the course" in card and "<math" in card


def test_each_exercise_page_ships_its_release_notebook_and_says_how_to_check_it(site):
    for (part, path), page in zip(NOTEBOOKS, PAGES):
        text = (site / page).read_text()
        link = re.search(rf'<a class="reference download internal" download="" href="([^"]+/{path.name})"', text)
        assert link, f"{page} has no download link to {path.name}"
        shipped = (site / page).parent / html.unescape(link.group(1))
        assert shipped.read_bytes() == (ROOT / "release" / part / path.name).read_bytes(), (
            f"{page} offers {shipped}, which is not release/{part}/{path.name}")
        plain = " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
        assert "./run lab" in plain and f"./run course check release/{part}/{path.name}" in plain, page


def test_no_hidden_test_or_mark_scheme_anywhere_in_the_site(site):
    strings = set(MARKERS) | hidden_strings()
    assert "_checks.test_hand(batchnorm_backward)" in strings and len(strings) > 50, (
        "the hidden tests and mark schemes were not found in source/")
    assert leaks(site, strings) == {}
    assert not (site / "_sources").exists() or not any((site / "_sources").iterdir()), (
        "Sphinx copied the book's notebooks into _sources/")


def test_each_answer_cell_is_the_stub_then_the_folded_solution(site):
    from nbgrader.utils import is_solution

    for (_, path), page in zip(NOTEBOOKS, PAGES):
        answers = sum(c.cell_type == "code" and is_solution(c) for c in nbformat.read(path, as_version=4).cells)
        text = (site / page).read_text()
        assert text.count("tag_answer-stub") == answers and text.count("tag_solution") == answers, page
        plain = html.unescape(re.sub(r"<[^>]+>", "", text))
        assert plain.count("raise NotImplementedError()") >= answers, f"{page}: the stubs are not the release's"
        folds = re.findall(r'<div class="cell tag_solution[^>]*>\s*<details class="([^"]*)"([^>]*)>\s*<summary[^>]*>'
                           r'\s*<p class="collapsed admonition-title">Show the solution</p>', text)
        assert len(folds) == answers and all("open" not in attributes for _, attributes in folds), page


def test_without_solutions_no_solution_is_in_the_site(lessons_only):
    pages = sorted(lessons_only.glob("part_*/*.html"))
    assert [p.stem for p in pages] == list(WITHOUT_SOLUTIONS)
    assert "the reference solutions are not part of this book" in (lessons_only / "index.html").read_text()
    for page in pages:
        text = page.read_text()
        assert "tag_solution" not in text and "Show the solution" not in text, page.name
        assert "tag_answer-stub" in text and "the reference solutions are not part of this book" in text, page.name
    assert "<img" in (lessons_only / "part_a" / "a5_running_statistics.html").read_text(), (
        "A5's figure, drawn by its reference solution, is missing")
    solutions = set().union(*(solution_strings(name) for name in WITHOUT_SOLUTIONS))
    assert len(solutions) >= 5
    assert leaks(lessons_only, solutions | set(MARKERS)) == {}


# --------------------------------------------------------------------------- the site, in Chromium

@pytest.fixture(scope="module")
def chromium():
    browser.require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = browser.launch(playwright)
        yield instance
        instance.close()


@pytest.fixture
def offline(chromium):
    """A page with the network off: every request that is not for a file on disk (or a data URI)
    is refused, and recorded in `refused`."""
    context = chromium.new_context(viewport=browser.VIEWPORT, offline=True)
    page = context.new_page()
    page.set_default_timeout(browser.TIMEOUT * 1000)
    page.refused = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            return request_route.continue_()
        page.refused.append(url)
        return request_route.abort()

    page.route("**/*", route)
    yield page
    context.close()


def scroll_to(page, selector, starts_with):
    """Scroll the first `selector` whose text starts so to the top of the window, below the header."""
    page.evaluate("""([selector, start]) => {
        const element = [...document.querySelectorAll(selector)].find(e => e.textContent.trim().startsWith(start));
        element.scrollIntoView({block: "start"});
        window.scrollBy(0, -70); }""", [selector, starts_with])
    page.wait_for_timeout(300)


LAYOUT = """() => {
    const main = document.querySelector('main').cloneNode(true);
    // code shows LaTeX as written; the print-only header repeats the title as plain text
    main.querySelectorAll('pre, code, script, style, .onlyprint').forEach(e => e.remove());
    const fracs = [...document.querySelectorAll('main mfrac')].filter(f => f.getClientRects().length);
    const stacked = fracs.filter(f => {
        const [num, den] = [...f.children].map(c => c.getBoundingClientRect());
        return num.bottom <= den.top + 1 && num.height > 4 && den.height > 4; });
    return {text: main.textContent, math: document.querySelectorAll('main math').length,
            fracs: fracs.length, stacked: stacked.length};
}"""


@pytest.mark.parametrize("page_path", ["index.html", "conventions.html"] + PAGES)
def test_page_reads_offline_with_figures_and_formulas(site, offline, page_path):
    console = browser.Console(offline)
    offline.goto((site / page_path).as_uri())
    offline.wait_for_load_state("load")
    images = offline.locator("main img")
    for image in images.all():
        image.scroll_into_view_if_needed()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"{page_path}: {image.get_attribute('src')}"
    layout = offline.evaluate(LAYOUT)
    assert layout["math"] > 0, f"{page_path} shows no formula"
    assert layout["stacked"] == layout["fracs"], f"{page_path}: fractions not laid out as fractions: {layout}"
    leftover = re.findall(r"\$[^$]{0,40}|\\(?:frac|mathcal|partial|sum|hat|sqrt)\b", layout["text"])
    assert leftover == [], f"{page_path} shows LaTeX the browser did not typeset: {leftover[:5]}"
    assert offline.refused == [], f"{page_path} asked another host for {offline.refused}"
    assert console.unexpected() == [], f"{page_path}: {console.unexpected()}"
    # B5: Figure 1, every layer, saturation, and the explorer's four frames; C3: its landscape
    expected = {"a5_running_statistics": 1, "b5_covariate_shift": 7, "c3_learning_rates": 1}.get(Path(page_path).stem, 0)
    assert images.count() >= expected, f"{page_path} has {images.count()} figures, fewer than {expected}"


def test_a4_solution_stays_folded_until_opened(site, offline):
    offline.goto((site / "part_a" / "a4_backward_derivation.html").as_uri())
    stub = offline.locator("div.cell.tag_answer-stub").first
    assert "raise NotImplementedError()" in stub.inner_text()
    fold = offline.locator("div.cell.tag_solution").first
    solution = fold.locator("div.cell_input")
    assert fold.locator("summary").inner_text().strip() == "Show the solution"
    assert not solution.is_visible(), "the solution shows before the reader opens it"
    scroll_to(offline, "article h2", "Task 4")   # a task, its formulas, the stub and the closed fold
    screenshot(offline, "book-a4")
    fold.locator("summary").click()
    solution.wait_for(state="visible")
    offline.wait_for_timeout(500)   # the fold fades in
    assert "BEGIN SOLUTION" in solution.inner_text() and "dL_dsigma2 =" in solution.inner_text()
    assert fold.locator("math").count() > 0, "the solution's output (a SymPy formula) is not shown as math"
    fold.scroll_into_view_if_needed()
    screenshot(offline, "book-a4-solution-open")
    assert offline.refused == []


def test_b5_shows_the_explorer_as_frames(site, offline):
    offline.goto((site / "part_b" / "b5_covariate_shift.html").as_uri())
    frames = offline.locator("div.cell.tag_explorer-frames img")
    assert frames.count() == 4
    assert offline.locator("div.cell", has_text="display(visualize_covariate_shift").count() == 0
    scroll_to(offline, "article p", "In the book:")
    for frame in frames.all():
        assert frame.evaluate("img => img.complete && img.naturalWidth > 300")
    screenshot(offline, "book-b5")
    assert offline.refused == []


def test_search_finds_b5_offline(site, offline):
    console = browser.Console(offline)
    offline.goto((site / "search.html").as_uri() + "?q=covariate")
    result = offline.locator("#search-results a", has_text="B5").first
    result.wait_for()
    assert "b5_covariate_shift.html" in result.get_attribute("href")
    assert offline.refused == [] and console.unexpected() == []


def test_the_readme_shows_the_books_screenshots():
    readme = (ROOT / "README.md").read_text()
    assert "./run book" in readme
    for name in ("book-a4", "book-b5"):
        assert f"docs/img/{name}.png" in readme and (ROOT / "docs" / "img" / f"{name}.png").is_file()


def test_the_book_notebooks_are_valid_and_b5s_explorer_is_found_by_name():
    """The staging step on its own (no run): valid notebooks, B5's explorer cell replaced."""
    from tools import book

    from grader.coursedir import load_config

    config = load_config(ROOT)
    for part, path in NOTEBOOKS:
        nb = book.book_notebook(nbformat.read(path, as_version=4), config, part, path.stem)
        nbformat.validate(nb)
    b5 = next(path for _, path in NOTEBOOKS if path.stem == "b5_covariate_shift")
    staged = book.book_notebook(nbformat.read(b5, as_version=4), config, "part_b", b5.stem)
    assert sum(book.EXPLORER_FRAMES == c.source for c in staged.cells) == 1
