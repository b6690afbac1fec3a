"""Unit tests of course.symbolic: equivalence in layers, messages a student can act on, evaluation,
batch sizes drawn from the grader's key, and no text ever parsed."""
import ast
import contextlib
import inspect
import os
import sys
import time
from fractions import Fraction

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
    uses_m = m in (sp.sympify(answer).free_symbols | sp.sympify(expected).free_symbols)
    assert ("It differs when m = 2" if uses_m else "It differs when i = ") in text


def test_a_formula_without_a_batch_names_no_batch():
    # A5's weights depend on the momentum and a step count only: no batch size, no batch
    rho, k = symbolic.momentum, symbolic.k
    text = message(rho**k, (1 - rho) * rho**k)
    assert "m = " not in text and "batch" not in text, text
    assert "It differs: at random values of" in text, text


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


# ---------------------------------------------------------------------------------------------
# Nothing is parsed: numbers through SymPy's constructors, strings refused (sympify runs eval).

class SympifyCalled(BaseException):
    """Not an Exception: no `except Exception` in the code under test can swallow it."""


@pytest.fixture
def no_sympify(monkeypatch):
    """SymPy's sympify (and S(...)) refuses text, and refuses to be called by course.symbolic at all.
    Yields the list of refused calls (also raised), in this process only (not in nbrun's kernel)."""
    module, pid, refused = sys.modules["sympy.core.sympify"], os.getpid(), []
    real = module.sympify

    def guarded(a, *args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename
        if os.getpid() == pid and (isinstance(a, str) or caller == symbolic.__file__):
            refused.append((a, caller))
            raise SympifyCalled(f"sympify({a!r}) called from {caller}")
        return real(a, *args, **kwargs)

    for owner in (sp, sp.core, module):
        monkeypatch.setattr(owner, "sympify", guarded)
    monkeypatch.setattr(type(sp.S), "__call__", staticmethod(guarded))
    yield refused
    assert not refused, refused


def test_the_guard_catches_sympify_called_by_the_module_or_fed_text(no_sympify):
    as_if_in_the_module = compile("import sympy\nsympy.sympify(1)\n", symbolic.__file__, "exec")
    with pytest.raises(SympifyCalled):
        exec(as_if_in_the_module, {})
    with pytest.raises(SympifyCalled):
        sp.S("1 + 1")
    assert len(no_sympify) == 2
    no_sympify.clear()
    assert sp.Integer(1) + 1 == 2   # SymPy's own arithmetic still sympifies its operands


def test_the_module_has_no_way_to_parse_text():
    tree = ast.parse(inspect.getsource(symbolic))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"sympify", "parse_expr", "S", "eval", "exec", "literal_eval"}


def test_numbers_become_sympy_numbers_through_constructors(no_sympify):
    for number, expected in ((2, sp.Integer(2)), (np.int64(-3), sp.Integer(-3)), (Fraction(1, 3), Rational(1, 3)),
                             (0.25, sp.Float(0.25)), (np.float32(0.5), sp.Float(0.5))):
        assert symbolic._number(number) == expected and isinstance(symbolic._number(number), sp.Number)
    for other in (True, np.bool_(False), 1j, "1", None, [1]):
        assert symbolic._number(other) is None
    check("answer", np.float64(0.0), sp.Integer(0), constants=True)
    check("answer", Fraction(1, 2) * m / m, Rational(1, 2), constants=True)
    check("answer", MEAN, MEAN, mistakes={"a number": 0})
    assert evaluate(3, m=2, x=[1, 3]) == 3.0
    assert equivalent(Fraction(1, 2), Rational(1, 2))[0]
    check_value("answer", 0, 0.0, constants=True, m=2, x=[1, 3])


@pytest.mark.parametrize("call", [
    lambda: check("mu_B", MEAN, "Sum(x[j], (j, 1, m)) / m"),
    lambda: check("mu_B", MEAN, MEAN, mistakes={"not divided by m": "Sum(x[j], (j, 1, m))"}),
    lambda: check("mu_B", "__import__('os')", "Sum(x[j], (j, 1, m)) / m"),   # the test cell's fault comes first
    lambda: evaluate("Sum(x[j], (j, 1, m)) / m", m=2, x=[1, 3]),
    lambda: equivalent("Sum(x[j], (j, 1, m)) / m", MEAN),
    lambda: equivalent(MEAN, "Sum(x[j], (j, 1, m)) / m"),
    lambda: check_value("mu_B", MEAN, "2.0", m=2, x=[1, 3]),
    lambda: check("mu_B", MEAN, [MEAN]),
], ids=["expected", "mistake", "expected-before-answer", "evaluate", "equivalent-a", "equivalent-b", "check_value",
        "not-an-expression"])
