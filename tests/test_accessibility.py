"""The class report and a feedback page, checked by an accessibility checker: axe-core in headless
Chromium, on the pages the sample class's grading wrote (tests/class_fixture.py).

A serious or critical violation fails the test. axe-core comes from the npm registry at a pinned
version (`bash tools/install_axe.sh`, into artifacts/axe/, not committed), Chromium from Debian
(`bash tools/install_browser.sh`). Without either the tests skip, except in CI (env var CI set),
where that fails (as tests/browser.py's require_browser).

The feedback page is the course's template (grader/templates/course-feedback: nbgrader's
feedback template with readable contrast, underlined links, wrapped code and a language).
"""
import os
from pathlib import Path

import pytest

import browser
from class_fixture import graded_class  # noqa: F401 (a fixture)
from grader import report

AXE = browser.ROOT / "artifacts" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
FEEDBACK_PAGE = Path("feedback", "honest-perfect", "part_b", "b1_forward.html")


def require_axe():
    """Skip the calling test when axe-core is not installed, except in CI, where that fails."""
    browser.require_browser()
    if not AXE.is_file():
        message = f"accessibility tests need axe-core at {AXE} (bash tools/install_axe.sh)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so this is not skipped", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def course(graded_class):  # noqa: F811
    require_axe()
    root, _, grades, _ = graded_class
    report.save_results(root, grades)
    report.build(root)
    return root


@pytest.fixture(scope="module")
def chromium(course):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = browser.launch(playwright)
        yield chrome
        chrome.close()


def violations(chromium, path, screenshot=None):
    """[(rule id, impact, [CSS selectors of the elements])] that axe-core finds on the page at
    `path`, opened from disk with the network off; a full-page screenshot of it to `screenshot`."""
    context = chromium.new_context(viewport=browser.VIEWPORT, offline=True)
    page = context.new_page()
    page.set_default_timeout(browser.TIMEOUT * 1000)
    try:
        page.goto(Path(path).as_uri())
        if screenshot:
            browser.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(browser.SCREENSHOTS / f"{screenshot}.png"), full_page=True)
        page.add_script_tag(path=str(AXE))
        found = page.evaluate("async () => (await axe.run(document)).violations")
    finally:
        context.close()
    return [(v["id"], v["impact"], [" ".join(n["target"]) for n in v["nodes"]]) for v in found]


def serious(found):
    return [v for v in found if v[1] in FAILING_IMPACTS]


def test_the_class_report_has_no_serious_accessibility_violation(chromium, course):
    found = violations(chromium, course / report.REPORT, screenshot="class-report-axe")
    assert serious(found) == [], serious(found)


def test_a_feedback_page_has_no_serious_accessibility_violation(chromium, course):
    found = serious(violations(chromium, course / FEEDBACK_PAGE, screenshot="feedback-b1-axe"))
    assert found == [], found
