"""The class report, checked against the gradebook of the graded sample class.

The sample class (tests/sample_class.py: honest, wrong, faulty and cheating students on B1 and
B2) is graded once per session (tests/class_fixture.py); the report is built from its gradebook
and autograded notebooks, and every count is checked against the gradebook or the class's own
description: scores, pass counts, who made which named mistake, what was not graded and why.
"""
import html
import io
import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from traitlets.config import Config

import sample_class
from class_fixture import graded_class  # noqa: F401 (a fixture)
from grader import coursedir, mathml, report, report_page
from grader.progress import GradingProgress
from course.testing import CheckFailed, check_array


@pytest.fixture(scope="module")
def built(graded_class):  # noqa: F811
    root, subs, grades, _ = graded_class
    report.save_results(root, grades)
    class_report, path = report.build(root)
    return root, subs, class_report, path


def _gradebook(root):
    from nbgrader.api import Gradebook

    api = coursedir.make_api(root)
    return Gradebook(api.coursedir.db_url, api.coursedir.course_id)


def test_every_student_is_counted_once_per_notebook_with_the_gradebooks_score(built):
    root, subs, rep, _ = built
    assert sorted(rep.students) == sorted(s.student for s in subs)
    with _gradebook(root) as gb:
        for nb in rep.notebooks:
            groups = [set(nb.scores), set(nb.not_submitted), set(nb.not_graded)]
            assert sum(map(len, groups)) == len(rep.students) and set.union(*groups) == set(rep.students)
            for student, score in nb.scores.items():
                assert score == gb.find_submission_notebook(nb.notebook, nb.assignment, student).code_score


def test_not_submitted_and_not_graded_notebooks_are_the_class_descriptions(built):
    _, subs, rep, _ = built
    notebooks = {nb.notebook: nb for nb in rep.notebooks}
    expected = [(s.student, stem, e.problem) for s in subs for stem, e in s.expect.items() if e.problem]
    assert expected, "the sample class has notebooks that cannot be graded"
    for student, stem, phrase in expected:
        nb = notebooks[stem]
        if phrase == "not submitted":
            assert student in nb.not_submitted
        else:
            assert phrase in nb.not_graded.get(student, ""), (student, stem, nb.not_graded)


def test_pass_counts_add_up_to_the_gradebooks_totals(built):
    """Tests are scored all or nothing: per notebook, the points of the passes are the class's total."""
    _, _, rep, _ = built
    for nb in rep.notebooks:
        tests = [t for t in rep.tests if t.notebook == nb.notebook]
        assert tests and all(t.graded == len(nb.scores) for t in tests)
        assert sum(t.points * t.passed for t in tests) == pytest.approx(sum(nb.scores.values()))
        for t in tests:
            assert t.passed + sum(len(who) for who in t.failures.values()) == t.graded, t.label


def test_the_same_mistake_is_tallied_under_its_name_for_every_student_who_makes_it(built):
    """wrong-1 and o'brien hand in B1's first wrong answer (the variance with ddof=1), cheat-numpy-patch
    the same answer under its tricks: all three are tallied under the mistake's name."""
    _, _, rep, _ = built
    says = sample_class._wrong("b1_forward", 0).says
    tallied = {m: set(who) for m, who, _ in rep.mistakes()}
    name = next(m for m in tallied if says in m)
    assert {"wrong-1", "o'brien", "cheat-numpy-patch"} <= tallied[name]
    assert rep.mistakes()[0][1] and len(rep.mistakes()[0][1]) >= len(tallied[name])


def test_a_failure_whose_message_names_a_mistake_is_never_unrecognised(built):
    root, _, rep, _ = built
    for t in rep.tests:
        for student in t.failures.get(report.NOT_RECOGNISED, []):
            path = root / "autograded" / student / t.assignment / f"{t.notebook}.ipynb"
            failures, _ = report._test_failures(path)
            assert "what you get when" not in failures[t.grade_id].message, (student, t.label)