def test_the_instructors_strings_are_refused_with_a_type_error(call, no_sympify):
    with pytest.raises(TypeError, match="string|not a SymPy expression"):
        call()


def test_a_students_string_is_a_format_message_not_an_error(no_sympify):
    with pytest.raises(CheckFailed, match="is a string"):
        check("mu_B", "Sum(x[j], (j, 1, m)) / m", MEAN)


# ---------------------------------------------------------------------------------------------
# Batch sizes the student cannot predict: drawn from the grader's key.

@contextlib.contextmanager
def sizes_key(key):
    """Compare with this sizes key, then put back the key that was set before (if any)."""
    before = symbolic._sizes_key
    symbolic.set_sizes_key(key)
    try:
        yield symbolic.batch_sizes()
    finally:
        symbolic.set_sizes_key(before)


def sizes_for(key):
    with sizes_key(key) as sizes:
        return sizes


def key_reaching(size):
    """The first key ("test key 0", "test key 1", ...) whose drawn sizes include one >= size."""
    return next(key for key in (f"test key {n}".encode() for n in range(10_000)) if max(sizes_for(key)) >= size)


LARGE_KEY = key_reaching(90_000)


@pytest.fixture
def keyed():
    """Compare as the grader does, with a sizes key: one whose sizes reach m >= 90000."""
    with sizes_key(LARGE_KEY) as sizes:
        yield sizes


def test_without_a_key_the_sizes_are_2_3_5_and_every_i():
    with sizes_key(None):
        assert symbolic.batch_sizes() == symbolic.BATCH_SIZES == (2, 3, 5)
        assert symbolic._cases(x[i]) == [(mv, iv) for mv in (2, 3, 5) for iv in range(1, mv + 1)]
        assert symbolic._cases(MEAN) == [(2, None), (3, None), (5, None)]


def test_a_key_draws_its_sizes_the_same_every_time():
    sizes = sizes_for(b"notebook a1, term 2")
    assert sizes == sizes_for(b"notebook a1, term 2")
    assert sizes[:2] == (2, 3) and len(sizes) >= 5 and len(set(sizes)) == len(sizes) and list(sizes) == sorted(sizes)
    assert all(4 <= s <= 100_000 for s in sizes[2:])
    assert max(sizes) >= 4096   # at least one large batch, whatever the key
    drawn = {sizes_for(f"key {n}".encode())[2:] for n in range(20)}
    assert len(drawn) == 20   # different keys, different sizes
    assert sizes_for(None) == (2, 3, 5)


def test_large_batches_compare_the_first_the_last_and_a_few_drawn_i(keyed):
    large = max(keyed)
    indices = symbolic._sample_indices(large)
    assert indices[0] == 1 and indices[-1] == large and 3 <= len(indices) <= 10
    assert indices == symbolic._sample_indices(large) and all(1 <= t <= large for t in indices)
    assert symbolic._sample_indices(3) == [1, 2, 3]


def test_set_sizes_key_takes_bytes_or_none():
    before = symbolic.batch_sizes()
    for bad in ("a string", 42, bytearray(b"k")):
        with pytest.raises(TypeError):
            symbolic.set_sizes_key(bad)
    with pytest.raises(ValueError):
        symbolic.set_sizes_key(b"")
    assert symbolic.batch_sizes() == before   # a refused key changes nothing


VANISH_AT_2_3_5 = MEAN + (m - 2) * (m - 3) * (m - 5) * gamma
VANISH_UP_TO_50 = MEAN + sp.Mul(*[m - t for t in range(2, 51)]) * gamma


def test_without_a_key_an_answer_tuned_to_the_sizes_passes():
    # why the grader sets a key: m = 2, 3, 5 are known, and this wrong mean is right at all three
    with sizes_key(None):
        check("mu_B", VANISH_AT_2_3_5, mu_B)


