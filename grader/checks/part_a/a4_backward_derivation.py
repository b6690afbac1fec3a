"""Hidden checks of A4: dL/dsigma2, dL/dmu, dL/dx_i and the gradient of a bias before batch norm
(SymPy expressions, shorthands mu_B, sigma2_B, x_hat allowed), and dL/dx in NumPy.

The formulas build on each other (the student's dL_dmu is typed with their dL_dsigma2, dL_dx_i with
both, dL_dbias with dL_dx_i): each check compares its answer with the expected formula on the
references and, where an earlier answer is wrong, with the formula applied to the student's own
(grader.checks.symbolic.graded), so that a mistake costs its own task only.

dL/dmu is checked twice: at mu = mu_B, where the term of the path through sigma^2 vanishes, and
with mu moved off the batch mean (sigma^2 = 1/m sum_j (x_j - mu)^2 following it), where a wrong
factor on that term shows. The NumPy task is graded against the reference backward pass
(grader.checks.reference), independently of the student's formulas.

The symbolic answers come in as functions of no arguments (`lambda: dL_dmu`), read when needed.
"""
import numpy as np
import sympy as sp
from sympy import Rational, Sum, sqrt

from course.symbolic import CheckFailed, check, evaluate, normalize_symbols, symbols
from course.testing import case, check_array, check_callable, check_unchanged
from grader.checks import reference
from grader.checks.symbolic import graded

x, dy, i, j, m = symbols("x dy i j m")
gamma, beta, eps = symbols("gamma beta eps")
mu_B, sigma2_B, x_hat = symbols("mu_B sigma2_B x_hat")

DIRECT = gamma * dy[i] / sqrt(sigma2_B + eps)                                       # through x_hat_i
DSIGMA2 = -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
DSIGMA2_DMU = Sum(-2 * (x[j] - mu_B), (j, 1, m)) / m                                  # 0 at mu = mu_B
DMU_DIRECT = -gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m))
DMU = DMU_DIRECT                                                                      # at mu = mu_B
DX = DIRECT + DSIGMA2 * 2 * (x[i] - mu_B) / m + DMU / m

SIGMA2_PATH = "the term of the path through sigma^2 has the wrong factor"

# Batches on which dL/dmu is compared away from the batch mean: (m, seed).
OFF_MEAN_BATCHES = ((3, 41), (4, 42), (7, 43))
NUMPY_SIZES, NUMPY_SEED, NUMPY_EPS = (4, 7, 12), 2025, 1e-3


def test_dsigma2(dL_dsigma2):
    """Task 2: dL/dsigma2 = -gamma/2 (sigma2 + eps)^(-3/2) sum_j dy_j (x_j - mu)."""
    total = Sum(dy[j] * (x[j] - mu_B), (j, 1, m))
    check("dL_dsigma2", dL_dsigma2, DSIGMA2, mistakes={
        "the exponent is -1/2 instead of -3/2: d/d(sigma^2) (sigma^2 + eps)^(-1/2) = -1/2 (sigma^2 + eps)^(-3/2)":
            -gamma / 2 * (sigma2_B + eps)**Rational(-1, 2) * total,
        "the factor -1/2 from differentiating (sigma^2 + eps)^(-1/2) is missing":
            gamma * (sigma2_B + eps)**Rational(-3, 2) * total,
        "gamma is missing: dL/dx_hat_j = gamma dL/dy_j": -(sigma2_B + eps)**Rational(-3, 2) * total / 2,
        "the sum over the batch is missing: sigma^2 moves every x_hat_j":
            -gamma / 2 * (sigma2_B + eps)**Rational(-3, 2) * dy[i] * (x[i] - mu_B),
    })


