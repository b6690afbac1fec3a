"""Unit tests of course.symbolic: equivalence in layers, messages a student can act on, evaluation."""
import time

import numpy as np
import pytest
import sympy as sp
from sympy import Rational, Sum, sqrt

from course import symbolic
from course.symbolic import check, check_example, check_form, check_value, equivalent, evaluate, symbols
from course.testing import CheckFailed

x, dy, i, j, k, m = symbols("x dy i j k m")
gamma, beta, eps = symbols("gamma beta eps")
mu_B, sigma2_B, x_hat = symbols("mu_B sigma2_B x_hat")
momentum, running_mean = symbols("momentum running_mean")

MEAN = Sum(x[j], (j, 1, m)) / m
VAR = Sum((x[j] - MEAN)**2, (j, 1, m)) / m
XHAT = (x[i] - MEAN) / sqrt(VAR + eps)


def message(answer, expected, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check("answer", answer, expected, **kwargs)
    return str(info.value)


def test_symbols_by_name():
    assert symbols("m") is m
    assert symbols("gamma beta") == (gamma, beta)
    assert set(symbols()) >= {"x", "dy", "i", "j", "m", "gamma", "beta", "eps", "momentum", "running_mean",
                              "running_var", "mu_B", "sigma2_B", "x_hat"}
    with pytest.raises(KeyError):
        symbols("mu")


@pytest.mark.parametrize("a, b", [
    (MEAN, Sum(x[i] / m, (i, 1, m))),                                   # other dummy index, 1/m inside
    (VAR, Sum(x[j]**2, (j, 1, m)) / m - MEAN**2),                        # rearranged
    (XHAT, x_hat[i]),                                                    # shorthand
    (gamma * XHAT + beta, beta + gamma * (x[i] - mu_B) / sqrt(sigma2_B + eps)),
    (-gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m)),
     -0.5 * gamma * (sigma2_B + eps)**-1.0 * Sum(dy[j] * x_hat[j], (j, 1, m))),  # floats, x_hat inside a sum
    (momentum * running_mean + (1 - momentum) * mu_B, running_mean + (1 - momentum) * (mu_B - running_mean)),
])
def test_equal_forms_are_equal(a, b):
    equal, how = equivalent(a, b)
    assert equal, how
    check("answer", b, a)


def test_layers_structure_then_simplify_then_numbers():
    assert equivalent(MEAN, MEAN) == (True, "structure")
    assert equivalent((1 - momentum) * running_mean, running_mean - momentum * running_mean) == (True, "simplify")
    assert equivalent(VAR, Sum(x[j]**2, (j, 1, m)) / m - MEAN**2) == (True, "numbers")


def test_cannot_tell_is_never_right(monkeypatch):
    # SymPy that cannot decide: simplify leaves the difference alone and equals() answers None
    monkeypatch.setattr(symbolic.sp, "simplify", lambda e: e)
    monkeypatch.setattr(sp.Expr, "equals", lambda self, other: None)
    assert symbolic._symbolic_zero(gamma - beta) is None
    assert symbolic._symbolic_zero(sp.sin(gamma)**2 + sp.cos(gamma)**2 - 1) is None
    assert equivalent(gamma * (1 - beta), gamma - gamma * beta) == (True, "numbers")  # the numbers decide
    with pytest.raises(CheckFailed, match="a factor 2"):
        check("answer", 2 * gamma * (1 - beta), gamma - gamma * beta)


@pytest.mark.parametrize("answer, expected, says", [
    (Sum((x[j] - MEAN)**2, (j, 1, m)) / (m - 1), VAR, "a factor m/(m - 1)"),
    ((x[i] - MEAN) / sqrt(VAR), XHAT, "does not depend on eps but should"),
    (gamma * XHAT, gamma * XHAT + beta, "missing a term beta"),
    (dy[i], gamma * dy[i], "a factor 1/gamma"),
    (-gamma / 2 * (sigma2_B + eps)**Rational(-1, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m)),
     -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m)), "(sigma2_B + eps)"),
    (Sum(dy[j], (j, 1, m)), Sum(dy[j] * x_hat[j], (j, 1, m)), "does not depend on x but should"),
    (gamma * Sum(dy[j], (j, 1, m)), gamma * dy[i], "does not depend on i (the sample index) but should"),
    (MEAN + beta, MEAN, "depends on beta but should not"),
    (Sum(x[j], (j, 0, m - 1)) / m, MEAN, "run from 1 to m"),
])
def test_wrong_answers_say_what_is_off(answer, expected, says):
    text = message(answer, expected)
    assert says in text
    assert "Your answer (LaTeX):" in text and sp.latex(answer) in text
    assert "It differs when m = 2" in text


def test_says_where_it_differs_and_where_it_agrees():
    # equal for m = 2 only: (m - 1) * MEAN vs MEAN
    text = message((m - 1) * MEAN, MEAN)
    assert "It differs when m = 3" in text and "agrees when m = 2" in text


def test_known_mistake_is_named():
    text = message((x[i] - MEAN) / (sqrt(VAR) + eps), XHAT,
                   mistakes={"eps sits outside the square root": (x[i] - mu_B) / (sqrt(sigma2_B) + eps)})
    assert "This is what you get when eps sits outside the square root." in text