@pytest.mark.parametrize("answer", [VANISH_AT_2_3_5, VANISH_UP_TO_50], ids=["(m-2)(m-3)(m-5)", "prod m-2..m-50"])
def test_with_a_key_an_answer_tuned_to_the_sizes_fails(answer, keyed):
    text = message(answer, mu_B)
    said = next(line for line in text.splitlines() if "It differs when m = " in line)
    at = int(said.split("It differs when m = ")[1].split(":")[0].split(",")[0])
    assert at in keyed and at > 3, said   # the message names a size of this key's
    if answer is VANISH_AT_2_3_5:
        assert "it agrees when m = 2, 3" in said


@pytest.mark.parametrize("key", [b"test key a", b"test key b", b"test key c"])
def test_with_other_keys_too(key):
    with sizes_key(key):
        with pytest.raises(CheckFailed):
            check("mu_B", VANISH_AT_2_3_5, mu_B)
        check("mu_B", Sum(x[i] / m, (i, 1, m)), mu_B)


EQUAL_FORMS = [
    (MEAN, Sum(x[i] / m, (i, 1, m))),
    (VAR, Sum(x[j]**2, (j, 1, m)) / m - MEAN**2),
    (VAR, Sum(Sum((x[j] - x[k])**2, (k, 1, m)), (j, 1, m)) / (2 * m**2)),   # a sum inside a sum over its index
    (MEAN, Sum(x[m + 1 - j], (j, 1, m)) / m),                               # the batch read backwards
    (MEAN, Sum(x[j + 1], (j, 0, m - 1)) / m),
    (MEAN, MEAN + Sum(1, (j, 1, m)) - m),                                   # exact integers: m - m is 0
    (XHAT, x_hat[i]),
    (gamma * XHAT + beta, beta + gamma * (x[i] - mu_B) / sqrt(sigma2_B + eps)),
    (-gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m)),
     -0.5 * gamma * (sigma2_B + eps)**-1.0 * Sum(dy[j] * x_hat[j], (j, 1, m))),
    (momentum * running_mean + (1 - momentum) * mu_B, running_mean + (1 - momentum) * (mu_B - running_mean)),
    ((1 - momentum) * momentum**k, momentum**k - momentum**(k + 1)),
]


@pytest.mark.parametrize("a, b", EQUAL_FORMS)
def test_with_a_key_equal_forms_are_still_equal(a, b, keyed, no_sympify):
    equal, how = equivalent(a, b)
    assert equal, how
    check("answer", b, a)


@pytest.mark.parametrize("answer, expected, says", [
    (Sum((x[j] - MEAN)**2, (j, 1, m)) / (m - 1), VAR, "a factor m/(m - 1)"),
    ((x[i] - MEAN) / sqrt(VAR), XHAT, "does not depend on eps but should"),
    (gamma * XHAT, gamma * XHAT + beta, "missing a term beta"),
    (MEAN + beta, MEAN, "depends on beta but should not"),
    (Sum(x[j], (j, 0, m - 1)) / m, MEAN, "run from 1 to m"),
    ((m - 1) * MEAN, MEAN, "agrees when m = 2"),
])
def test_with_a_key_wrong_answers_still_say_what_is_off(answer, expected, says, keyed, no_sympify):
    assert says in message(answer, expected)


def test_check_example_promises_no_sizes(capsys, keyed):
    check_example("mu_B", MEAN, 3.0, m=3, x=[1, 2, 6])
    said = capsys.readouterr().out
    assert "Not checked here" in said and "several sizes m" in said
    assert not any(f"m = {s}" in said for s in keyed if s != 3)


def test_a4_sized_checks_at_m_near_100000(keyed):
    """Nested sums (the mean inside the variance inside x_hat inside a sum) at m >= 90000: each sum
    is written out once per batch size, not once per term of the sum around it."""
    assert max(keyed) >= 90_000
    dsigma2 = -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
    dmu = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
    dx = gamma * dy[i] / sqrt(sigma2_B + eps) + dsigma2 * 2 * (x[i] - mu_B) / m + dmu / m
    tidy = gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[i] - Sum(dy[j], (j, 1, m))
                                                 - x_hat[i] * Sum(dy[j] * x_hat[j], (j, 1, m)))
    check("dL_dx_i", tidy, dx)
    with pytest.raises(CheckFailed, match="variance term is missing"):
        check("dL_dx_i", gamma * dy[i] / sqrt(sigma2_B + eps) + dmu / m, dx,
              mistakes={"the variance term is missing": gamma * dy[i] / sqrt(sigma2_B + eps) + dmu / m})
    bias = Sum(gamma / (m * sqrt(sigma2_B + eps)) * (m * dy[j] - Sum(dy[i], (i, 1, m))
                                                     - x_hat[j] * Sum(dy[i] * x_hat[i], (i, 1, m))), (j, 1, m))
    check("dL_dbias", bias, sp.Integer(0), constants=True)   # 0 up to rounding that grows with m
    with pytest.raises(CheckFailed):
        check("dL_dbias", Sum(dy[j], (j, 1, m)), sp.Integer(0), constants=True)


