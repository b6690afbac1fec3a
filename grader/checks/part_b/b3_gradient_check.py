"""Hidden checks of B3 (gradient check): centered_difference_gradient, relative_error and the
checker check_batchnorm_gradient.

The checker is graded alone: the test hands it the reference batch norm, right and wrong backward
passes (the known mistakes, each the reference backward with one thing changed), and the reference
numerical gradient (course.gradcheck's, run in the kernel) and relative error as its `gradient`
and `error`; the others are functions of the grader's that the kernel calls back, so a mistake in Task 1 or Task 2, or in the batch norm
pasted at the top of the notebook, costs nothing here (Test 2, the report on the student's own
batch norm, is the one test that runs those).
"""
import numpy as np

from course.gradcheck import gradient_of, rel_error
from course.testing import CheckFailed, check_array, check_scalar
from grader.checks import reference
from grader.judge import pure

STEP = 1e-3  # test_centered's step: large enough for forward differences to differ visibly
OK, WRONG = 1e-7, 1e-2  # the checker's verdicts: at most OK for a right gradient, above WRONG for a wrong one
GRADIENTS = ("dx", "dgamma", "dbeta")


# -- Task 1 ---------------------------------------------------------------------------------------

def _forward_difference(f, x, dout, h):
    """The one-sided difference of sum(f(x) * dout): the mistake test_centered names."""
    x = np.array(x, dtype=np.float64)
    grad, f0 = np.zeros_like(x), np.array(f(x), dtype=np.float64)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        grad[k] = np.sum((np.array(f(x), dtype=np.float64) - f0) * dout) / h
        x[k] = old
    return grad


def test_centered(centered_difference_gradient):
    """The gradient of three functions of 1-D, 2-D and 3-D inputs with a random dout, against the
    reference centered differences (x and dout left unchanged), and the default step."""
    rng = np.random.default_rng(303)
    W = rng.normal(size=(4, 5))
    V = rng.normal(size=(2, 4, 3))
    cases = [
        ("f(x) = tanh(x @ W), x of shape (3, 4)", lambda a: np.tanh(a @ W), rng.normal(size=(3, 4)), (3, 5)),
        ("f(x) = exp(x) * x.sum(), x of shape (6,)", lambda a: np.exp(a) * a.sum(), rng.normal(size=6), (6,)),
        ("f(x) = sin(x) * V, x of shape (2, 4, 3)", lambda a: np.sin(a) * V, rng.normal(size=(2, 4, 3)), (2, 4, 3)),
    ]
    for desc, f, x, out_shape in cases:
        dout = rng.normal(size=out_shape)
        x_before, dout_before = x.copy(), dout.copy()
        grad = centered_difference_gradient(f, x, dout, h=STEP)
        check_array(f"the numerical gradient of sum(f(x) * dout) for {desc}", grad,
                    reference.numerical_gradient(f, x_before, dout_before, STEP), rtol=1e-7, atol=1e-9,
                    mistakes={"you use forward differences; use centered ones":
                                  _forward_difference(f, x_before, dout_before, STEP),
                              "you ignore dout (the outputs must be weighted by dout)":
                                  reference.numerical_gradient(f, x_before, np.ones(out_shape), STEP)},
                    hint="It must work for x of any shape: loop over np.ndindex(x.shape), and weight by dout.")
        check_array(f"x after centered_difference_gradient returned ({desc})", x, x_before, rtol=1e-12, atol=0,
                    hint="Restore every perturbed entry: old = x[k]; ...; x[k] = old.")
        check_array(f"dout after centered_difference_gradient returned ({desc})", dout, dout_before, rtol=0, atol=0,
                    hint="Do not modify dout.")
    x = rng.normal(size=(3, 4))
    f = lambda a: np.tanh(a @ W)  # noqa: E731
    grad = centered_difference_gradient(f, x.copy(), np.ones((3, 5)))
    check_array("the numerical gradient with the default h", grad, reference.numerical_gradient(f, x, np.ones((3, 5))),
                rtol=1e-5, atol=1e-8, hint="The default step is h=1e-5.")


# -- Task 2 ---------------------------------------------------------------------------------------