def test_the_tally_reads_the_verdict_records_not_the_messages(built):
    """Each named mistake comes from the grader's verdict record beside the test cell's outputs:
    rewording the message changes no count, and a record the student wrote into the metadata
    of a cell is not the grader's (grader.execute drops it)."""
    root, _, rep, _ = built
    import nbformat

    named = 0
    for t in rep.tests:
        for mistake, students in t.failures.items():
            if not report.named(mistake):
                continue
            for student in students:
                nb = nbformat.read(root / "autograded" / student / t.assignment / f"{t.notebook}.ipynb", as_version=4)
                cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == t.grade_id)
                assert cell.metadata["course"]["verdict"]["mistake"].rstrip(".") == mistake, (student, t.label)
                named += 1
    assert named, "no named mistake was tallied"


def test_the_stub_counts_as_not_answered(built):
    _, _, rep, _ = built
    first = next(t for t in rep.tests if t.notebook == "b1_forward")
    assert "honest-empty" in first.failures.get(report.NOT_ANSWERED, [])


def test_flags_and_examples_reach_the_report_anonymised(built):
    _, subs, rep, path = built
    cheats = {s.student for s in subs if s.kind == "cheat"}
    assert cheats <= {student for student, _, _ in rep.flagged}
    page = path.read_text()
    assert all(html.escape(student) in page for student in cheats)   # the review list names them
    for t in rep.tests:
        for example in t.examples.values():
            assert not any(s.student in example for s in subs if len(s.student) > 3), example


def test_the_page_is_one_self_contained_file(built):
    _, _, rep, path = built
    page = path.read_text()
    assert "<script" not in page
    assert external_resources(page) == []
    assert page.count("src='data:image/png;base64,") == 2   # overview, distributions (the mistakes: a table)
    assert f"{len(rep.students)} students" in page and "Written answers awaiting manual grading" in page


