"""The class report, checked against the gradebook of the graded sample class.

The sample class (tests/sample_class.py: honest, wrong, faulty and cheating students on B1 and
B2) is graded once per session (tests/class_fixture.py); the report is built from its gradebook
and autograded notebooks, and every count is checked against the gradebook or the class's own
description: scores, pass counts, who made which named mistake, what was not graded and why.
"""
import html
import io
import re

import pytest

import sample_class
from class_fixture import graded_class  # noqa: F401 (a fixture)
from grader import coursedir, mathml, report
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
    assert page.count("src='data:image/png;base64,") == 3   # mistakes, overview, distributions
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