def test_sums_written_out_agree_with_numpy():
    batch = np.array([1.0, 2.0, 6.0, -1.5, 0.25])
    assert evaluate(Sum(Sum((x[j] - x[k])**2, (k, 1, m)), (j, 1, m)) / (2 * m**2), m=5, x=batch) == pytest.approx(batch.var())
    assert evaluate(Sum(Sum(x[k], (k, 1, j)), (j, 1, m)), m=5, x=batch) == pytest.approx(np.cumsum(batch).sum())
    assert evaluate(Sum(j * x[m + 1 - j], (j, 1, m)), m=5, x=batch) == pytest.approx(np.dot(np.arange(1, 6), batch[::-1]))
    assert evaluate(Sum(j**4, (j, 1, m)), m=100_000) == float(sum(t**4 for t in range(1, 100_001)))
    np.testing.assert_allclose(evaluate(x[i] - MEAN, m=5, x=batch), batch - batch.mean())
    with pytest.raises(ValueError, match="too long"):
        evaluate(Sum(x[j], (j, 1, 10**9)), m=2, x=[1, 2])


# Every answer of the course's catalogue (answers/part_a), graded as the grader grades it, with a
# sizes key set in this process (the judge's) and sympify refused: the same verdicts as without.
import suites  # noqa: E402  (tests/ helpers, on the path through conftest.py)


@pytest.mark.parametrize("notebook, answer", suites.wrong_cases("part_a"))
def test_with_a_key_every_wrong_answer_of_part_a_still_loses_points(notebook, answer, keyed, no_sympify):
    suites.check_wrong(notebook, answer)


@pytest.mark.parametrize("notebook, answer", suites.right_cases("part_a"))
def test_with_a_key_every_right_answer_of_part_a_keeps_full_marks(notebook, answer, keyed, no_sympify):
    suites.check_right(notebook, answer)


@pytest.mark.parametrize("tree, says", [
    (["Pow", ["Integer", 10], ["Integer", 10**9]], "power of numbers"),
    (["Pow", ["Integer", 999999], ["Integer", 999999]], "power of numbers"),
    (["Mul", ["Integer", 10**3999], ["Symbol", "gamma", {}]], "more than 1000 digits"),
    (["Add"] + [["Symbol", f"s{n}", {}] for n in range(symbolic.MAX_ANSWER_NODES + 1)], "nodes"),
])
def test_an_answer_too_large_to_compare_fails_at_once(tree, says):
    """An answer the kernel sent (decoded by course.symtree) that would take minutes to compare
    fails its own check at once, saying so."""
    from course import symtree

    answer = symtree.decode(tree)
    started = time.perf_counter()
    with pytest.raises(CheckFailed, match=f"{says}.*too large to check"):
        check("dL_dbeta", answer, symbols()["gamma"])
    assert time.perf_counter() - started < 2


def test_a_long_string_answer_is_quoted_short():
    with pytest.raises(CheckFailed) as failed:
        check("mu_B", "__import__('os')" * 100_000, symbols()["gamma"])
    assert len(str(failed.value)) < 1000 and "1600000 characters" in str(failed.value)


def test_an_answer_that_is_zero_is_called_zero_not_a_factor():
    # sum_j (x_j - mu_B) is 0 for every batch: "-0 times the expected value" said nothing
    text = message(gamma * Sum(x[j] - mu_B, (j, 1, m)), gamma * Sum(dy[j], (j, 1, m)))
    assert "is 0 at every point compared" in text and "times the expected value" not in text, text


def test_against_a_number_the_message_does_not_say_the_answer_is_a_constant():
    # A4's bias gradient is 0: listing every symbol it "should not" depend on gives that away
    text = message(gamma * Sum(dy[j], (j, 1, m)), sp.Integer(0), constants=True)
    assert "but should not" not in text, text
    assert "It differs" in text