def _off_mean(expr, mu):
    """expr at mu = the number `mu` instead of the batch mean, sigma2_B and x_hat following it as
    in the graph of Task 1 (sigma^2 = 1/m sum_j (x_j - mu)^2)."""
    mu = sp.Float(mu)
    k = sp.Dummy("k", integer=True, positive=True)
    var = Sum((x[k] - mu)**2, (k, 1, m)) / m
    expr = normalize_symbols(expr).replace(lambda e: isinstance(e, sp.Indexed) and e.base == x_hat,
                                    lambda e: (x[e.indices[0]] - mu) / sqrt(var + eps))
    return expr.xreplace({mu_B: mu, sigma2_B: var})


def _off_mean_values(expr):
    """[value of expr at each of OFF_MEAN_BATCHES, mu off the batch mean] (float), or None when it
    cannot be evaluated there; and the batches, for a message."""
    values, batches = [], []
    for mv, seed in OFF_MEAN_BATCHES:
        rng = np.random.default_rng(seed)
        batch = dict(m=mv, x=rng.normal(1.0, 2.0, mv), dy=rng.normal(size=mv),
                     gamma=float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])), beta=0.5,
                     eps=float(rng.uniform(0.05, 1.0)))
        mu = float(batch["x"].mean() + rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]))
        batches.append((batch, mu))
        try:
            value = np.asarray(evaluate(_off_mean(expr, mu), **batch), dtype=float)
        except Exception:  # noqa: BLE001 (not a formula that can be evaluated there)
            return None, batches
        if value.shape != ():
            return None, batches
        values.append(float(value))
    return np.array(values), batches


def _agree(a, b):
    return a is not None and b is not None and bool(np.all(np.abs(a - b) <= 1e-10 + 1e-8 * np.abs(b)))


def _check_off_mean(answer, their_dsigma2):
    """dL_dmu away from the batch mean: the path through mu, plus the path through sigma^2 as the
    chain rule gives it (on the reference dL/dsigma2 or the student's own), or left out (it is 0 at
    the batch mean, where the answer already passed). An answer that writes the batch mean out in
    full (no mu_B, sigma2_B or x_hat) has nothing that moves with mu, and the path through mu may
    keep its sigma^2 at the batch mean."""
    __tracebackhide__ = True
    if not normalize_symbols(answer).has(mu_B, sigma2_B, x_hat):
        return
    direct, batches = _off_mean_values(DMU_DIRECT)
    at_mean = np.array([float(evaluate(DMU_DIRECT, **batch)) for batch, _ in batches])
    path, _ = _off_mean_values(DSIGMA2 * DSIGMA2_DMU)
    got, _ = _off_mean_values(answer)
    paths = [0.0, path]
    if isinstance(their_dsigma2, sp.Expr):
        theirs, _ = _off_mean_values(their_dsigma2 * DSIGMA2_DMU)
        if theirs is not None:
            paths.append(theirs)
        if got is None:  # typed with their dL_dsigma2, which cannot be evaluated: graded on the reference one
            got, _ = _off_mean_values(answer.xreplace({their_dsigma2: DSIGMA2}))
    accepted = [through_mu + through_var for through_mu in (direct, at_mean) for through_var in paths]
    if got is None or any(_agree(got, value) for value in accepted):
        return  # (an answer that cannot be evaluated here passed at the batch mean: nothing more to see)
    batch, mu = batches[0]
    shown = ", ".join(f"{key} = " + ("[" + ", ".join(f"{v:.4g}" for v in value) + "]" if np.ndim(value)
                                     else f"{value:.4g}") for key, value in batch.items() if key != "beta")
    lines = ["dL_dmu is right at mu = mu_B, where the term of the path through sigma^2 vanishes "
             "(sum_j (x_j - mu) = 0), but not at other mu: dL/dmu treats mu as a variable of its own, with "
             "sigma^2 = 1/m sum_j (x_j - mu)^2 following it (the graph of Task 1).",
             f"  At mu = {mu:.4g} (the batch mean is {batch['x'].mean():.4g}) for {shown}: your dL_dmu gives "
             f"{got[0]:.6g}, the chain rule {direct[0] + path[0]:.6g}."]
    sizes = np.array([batch["m"] for batch, _ in batches], dtype=float)
    mistake = None
    with np.errstate(all="ignore"):
        factor = (got - direct) / path
    for scale, unit in ((1.0, ""), (sizes, " m"), (1.0 / sizes, "/m")):
        c = factor / scale
        if np.all(np.isfinite(c)) and np.ptp(c) <= 1e-6 * (1 + np.abs(c).max()):
            mistake = SIGMA2_PATH
            written = "m" if unit == " m" and abs(c[0] - 1) < 1e-9 else f"{c[0]:.6g}{unit}"
            lines.append(f"  Your term of the path through sigma^2 is {written} times the chain rule's (dL/dsigma2 "
                         "times the derivative of sigma^2 with respect to mu): check its sign and its factors.")
            break
    raise CheckFailed("\n".join(lines + ["Hint: that term vanishes at the batch mean, so leaving it out is right; "
                                         "written out, it must be the chain rule's."]), mistake)