def test_relerr(relative_error):
    """relative_error on 2-D arrays both ways round, all zeros, entries below the floor, a max that is
    not the mean, and lists; a and b left unchanged."""
    a = np.array([[1.0, 10.0, -100.0], [0.0, 0.0, 5.0]])
    b = np.array([[1.0, 10.5, -100.0], [0.0, 0.0, 5.0]])
    a0, b0 = a.copy(), b.copy()
    check_scalar("relative_error(a, b) for 2-D a, b that differ in one entry", relative_error(a, b), 0.5 / 20.5,
                 rtol=1e-9, hint="The error is the max over entries of |a - b| / max(|a| + |b|, 1e-8) (not the mean, "
                                 "not |a - b| alone).")
    check_scalar("relative_error(b, a)", relative_error(b, a), 0.5 / 20.5, rtol=1e-9,
                 hint="The relative error is symmetric: divide by |a| + |b|, not by |a| alone.")
    check_array("a after relative_error", a, a0, rtol=0, atol=0)
    check_array("b after relative_error", b, b0, rtol=0, atol=0)
    check_scalar("relative_error of two all-zero arrays", relative_error(np.zeros(3), np.zeros(3)), 0.0, atol=0,
                 hint="0 / 0 is NaN: divide by max(|a| + |b|, 1e-8).")
    check_scalar("relative_error([1e-12], [3e-12])", relative_error(np.array([1e-12]), np.array([3e-12])), 2e-4,
                 rtol=1e-9,
                 hint="Entries smaller than the floor are divided by 1e-8, not by |a| + |b|: max(|a| + |b|, 1e-8).")
    check_scalar("relative_error([[3.0, 1.0]], [[1.0, 1.0]])",
                 relative_error(np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]])), 0.5, rtol=1e-9,
                 hint="Take the max over all entries, not the mean.")
    check_scalar("relative_error of two lists", relative_error([1.0, 2.0], [1.0, 3.0]), 0.2, rtol=1e-9,
                 hint="Convert the inputs with np.asarray so lists work too.")


# -- Task 3: the layers handed to the checker -------------------------------------------------------

@pure
def _bn_forward(x, gamma, beta):
    """The reference batch norm, the forward pass of every layer handed to the checker (pure: the
    kernel asks for each point once, though the checker visits the same points for each backward)."""
    return reference.batchnorm_forward(x, gamma, beta)


def _bn_backward(dout, cache):
    """The right backward pass."""
    return reference.batchnorm_backward(dout, cache)


def _no_mean_term(dout, cache):
    return reference.batchnorm_backward(dout, cache, mean=0.0)


def _no_var_term(dout, cache):
    return reference.batchnorm_backward(dout, cache, var=0.0)


def _wrong_sign(dout, cache):
    return reference.batchnorm_backward(dout, cache, sign=-1.0)


def _dgamma_from_x(dout, cache):
    dx, _, dbeta = reference.batchnorm_backward(dout, cache)
    return dx, (dout * cache[0]).sum(axis=0), dbeta


def _swapped(dout, cache):
    dx, dgamma, dbeta = reference.batchnorm_backward(dout, cache)
    return dx, dbeta, dgamma


def _dbeta_mean(dout, cache):
    dx, dgamma, _ = reference.batchnorm_backward(dout, cache)
    return dx, dgamma, dout.mean(axis=0)


def _blind_to_dout(dout, cache):
    """Right only when dout is all ones."""
    x, x_hat = cache[0], cache[1]
    return np.zeros_like(x), x_hat.sum(axis=0), np.full(x.shape[1], float(len(x)))


DX_OFF = 2.5


def _dx_off(dout, cache):
    """dx off by exactly DX_OFF in every entry: the report's largest absolute difference shows it."""
    dx, dgamma, dbeta = reference.batchnorm_backward(dout, cache)
    return dx + DX_OFF, dgamma, dbeta

# (what is wrong, the backward pass, the gradients it gets wrong)
WRONG_BACKWARDS = [
    ("dx misses the term through the mean", _no_mean_term, {"dx"}),
    ("dx misses the term through the variance", _no_var_term, {"dx"}),
    ("dx has the wrong sign", _wrong_sign, {"dx"}),
    ("dgamma is computed from x instead of x_hat", _dgamma_from_x, {"dgamma"}),
    ("dgamma and dbeta are swapped", _swapped, {"dgamma", "dbeta"}),
    ("dbeta is the mean of dout instead of the sum", _dbeta_mean, {"dbeta"}),
    ("the gradients are those of an all-ones dout, whatever dout is", _blind_to_dout, {"dx", "dgamma", "dbeta"}),
]

# A correct backward can, for an unlucky draw, have a dx entry so close to zero that round-off alone gives a
# relative error above OK (about 3 draws in 100): a correct checker must pass on at least one of three seeds.
CONFIGS = [(dict(), (0, 1, 2)), (dict(N=7, D=3), (11, 12, 13)), (dict(N=3, D=6), (21, 22, 23))]


def _with_helpers_noted(failure):
    """The failure, with a word on the helpers the test hands the checker."""
    return CheckFailed(f"{failure}\nNote: the test hands your checker the course's numerical gradient and relative "
                       "error: compute the numerical gradients with gradient(f, x, dout, h) and compare with error(a, b), "
                       "and write each f as lambda a: forward(a, gamma, beta)[0] (it must compute from its argument: "
                       "`gradient` perturbs the array it is given).")