@pytest.mark.parametrize("answer, says", [
    ("Sum(x[j], (j, 1, m)) / m", "is a string"),
    (0.5, "plain number"),
    (2, "plain number"),
    (None, "is None"),
    (True, "not a SymPy expression"),
    ((MEAN, VAR), "is a tuple"),
    (sp.Symbol("mu") / m, "does not define: mu"),
    (sp.Derivative(MEAN, x[i]), "unevaluated Derivative"),
    (sp.Function("f")(x[i]), "function the course does not define"),
    (sp.Eq(sp.Symbol("y"), MEAN), "right-hand side"),
    (x[j] / m, "j outside a sum"),
    (sp.IndexedBase("z")[i], "does not define: z"),
    (1 / (m - m), "infinite or undefined"),
])
def test_malformed_answers_get_a_format_message(answer, says):
    for checker in (lambda a: check("answer", a, MEAN), lambda a: check_form("answer", a)):
        with pytest.raises(CheckFailed) as info:
            checker(answer)
        assert says in str(info.value)
        assert "Traceback" not in str(info.value)


def test_shorthands_can_be_forbidden():
    check_form("answer", mu_B)
    with pytest.raises(CheckFailed, match="does not define: mu_B"):
        check_form("answer", mu_B, shorthands=False)


def test_hand_made_symbols_are_the_course_symbols():
    g, e, xb = sp.Symbol("gamma"), sp.Symbol("eps"), sp.IndexedBase("x")
    check("answer", g * (xb[i] - MEAN) / sqrt(VAR + e), gamma * XHAT)


def test_evaluate_a_concrete_batch():
    assert evaluate(MEAN, m=3, x=[1, 2, 6]) == pytest.approx(3.0)
    assert evaluate(VAR, m=3, x=[1, 2, 6]) == pytest.approx(14 / 3)
    np.testing.assert_allclose(evaluate(gamma * x_hat[i] + beta, m=2, x=[1, 3], gamma=2, beta=0.5, eps=0.0), [-1.5, 2.5])
    assert evaluate(gamma * x_hat[i] + beta, m=2, x=[1, 3], gamma=2, beta=0.5, eps=0.0, i=2) == pytest.approx(2.5)
    assert evaluate((1 - momentum) * momentum**k, momentum=0.9, k=2) == pytest.approx(0.1 * 0.81)
    with pytest.raises(ValueError, match="no value given for gamma"):
        evaluate(gamma * x[i], m=2, x=[1, 2])
    with pytest.raises(ValueError, match="outside the batch"):
        evaluate(x[j].subs(j, 3), m=2, x=[1, 2])


def test_check_value_explains_a_factor():
    check_value("answer", VAR, 14 / 3, m=3, x=[1, 2, 6])
    with pytest.raises(CheckFailed, match=r"times m/\(m - 1\)"):
        check_value("answer", VAR * m / (m - 1), 14 / 3, m=3, x=[1, 2, 6])


def test_a_backward_pass_sized_check_is_fast():
    dsigma2 = -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
    dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
    dx = gamma * dy[i] / sqrt(sigma2_B + eps) + dsigma2 * 2 * (x[i] - mu_B) / m + dmu / m
    tidy = gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[i] - Sum(dy[j], (j, 1, m))
                                                 - x_hat[i] * Sum(dy[j] * x_hat[j], (j, 1, m)))
    start = time.perf_counter()
    check("dL_dx_i", tidy, dx)
    with pytest.raises(CheckFailed):
        check("dL_dx_i", gamma * dy[i] / sqrt(sigma2_B + eps) + dmu / m, dx)
    assert time.perf_counter() - start < 2.0


def test_check_failed_is_the_course_wide_exception():
    assert symbolic.CheckFailed is CheckFailed and issubclass(CheckFailed, AssertionError)


def test_check_example_checks_the_value_and_says_what_it_did_not_check(capsys):
    check_example("mu_B", MEAN, 3.0, m=3, x=[1, 2, 6])
    said = capsys.readouterr().out
    assert "Checked here: mu_B" in said and "m = 3, x = [1, 2, 6]" in said and "Not checked here" in said
    with pytest.raises(CheckFailed, match=r"times m/\(m - 1\)"):
        check_example("mu_B", MEAN * m / (m - 1), 3.0, m=3, x=[1, 2, 6])
    assert "Checked here" not in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="is a string"):
        check_example("mu_B", "3", 3.0, m=3, x=[1, 2, 6])


def test_a_constant_answer_only_where_allowed():
    zero = Sum(dy[j], (j, 1, m)) - Sum(dy[i], (i, 1, m))
    for answer in (0, 0.0, sp.S.Zero, np.float64(0.0), zero):
        check("answer", answer, sp.Integer(0), constants=True)
        check_form("answer", answer, constants=True)
    check_value("answer", 0, 0.0, constants=True, m=2, x=[1, 3])
    with pytest.raises(CheckFailed, match="plain number"):
        check("answer", 0, sp.Integer(0))
    with pytest.raises(CheckFailed, match="This is what you get when no batch norm"):
        check("answer", Sum(dy[j], (j, 1, m)), sp.Integer(0), constants=True,
              mistakes={"no batch norm": Sum(dy[j], (j, 1, m))})
    for answer in ("0", None, True):
        with pytest.raises(CheckFailed):
            check("answer", answer, sp.Integer(0), constants=True)


def test_rho_is_the_momentum():
    rho = sp.Symbol("rho")
    check("answer", rho * running_mean + (1 - rho) * mu_B, momentum * running_mean + (1 - momentum) * mu_B)
