"""The wrong- and right-answer suites of answers/, as pytest parameters and checks."""
import pytest

import answers
import nbrun


def _cases(part, kind):
    params = []
    for notebook in answers.notebooks():
        if notebook.startswith(part + "/"):
            for answer in getattr(answers.load(notebook), kind, []):
                params.append(pytest.param(notebook, answer, id=f"{notebook}: {answer.name}"))
    return params


def wrong_cases(part):
    return _cases(part, "WRONG")


def right_cases(part):
    return _cases(part, "RIGHT")


def elsewhere_cases(part):
    """Mistakes graded in another notebook, pasted into this one: they must cost nothing here."""
    return _cases(part, "ELSEWHERE")


def grade(notebook, answer):
    return nbrun.run(nbrun.with_answers(nbrun.load(notebook), answer.cells))


MATRIX = []  # (notebook, answer name, tests lost, tests lost outside the answer's task, held to it?)


def check_wrong(notebook, answer):
    """The answer loses points, and some failing test's message contains answer.says. Where the
    answers module sets ONE_TASK_PER_MISTAKE, the tests it loses are all of its own task
    (answer.loses, or the tests of the cells it changes); where it sets ONE_TEST_PER_MISTAKE,
    it loses one test only. Every answer's row goes into MATRIX (printed at the end of the run)."""
    result = grade(notebook, answer)
    module = answers.load(notebook)
    lost = [c.grade_id for c in result.cells if c.score < c.max_points]
    allowed = list(answer.loses) or own_tests(notebook, answer)
    cross = [test for test in lost if test not in allowed]
    held = getattr(module, "ONE_TASK_PER_MISTAKE", False)
    MATRIX.append((notebook, answer.name, lost, cross, held))
    assert result.score < result.max_score, (
        f"'{answer.name}' kept full marks ({result.score}/{result.max_score}): no test catches it")
    if held:
        assert not cross, (f"'{answer.name}' (a mistake in {sorted(answer.cells)}) also costs {cross}, "
                           f"tests of another task; its own: {allowed}:\n{result.messages()}")
    if getattr(module, "ONE_TEST_PER_MISTAKE", False):
        assert len(lost) == 1, f"'{answer.name}' loses points in {lost}, not in one test only"
    if answer.says:
        assert answer.says.lower() in result.messages().lower(), (
            f"'{answer.name}' lost points but no message says '{answer.says}':\n{result.messages()}")


def matrix_summary():
    """Lines that sum MATRIX up: wrong answers x tests, and the cross-task losses."""
    if not MATRIX:
        return []
    tests = {(row[0], test) for row in MATRIX for test in row[2]}
    crossing = [row for row in MATRIX if row[3]]
    lines = [f"one mistake, one task: {len(MATRIX)} wrong answers x {len(tests)} tests they cost; "
             f"cross-task losses: {sum(len(row[3]) for row in crossing)} "
             f"(in notebooks held to it: {sum(len(row[3]) for row in crossing if row[4])})"]
    for notebook, name, _, cross, held in crossing:
        lines.append(f"  {'HELD ' if held else ''}{notebook}: '{name}' also costs {', '.join(cross)}")
    return lines


def check_right(notebook, answer):
    """The answer keeps full marks."""
    result = grade(notebook, answer)
    assert result.score == result.max_score, (
        f"'{answer.name}' scored {result.score}/{result.max_score}:\n{result.messages()}")


def task_tests(notebook):
    """{answer cell: [test cell ids of its task]}: a run of answer cells is one task, graded by
    the test cells after it, up to the next answer cell (the notebooks' layout: the task's
    cells, then its tests)."""
    tasks, group, tests = {}, [], []
    for cell in nbrun.load(notebook).cells:
        m = nbrun.meta(cell)
        if cell.cell_type != "code":
            continue
        if m.get("solution"):
            if tests:
                group, tests = [], []
            group.append(m["grade_id"])
            tasks[m["grade_id"]] = tests
        elif m.get("grade"):
            tests.append(m["grade_id"])
    return tasks


def own_tests(notebook, answer):
    """The test cells a wrong answer may cost points in: those of the tasks whose cells it changes."""
    tasks = task_tests(notebook)
    return sorted({test for cell in answer.cells for test in tasks.get(cell, [])})