def test_checker(report_of, numbers_on_lines_with):
    """check_batchnorm_gradient fed the reference batch norm with the right backward (every error
    at most OK for one of three seeds) and with WRONG_BACKWARDS (a large error for the wrong
    gradients, a small one for the others), on three shapes; x and gamma left as the checker drew
    them; the largest absolute difference of dx printed.

    report_of(forward, backward, gradient=..., error=..., **kwargs) -> (printed, errors) and
    numbers_on_lines_with(key, report) are the test cell's: they call the student's checker and
    read its report. The checker's `gradient` is course.gradcheck.gradient_of, which runs in the
    kernel (the kernel has the course package): its calls of f stay there, and only f's calls of
    the reference forward pass come back to the grader."""
    gradient = gradient_of

    def errors(backward, **kwargs):
        return report_of(_bn_forward, backward, gradient=gradient, error=rel_error, **kwargs)[1]

    try:
        _right_passes(errors)
        _wrong_fail(errors)
        _arrays_kept(errors)
        report, _ = report_of(_bn_forward, _dx_off, gradient=gradient, error=rel_error, N=6, D=3, seed=4)
        assert any(abs(v - DX_OFF) <= 0.01 * DX_OFF for v in numbers_on_lines_with("dx", report)), (
            f"Fed a batch-norm backward pass whose dx is off by exactly {DX_OFF} in every entry, "
            f"check_batchnorm_gradient(N=6, D=3) should print the largest absolute difference of dx, {DX_OFF}, on its "
            "dx line; it printed:\n" + report)
    except AssertionError as failure:
        raise _with_helpers_noted(failure) from None


def _call(kwargs):
    """The checker's call as the student would write it, without the backward pass and the seed:
    check_batchnorm_gradient(N=7, D=3), or its default shape when the test passes none."""
    if not kwargs:
        return "check_batchnorm_gradient with its default N and D"
    return "check_batchnorm_gradient(" + ", ".join(f"{key}={value!r}" for key, value in kwargs.items()) + ")"


def _right_passes(errors):
    for kwargs, seeds in CONFIGS:
        runs = [errors(_bn_backward, seed=s, **kwargs) for s in seeds]
        for key in GRADIENTS:
            best = min(r[key] for r in runs)
            assert best <= OK, (
                f"With a correct batch-norm backward pass, {_call(kwargs)} reported {key} errors of "
                f"{best:.1e} or more for seeds {seeds}; it should be <= 1e-7. Hand `gradient` the step h (default "
                "1e-5) and a random dout, keep x, gamma and beta as you drew them (restore every perturbed entry), and "
                "compare each analytic gradient with its own numerical one.")


def _wrong_fail(errors):
    for desc, backward, bad in WRONG_BACKWARDS:
        for kwargs, seeds in CONFIGS[:2]:
            runs = [errors(backward, seed=s, **kwargs) for s in seeds]
            for key in GRADIENTS:
                if key in bad:
                    least = min(r[key] for r in runs)
                    assert least > WRONG, (
                        f"Fed a batch-norm backward pass in which {desc}, {_call(kwargs)} reported "
                        f"{key} error {least:.1e} for one of the seeds {seeds}; a checker must report a large error "
                        f"(> 1e-2) for {key}. Does it call the `backward` passed in, compare with numerical "
                        "gradients and use a random dout?")
                else:
                    best = min(r[key] for r in runs)
                    assert best <= OK, (
                        f"Fed a batch-norm backward pass in which only {' and '.join(sorted(bad))} is wrong, "
                        f"{_call(kwargs)} reported {key} error {best:.1e} (expected <= 1e-7): "
                        "are the keys of the returned dict in the right places?")


def _arrays_kept(errors):
    """x and gamma, as the backward pass gets them in the cache, are unchanged after the checker returns.
    (Where the checker runs in the kernel and this test in the grader, the cache arrives as a copy, and
    the checks of a right backward pass above catch a checker that leaves x perturbed.)"""
    log = []

    def spy_backward(dout, cache):
        log.append([(a, a.copy()) for a in (cache[0], cache[4])])
        return reference.batchnorm_backward(dout, cache)

    errors(spy_backward, N=5, D=4, seed=13)
    assert log, "check_batchnorm_gradient never called the backward function passed to it."
    for pair in log:
        for name, (array, copy) in zip(("x", "gamma"), pair):
            check_array(f"the {name} the checker passed to forward, after check_batchnorm_gradient returned", array,
                        copy, rtol=1e-12, atol=0, hint="Restore every entry you perturb: old = x[k]; ...; x[k] = old.")
