"""The wrong- and right-answer suites of answers/, as pytest parameters and checks."""
import pytest

import answers
import nbrun


def _cases(part, kind):
    params = []
    for notebook in answers.notebooks():
        if notebook.startswith(part + "/"):
            for answer in getattr(answers.load(notebook), kind):
                params.append(pytest.param(notebook, answer, id=f"{notebook}: {answer.name}"))
    return params


def wrong_cases(part):
    return _cases(part, "WRONG")


def right_cases(part):
    return _cases(part, "RIGHT")


def grade(notebook, answer):
    return nbrun.run(nbrun.with_answers(nbrun.load(notebook), answer.cells))


def check_wrong(notebook, answer):
    """The answer loses points, and some failing test's message contains answer.says. Where the
    answers module sets ONE_TEST_PER_MISTAKE (tasks built on each other), a mistake in one task
    costs that task's test only, not the tests of the tasks built on it."""
    result = grade(notebook, answer)
    assert result.score < result.max_score, (
        f"'{answer.name}' kept full marks ({result.score}/{result.max_score}): no test catches it")
    if getattr(answers.load(notebook), "ONE_TEST_PER_MISTAKE", False):
        lost = [c.grade_id for c in result.cells if c.score < c.max_points]
        assert len(lost) == 1, f"'{answer.name}' loses points in {lost}, not in one test only"
    if answer.says:
        assert answer.says.lower() in result.messages().lower(), (
            f"'{answer.name}' lost points but no message says '{answer.says}':\n{result.messages()}")


def check_right(notebook, answer):
    """The answer keeps full marks."""
    result = grade(notebook, answer)
    assert result.score == result.max_score, (
        f"'{answer.name}' scored {result.score}/{result.max_score}:\n{result.messages()}")