def test_dmu(dL_dmu, dL_dsigma2):
    """Task 3: dL/dmu at mu = mu_B, then with mu moved off the batch mean."""
    passed = graded("dL_dmu", dL_dmu, lambda dsigma2: DMU_DIRECT + dsigma2 * DSIGMA2_DMU, lambda dsigma2: {
        "the sum over the batch is missing: mu moves every x_hat_j": -gamma / sqrt(sigma2_B + eps) * dy[i],
        "the sum is divided by m": DMU / m,
        "gamma is missing: dL/dx_hat_j = gamma dL/dy_j": -Sum(dy[j], (j, 1, m)) / sqrt(sigma2_B + eps),
        "you divide by the variance, not by the standard deviation": -gamma / (sigma2_B + eps) * Sum(dy[j], (j, 1, m)),
    }, [("dL_dsigma2", dL_dsigma2, DSIGMA2, "Task 2")])
    try:
        their_dsigma2 = dL_dsigma2()
    except Exception:  # noqa: BLE001 (not defined: the reference dL/dsigma2 is the only one)
        their_dsigma2 = None
    _check_off_mean(passed, their_dsigma2)


def test_dx(dL_dx_i, dL_dsigma2, dL_dmu):
    """Task 4: dL/dx_i, the three paths, on the reference or the student's own dL/dsigma2 and dL/dmu."""
    def dx(dsigma2, dmu):
        return DIRECT + dsigma2 * 2 * (x[i] - mu_B) / m + dmu / m

    def mistakes(dsigma2, dmu):
        via_var = dsigma2 * 2 * (x[i] - mu_B) / m
        return {
            "the variance term is missing (the path through sigma^2: dL/dsigma2 * 2 (x_i - mu) / m)": DIRECT + dmu / m,
            "the mean term is missing (the path through mu: dL/dmu / m)": DIRECT + via_var,
            "only the direct path is kept: the paths through mu and sigma^2 are missing": DIRECT,
            "dsigma^2/dx_i is taken as (x_i - mu) / m: the factor 2 is missing": DIRECT + via_var / 2 + dmu / m,
            "dL/dsigma2 has the exponent -1/2 instead of -3/2": DIRECT + via_var * (sigma2_B + eps) + dmu / m,
        }

    graded("dL_dx_i", dL_dx_i, dx, mistakes,
           [("dL_dsigma2", dL_dsigma2, DSIGMA2, "Task 2"), ("dL_dmu", dL_dmu, DMU, "Task 3")])


def _reference_dx(x_values, dy_values, g, e, ddof=0, eps_outside=False, **mistake):
    """dL/dx of one feature (shape (m,)) by the reference backward pass; ddof, eps_outside (in the
    forward pass's x_hat) and the keywords of reference.batchnorm_backward make the known mistakes."""
    _, cache = reference.batchnorm_forward(x_values[:, None], g, 0.0, e, ddof=ddof, eps_outside=eps_outside)
    return reference.batchnorm_backward(dy_values[:, None], cache, **mistake)[0][:, 0]