def external_resources(page):
    """Every URL an HTML page loads (src=, <link href=, CSS url()) from another host."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", page)
    found += re.findall(r"""url\(\s*["']?((?:https?:)?//[^"')]+)""", page)
    loaded = [u for u in found if not re.search(r"""<a\s[^>]*href\s*=\s*["']?""" + re.escape(u), page)]
    return loaded


def test_feedback_pages_load_nothing_from_another_host_and_carry_their_math(built):
    root, _, _, _ = built
    pages = sorted((root / "feedback").glob("*/part_b/*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        assert external_resources(text) == [], page
        assert "cdnjs" not in text and "MathJax.Hub" not in text
    graded = (root / "feedback" / "honest-perfect" / "part_b" / "b1_forward.html").read_text()
    assert "<math" in graded and "$$" not in graded


def test_headings_show_their_math_as_mathml_and_their_backticks_as_code(built):
    _, _, rep, path = built
    page = path.read_text()
    headings = [t.heading for t in rep.tests if "$" in t.heading and "`" in t.heading]
    assert headings, "the sample class has a test heading with math and code"
    for heading in headings:
        assert html.escape(heading) not in page and heading not in page
        assert report_page._inline(heading) in page
    assert "<code>dout</code>" in report_page._inline(headings[0]) and "<math" in report_page._inline(headings[0])
    text = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)   # example messages may quote a $
    assert "$" not in re.sub(r"<[^>]+>", "", text)


def test_every_students_scores_link_to_the_feedback_pages_grading_wrote(built):
    root, _, rep, path = built
    page = path.read_text()
    links = [unquote(html.unescape(href)) for href in re.findall(r"<a href='(\.\./feedback/[^']+)'", page)]
    written = {p.relative_to(root).as_posix() for p in (root / "feedback").glob("*/*/*.html")
               if p.parts[-3] in rep.students}
    assert links and all((path.parent / link).resolve().is_file() for link in links)
    assert {(path.parent / link).resolve().relative_to(root.resolve()).as_posix() for link in links} == written
    for student in rep.students:   # one row each, with its autograded total
        total = sum(nb.scores.get(student, 0.0) for nb in rep.notebooks)
        assert f"<tr><th scope='row'>{html.escape(rep.name(student))}</th>" in page
        row = page.split(f"<tr><th scope='row'>{html.escape(rep.name(student))}</th>")[1].split("</tr>")[0]
        assert row.endswith(f"<td class='n'>{total:g}</td>"), (student, row)


def test_who_did_not_hand_in_is_named(built):
    _, subs, rep, path = built
    section = path.read_text().split("<h3>Who did not hand in</h3>")[1].split("<h2>")[0]
    missing = {(s, nb.name) for nb in rep.notebooks for s in nb.not_submitted}
    assert missing, "the sample class has a notebook not handed in"
    for student, notebook in missing:
        row = section.split(f"<th scope='row'>{html.escape(student)}</th>")[1].split("</tr>")[0]
        assert notebook in row or "nothing" in row


def test_the_page_says_which_course_when_and_what_the_grading_run_noted(built, graded_class):  # noqa: F811
    _, _, grades, _ = graded_class
    _, _, rep, path = built
    page = path.read_text()
    assert rep.course_id == "batchnorm-tutorial10" and "<h1>Class report: batchnorm-tutorial10</h1>" in page
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rep.graded) and f"last graded {rep.graded}" in page
    assert f"report of {rep.built}" in page
    notes = page.split("<h3>Notes of the last grading run</h3>")[1]
    assert rep.notes == list(grades.notes)
    assert all(html.escape(note) in notes for note in grades.notes) and (grades.notes or "<p>None.</p>" in notes)


def test_formgrader_links_start_where_the_configuration_says(built, tmp_path):
    _, _, rep, _ = built
    waiting = next(nb for nb in rep.notebooks if nb.manual_cells) if any(nb.manual_cells for nb in rep.notebooks) \
        else None
    default = report_page.ReportPage()
    assert default.formgrader("part_b", "b1_forward") == "http://localhost:8888/formgrader/gradebook/part_b/b1_forward"
    (tmp_path / coursedir.CONFIG_FILE).write_text(
        "c = get_config()  # noqa: F821\n"
        "c.ReportPage.formgrader_url = '/services/batchnorm-tutorial10/formgrader/'\n")
    hub = report_page.ReportPage(config=coursedir.load_config(tmp_path))
    assert hub.formgrader("part_b", "b1 forward") == "/services/batchnorm-tutorial10/formgrader/gradebook/part_b/b1%20forward"
    if waiting:   # the sample class's B1 and B2 have no written answers; the page has no link then
        page = report_page.render_html(rep, Config(ReportPage={"formgrader_url": "/services/x/formgrader"}))
        assert f"href='/services/x/formgrader/gradebook/{waiting.assignment}/{waiting.notebook}'" in page


# --------------------------------------------------------------------------- a class made up here

def _made_up_class(students, names=None, mistakes=()):
    """A ClassReport of one notebook (B1, one test worth 2 points, one written answer) over
    `students`: mistakes is [(mistake, [student])], the rest passed."""
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# B1 🟢 The forward pass\n$$\\mu = \\frac{1}{m}\\sum_i x_i$$"),
        nbformat.v4.new_markdown_cell("## Test 1: shapes, and $\\beta$ is the sum of `dout`"),
        nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": "b1-test-values"}})])
    nb = report.NotebookStats("part_b", "b1_forward", "B1 🟢 The forward pass", 2.0, 1.0)
    test = report.TestStats("part_b", "b1_forward", "b1-test-values", 2.0, "Test 1: shapes, and $\\beta$ is the sum "
                            "of `dout`", graded=len(students) - 1)
    failing = {s for _, who in mistakes for s in who}
    for student in students[:-1]:
        nb.scores[student] = 0.0 if student in failing else 2.0
    nb.not_submitted.append(students[-1])
    nb.manual_waiting, nb.manual_cells = list(students[:1]), 1
    test.passed = test.graded - len(failing)
    for mistake, who in mistakes:
        test.failures[mistake] = list(who)
        test.examples[mistake] = f"AssertionError: {who[0]} wrote <b>this</b>"
    return report.ClassReport(list(students), [nb], [test], sources={"part_b/b1_forward": source},
                              course_id="bn<101>", built="2026-12-04 06:40 UTC", names=dict(names or {}))


def test_tied_mistakes_are_said_to_be_tied_and_come_out_in_the_same_order():
    students = ["s1", "s2", "s3", "s4", "s5", "absent"]
    mistakes = [("d wrong", ["s4"]), ("b wrong", ["s2"]), ("c wrong", ["s3"]), ("a wrong", ["s1"])]
    rep = _made_up_class(students, mistakes=mistakes)
    second = report.TestStats("part_b", "b1_forward", "b1-test-cache", 3.0, graded=5, passed=4,
                              failures={"c wrong": ["s3"]})
    rep.tests.append(second)   # "c wrong" costs 2 + 3 points, the others 2
    ranked = [m for m, _, _ in rep.mistakes()]
    assert ranked == ["c wrong", "a wrong", "b wrong", "d wrong"]
    assert [m for m, _, _ in _made_up_class(students, mistakes=mistakes[::-1]).mistakes()] == [
        "a wrong", "b wrong", "c wrong", "d wrong"]   # by name when the points tie too
    lead = report_page._lead(rep)
    assert "4 mistakes are tied at 1 of 6 students" in lead and "1 more in the table below" in lead
    assert lead.index("c wrong") < lead.index("a wrong") < lead.index("b wrong") and "d wrong" not in lead


HOSTILE_ID = "<script>alert('id')</script>"
HOSTILE_NAME = "<img src=x onerror=alert(1)> Mallory</td><script>"


def test_hostile_student_ids_names_and_texts_reach_the_page_escaped():
    students = ["ada", HOSTILE_ID, "absent"]
    rep = _made_up_class(students, names={HOSTILE_ID: HOSTILE_NAME, "absent": "<b>Absent</b>"},
                         mistakes=[("the variance divides by N-1", [HOSTILE_ID])])
    rep.flagged = [(HOSTILE_ID, "part_b/b1_forward", "b1-forward, line 1: <script>flag</script>")]
    rep.notebooks[0].not_graded["ada"] = "could not be graded: <script>why</script>"
    rep.failures = {HOSTILE_ID: "Traceback\n<script>failure</script>"}
    rep.notes = [f"{HOSTILE_ID}: files not graded: <script>.py"]
    rep.feedback = {(HOSTILE_ID, "part_b/b1_forward"): f"feedback/{HOSTILE_ID}/part_b/b1_forward.html"}
    page = report_page.render_html(rep)
    assert "<script" not in page.lower() and "<img src=x" not in page and "<b>Absent</b>" not in page
    assert "<b>this</b>" not in page and "bn<101>" not in page
    assert html.escape(f"{HOSTILE_NAME} ({HOSTILE_ID})") in page   # named where the page names students
    assert page.count(html.escape(HOSTILE_ID)) >= 4   # the scores, flagged, grader failure, notes
    link = re.search(r"<a href='([^']*)' aria-label", page).group(1)
    assert "<" not in link and unquote(html.unescape(link)) == f"feedback/{HOSTILE_ID}/part_b/b1_forward.html"


def test_a_roster_gives_the_names_the_gradebook_lacks(tmp_path):
    from grader.lms import ROSTER_COLUMNS

    (tmp_path / report.ROSTER).write_text(",".join(ROSTER_COLUMNS) + "\nada,Ada,Lovelace" + "," * (len(ROSTER_COLUMNS) - 3)
                                          + "\n")

    class Student:
        def __init__(self, id, first_name=None, last_name=None):
            self.id, self.first_name, self.last_name = id, first_name, last_name

    class Gradebook:
        students = [Student("ada"), Student("bo", "Bo", "Diddley"), Student("cy")]

    assert report._names(Gradebook(), Path(tmp_path)) == {"ada": "Ada Lovelace", "bo": "Bo Diddley"}


def test_the_summary_names_the_most_common_mistake(built):
    _, _, rep, _ = built
    text = report.summary(rep)
    mistake, who, _ = rep.mistakes()[0]
    assert f"{len(who)} of {len(rep.students)}: {mistake}" in text


# --------------------------------------------------------------------------- the pieces

def test_the_checks_name_their_mistake_as_data():
    import numpy as np

    from grader.judge import verdict_record
    from grader.record import Failure

    with pytest.raises(CheckFailed) as failed:
        check_array("out", np.zeros(2), np.ones(2), mistakes={"the variance divides by N-1": np.zeros(2)})
    assert failed.value.mistake == "the variance divides by N-1"
    assert verdict_record(failed.value) == {"mistake": "the variance divides by N-1"}

    from course import symbolic

    m = symbolic.m
    with pytest.raises(CheckFailed) as failed:
        symbolic.check("x", 2 / m, 1 / m, mistakes={"you doubled it": 2 / m})
    assert failed.value.mistake == "you doubled it"
    with pytest.raises(CheckFailed) as failed:
        symbolic.check("x", 3 / m, 1 / m, mistakes={"you doubled it": 2 / m})
    assert failed.value.mistake is None and verdict_record(failed.value) is None
    assert verdict_record(AssertionError("This is what you get when you doubled it.")) is None

    def failure(kind="AssertionError", mistake=None, your_code=False):
        return Failure("t", kind, "a message that says: This is what you get when x.", mistake, your_code)

    assert report.mistake_of(failure(mistake="you doubled it")) == "you doubled it"
    assert report.mistake_of(failure("NameError"), failure("NotImplementedError", your_code=True)) == report.NOT_ANSWERED
    assert report.mistake_of(failure()) == report.NOT_RECOGNISED  # the message is never read
    assert report.mistake_of(failure("NameError"), Failure("a", "ModuleNotFoundError", "No module named 'torch'",
                                                           your_code=True)).startswith(
        "the answer cell itself fails: ModuleNotFoundError")


def test_math_becomes_mathml_outside_code_only():
    page = ("<p>The mean $\\mu_B = \\frac{1}{m}\\sum_i x_i$ and</p><p>$$\\hat{x} = x &lt; 1$$</p>"
            "<pre>price = '$5 and $6'</pre><code>$x$</code>")
    out = mathml.render_math(page)
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "<pre>price = '$5 and $6'</pre><code>$x$</code>" in out
    assert "&#x0003C;" in out or "&lt;" in out   # the escaped < of the formula stays a less-than sign


@pytest.mark.parametrize("tty", [True, False])
def test_the_progress_bar_shows_students_rate_and_time_left_on_a_terminal_only(tty):
    class Terminal(io.StringIO):
        def isatty(self):
            return tty

    out = Terminal()
    with GradingProgress(300, 300 * 16, file=out) as bar:
        for _ in range(3):
            bar.update(16)
        bar.write("FAILED to grade somebody")
    text = out.getvalue()
    if tty:
        assert "3/300 students" in text and "48/4800 notebooks" in text
        assert "left" in text and "notebook/s" in text and "FAILED to grade somebody" in text
    else:
        assert text == "" and not bar.shown


def test_course_report_rebuilds_the_page_and_points_at_it(built, capsys):
    from grader import cli

    root, _, rep, path = built
    path.unlink()
    assert cli.main(["--root", str(root), "report"]) == 0
    out = capsys.readouterr().out
    assert f"Class report: {path}" in out and f"Class report: {len(rep.students)} students" in out
    assert path.is_file()