def test_numpy(backward_1d):
    """Task 5: backward_1d on random batches of several sizes against the reference backward pass,
    inputs left unchanged (whatever the student's formulas are)."""
    check_callable("backward_1d", backward_1d)
    rng = np.random.default_rng(NUMPY_SEED)
    for mv in NUMPY_SIZES:
        x_values, dy_values = rng.normal(3.0, 2.0, size=mv), rng.normal(size=mv)
        g, e = float(rng.uniform(0.5, 2.0)), NUMPY_EPS
        expected = _reference_dx(x_values, dy_values, g, e)
        mistakes = {
            "the variance term is missing (the path through sigma^2)":
                _reference_dx(x_values, dy_values, g, e, var=0.0),
            "the mean term is missing (the path through mu)": _reference_dx(x_values, dy_values, g, e, mean=0.0),
            "only the direct path is kept: the paths through mu and sigma^2 are missing":
                _reference_dx(x_values, dy_values, g, e, mean=0.0, var=0.0),
            "gamma is missing: dL/dx_hat = gamma dL/dy": _reference_dx(x_values, dy_values, g, e, gamma=False),
            "the sign is flipped": -expected,
            "the factor 1/m of the tidy form is missing": mv * expected,
            "the variance divides by m - 1: batch norm normalizes with the biased 1/m":
                _reference_dx(x_values, dy_values, g, e, ddof=1),
        }
        left_out, outside = (short for short, _, _, _ in reference.EPS_MISTAKES[:2])
        mistakes[f"{left_out} (in x_hat too)"] = _reference_dx(x_values, dy_values, g, 0.0)
        mistakes[f"{outside} (in x_hat too)"] = _reference_dx(x_values, dy_values, g, e, eps_outside=True,
                                                             s=reference.EPS_MISTAKES[1][2](x_values.var(), e))
        for short, _, s, _ in reference.EPS_MISTAKES:
            mistakes[short] = _reference_dx(x_values, dy_values, g, e, s=s(x_values.var(), e))
        given_x, given_dy = x_values.copy(), dy_values.copy()
        name = f"backward_1d(x, dy, gamma={g:.4g}, eps={e:g}) on a random batch of {mv}"
        with case(f"a random batch of {mv}"):
            got = backward_1d(given_x, given_dy, g, e)
        check_array(name, got, expected, rtol=1e-7, atol=1e-10, mistakes=mistakes,
                    hint="Compare your code with your formula of Task 4 (or the tidy form of Task 1), term by term.")
        check_unchanged("x_values", x_values, given_x, culprit="backward_1d")
        check_unchanged("dy_values", dy_values, given_dy, culprit="backward_1d")


def test_dbias(dL_dbias, dL_dx_i, dL_dsigma2, dL_dmu):
    """Task 6: the bias before batch norm gets no gradient, sum_j dL/dx_j = 0; on the student's own
    dL/dx_i (and what it is typed with) where that is wrong."""
    def total(dx, dsigma2, dmu):
        return sp.Integer(0) if dx is DX else Sum(dx.subs(i, j), (j, 1, m))

    def mistakes(dx, dsigma2, dmu):
        return {
            "you take the bias gradient of a layer without batch norm, the sum of the upstream gradients; "
            "batch norm's mean path cancels it": Sum(dy[j], (j, 1, m)),
            "only the direct path is summed (gamma / sqrt(sigma^2 + eps) times the sum of dy); "
            "the path through mu cancels it": gamma / sqrt(sigma2_B + eps) * Sum(dy[j], (j, 1, m)),
            "the sum over the batch is missing: b is shared by all m inputs, so its gradient sums dL/dx_j over j": dx,
        }

    graded("dL_dbias", dL_dbias, total, mistakes,
           [("dL_dx_i", dL_dx_i, DX, "Task 4"), ("dL_dsigma2", dL_dsigma2, DSIGMA2, "Task 2"),
            ("dL_dmu", dL_dmu, DMU, "Task 3")], constants=True)
