"""Answers to B3 (centered_difference_gradient, relative_error, check_batchnorm_gradient)."""
from textwrap import dedent, indent

from answers import Answer

ONE_TASK_PER_MISTAKE = True  # the checker's tests hand it reference helpers: a wrong Task 1 or 2 costs only its test

PASTE = "b3-batchnorm"
CENTERED = "b3-centered"
RELERR = "b3-relerr"
CHECKER = "b3-checker"

# The header of the checker cell, kept by the release; each checker answer below completes it.
_HEAD = """
def check_batchnorm_gradient(forward=None, backward=None, N=4, D=5, h=1e-5, seed=0, gradient=None, error=None):
    forward = batchnorm_forward if forward is None else forward
    backward = batchnorm_backward if backward is None else backward
    gradient = centered_difference_gradient if gradient is None else gradient
    error = relative_error if error is None else error
"""

_REPORT = """
    for name, value in errors.items():
        print(f"{name}: {value:.2e}")
    return errors
"""

# a report with the largest difference, for checkers that keep their `analytic` and `numerical` gradients
_REPORT_DIFF = """
    for name, value in errors.items():
        print(f"{name}: {value:.2e}, max |difference| {np.max(np.abs(analytic[name] - numerical[name])):.2e}")
    return errors
"""


def _checker(body, report=_REPORT, draw=False):
    """The checker cell: the release's header, then (optionally) _DRAW, the body and the report."""
    parts = [_DRAW] if draw else []
    parts += [body, report]
    return {CHECKER: _HEAD.strip("\n") + "\n" + "".join(
        indent(dedent(part).strip("\n"), "    ") + "\n" for part in parts if part.strip())}


_DRAW = """
rng = np.random.default_rng(seed)
x = 12.0 + 5.0 * rng.normal(size=(N, D))
gamma, beta = rng.normal(size=D), rng.normal(size=D)
dout = rng.normal(size=(N, D))
_, cache = forward(x, gamma, beta)
dx, dgamma, dbeta = backward(dout, cache)
"""


WRONG = [
    Answer("checker that always reports 0", _checker("""
        errors = {"dx": 0.0, "dgamma": 0.0, "dbeta": 0.0}
    """), says="must report a large error"),
    Answer("checker with forward differences and a large h", _checker(draw=True, body="""
        def one_sided(f, a):
            grad, f0 = np.zeros_like(a), f(a).copy()
            for k in np.ndindex(a.shape):
                old = a[k]
                a[k] = old + 1e-3
                grad[k] = np.sum((f(a) - f0) * dout) / 1e-3
                a[k] = old
            return grad
        analytic = {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
        numerical = {"dx": one_sided(lambda a: forward(a, gamma, beta)[0], x),
                     "dgamma": one_sided(lambda a: forward(x, a, beta)[0], gamma),
                     "dbeta": one_sided(lambda a: forward(x, gamma, a)[0], beta)}
        errors = {name: error(analytic[name], numerical[name]) for name in analytic}
    """, report=_REPORT_DIFF), says="should be <= 1e-7"),
    Answer("checker compares the analytic gradient with itself", _checker(draw=True, body="""
        errors = {"dx": error(dx, dx), "dgamma": error(dgamma, dgamma), "dbeta": error(dbeta, dbeta)}
    """), says="must report a large error"),
    Answer("helper forgets to restore perturbed entries", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros_like(x)
            for k in np.ndindex(x.shape):
                old = x[k]
                x[k] = old + h
                plus = f(x).copy()
                x[k] = old - h
                minus = f(x).copy()
                grad[k] = np.sum((plus - minus) * dout) / (2 * h)
            return grad
        """}, says="restore every perturbed entry"),
    Answer("checker with its own loop that forgets to restore", _checker(draw=True, body="""
        def numerical(f, a):
            grad = np.zeros_like(a)
            for k in np.ndindex(a.shape):
                old = a[k]
                a[k] = old + h
                plus = f(a).copy()
                a[k] = old - h
                grad[k] = np.sum((plus - f(a)) * dout) / (2 * h)
            return grad
        errors = {
            "dx": error(dx, numerical(lambda a: forward(a, gamma, beta)[0], x)),
            "dgamma": error(dgamma, numerical(lambda a: forward(x, a, beta)[0], gamma)),
            "dbeta": error(dbeta, numerical(lambda a: forward(x, gamma, a)[0], beta)),
        }
    """), says="restore every perturbed entry"),
    Answer("helper uses forward differences", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros_like(x)
            f0 = f(x).copy()
            for k in np.ndindex(x.shape):
                old = x[k]
                x[k] = old + h
                grad[k] = np.sum((f(x) - f0) * dout) / h
                x[k] = old
            return grad
        """}, says="forward differences"),
    Answer("helper ignores dout", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros_like(x)
            for k in np.ndindex(x.shape):
                old = x[k]
                x[k] = old + h
                plus = f(x).copy()
                x[k] = old - h
                minus = f(x).copy()
                x[k] = old
                grad[k] = np.sum(plus - minus) / (2 * h)
            return grad
        """}, says="ignore dout"),
    Answer("helper divides by h instead of 2h", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros_like(x)
            for k in np.ndindex(x.shape):
                old = x[k]
                x[k] = old + h
                plus = f(x).copy()
                x[k] = old - h
                minus = f(x).copy()
                x[k] = old
                grad[k] = np.sum((plus - minus) * dout) / h
            return grad
        """}, says="divide by h instead of 2 h"),
    Answer("checker with an all-ones dout", _checker("""
        rng = np.random.default_rng(seed)
        x = 12.0 + 5.0 * rng.normal(size=(N, D))
        gamma, beta = rng.normal(size=D), rng.normal(size=D)
        dout = np.ones((N, D))
        _, cache = forward(x, gamma, beta)
        dx, dgamma, dbeta = backward(dout, cache)
        analytic = {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
        numerical = {"dx": gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h),
                     "dgamma": gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h),
                     "dbeta": gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)}
        errors = {name: error(analytic[name], numerical[name]) for name in analytic}
    """, report=_REPORT_DIFF), says="random dout"),
    Answer("checker calls the global batch norm instead of its arguments", _checker("""
        rng = np.random.default_rng(seed)
        x = 12.0 + 5.0 * rng.normal(size=(N, D))
        gamma, beta = rng.normal(size=D), rng.normal(size=D)
        dout = rng.normal(size=(N, D))
        _, cache = batchnorm_forward(x, gamma, beta)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        f = lambda a, g, b: batchnorm_forward(a, g, b)[0]
        errors = {
            "dx": error(dx, gradient(lambda a: f(a, gamma, beta), x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: f(x, a, beta), gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: f(x, gamma, a), beta, dout, h)),
        }
    """), says="call the forward and backward passed in"),
    Answer("checker whose functions read x, gamma and beta instead of their argument", _checker(draw=True, body="""
        errors = {
            "dx": error(dx, gradient(lambda a: forward(x, gamma, beta)[0], x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: forward(x, gamma, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, beta)[0], beta, dout, h)),
        }
    """), says="from its argument"),
    Answer("checker mixes up the keys", _checker(draw=True, body="""
        errors = {
            "dgamma": error(dx, gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h)),
            "dx": error(dgamma, gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)),
        }
    """), says="keys of the returned dict"),
    Answer("checker prints nothing", _checker(draw=True, body="""
        errors = {
            "dx": error(dx, gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)),
        }
    """, report="\n    return errors\n"), says="printed nothing"),
    Answer("checker returns a tuple", _checker(draw=True, body="""
        errors = {
            "dx": error(dx, gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)),
        }
        print(errors)
        return errors["dx"], errors["dgamma"], errors["dbeta"]
    """, report=""), says="should return a dict"),
    Answer("checker reports only the relative errors, not the largest difference", _checker(draw=True, body="""
        errors = {
            "dx": error(dx, gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)),
        }
    """), says="largest absolute difference"),
    Answer("checker that reports the relative error as the difference", _checker(draw=True, body="""
        errors = {
            "dx": error(dx, gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h)),
            "dgamma": error(dgamma, gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h)),
            "dbeta": error(dbeta, gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h)),
        }
        for name, value in errors.items():
            print(f"{name}: relative error {value:.2e}, max difference {value:.2e}")
        return errors
    """, report=""), says="largest absolute difference"),
    Answer("relative error is the absolute difference", {RELERR: """
        def relative_error(a, b):
            return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        """}, says="|a| + |b|"),
    Answer("relative error without the 1e-8 floor", {RELERR: """
        def relative_error(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))
        """}, says="max(|a| + |b|, 1e-8)"),
    Answer("relative error averages instead of taking the max", {RELERR: """
        def relative_error(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))
        """}, says="not the mean"),
    Answer("relative error divides by |a| only", {RELERR: """
        def relative_error(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-8)))
        """}, says="|a| + |b|"),
    Answer("relative error uses np.max instead of np.maximum for the floor", {RELERR: """
        def relative_error(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            return float(np.max(np.abs(a - b) / np.max(np.abs(a) + np.abs(b))))
        """}, says="entry by entry"),
]

RIGHT = [
    Answer("helper with np.nditer, as in cs231n", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros_like(x)
            it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
            while not it.finished:
                ix = it.multi_index
                oldval = x[ix]
                x[ix] = oldval + h
                pos = f(x).copy()
                x[ix] = oldval - h
                neg = f(x).copy()
                x[ix] = oldval
                grad[ix] = np.sum((pos - neg) * dout) / (2 * h)
                it.iternext()
            return grad
        """}),
    Answer("helper that steps +h, -2h, +h", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros(x.shape)
            for k in np.ndindex(*x.shape):
                x[k] += h
                plus = np.sum(f(x) * dout)
                x[k] -= 2 * h
                minus = np.sum(f(x) * dout)
                x[k] += h
                grad[k] = (plus - minus) / (2 * h)
            return grad
        """}),
    Answer("helper over x.flat", {CENTERED: """
        def centered_difference_gradient(f, x, dout, h=1e-5):
            grad = np.zeros(x.size)
            for i in range(x.size):
                old = x.flat[i]
                x.flat[i] = old + h
                plus = f(x).copy()
                x.flat[i] = old - h
                minus = f(x).copy()
                x.flat[i] = old
                grad[i] = ((plus - minus) * dout).sum() / (2 * h)
            return grad.reshape(x.shape)
        """}),
    Answer("relative error with a loop", {RELERR: """
        def relative_error(a, b):
            worst = 0.0
            for u, v in zip(np.ravel(a), np.ravel(b)):
                worst = max(worst, abs(u - v) / max(abs(u) + abs(v), 1e-8))
            return float(worst)
        """}),
    Answer("checker with RandomState, analytic gradients last and a table", _checker("""
        rs = np.random.RandomState(seed)
        x = rs.randn(N, D) * 3.0 + 2.0
        gamma, beta, dout = rs.randn(D), rs.randn(D), rs.randn(N, D)
        num_dx = gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h=h)
        num_dgamma = gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h=h)
        num_dbeta = gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h=h)
        dx, dgamma, dbeta = backward(dout, forward(x, gamma, beta)[1])
        errors = dict(dx=error(dx, num_dx), dgamma=error(dgamma, num_dgamma), dbeta=error(dbeta, num_dbeta))
        print("gradient | rel. error | max abs. diff")
        for name, a, n in (("dx", dx, num_dx), ("dgamma", dgamma, num_dgamma), ("dbeta", dbeta, num_dbeta)):
            print(f"{name:8s} | {errors[name]:.3e}  | {np.abs(a - n).max():.3e}",
                  "(ok)" if errors[name] < 1e-7 else "(CHECK YOUR BACKWARD)")
        return errors
    """, report="")),
    Answer("checker with a module-level helper named like an old hidden-test name (_errors), which calls the "
           "helpers by name instead of the gradient and error passed in (right as long as they are)", {CHECKER: """
        def _errors(analytic, numerical):
            return {key: relative_error(analytic[key], numerical[key]) for key in analytic}

        def check_batchnorm_gradient(forward=None, backward=None, N=4, D=5, h=1e-5, seed=0, gradient=None, error=None):
            forward = batchnorm_forward if forward is None else forward
            backward = batchnorm_backward if backward is None else backward
            rng = np.random.default_rng(seed)
            x = 12.0 + 5.0 * rng.normal(size=(N, D))
            gamma, beta, dout = rng.normal(size=D), rng.normal(size=D), rng.normal(size=(N, D))
            dx, dgamma, dbeta = backward(dout, forward(x, gamma, beta)[1])
            analytic = {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
            numerical = {
                "dx": centered_difference_gradient(lambda a: forward(a, gamma, beta)[0], x, dout, h),
                "dgamma": centered_difference_gradient(lambda a: forward(x, a, beta)[0], gamma, dout, h),
                "dbeta": centered_difference_gradient(lambda a: forward(x, gamma, a)[0], beta, dout, h),
            }
            errors = _errors(analytic, numerical)
            for key in errors:
                print(key, "relative error", errors[key], "max difference", np.max(np.abs(analytic[key] - numerical[key])))
            return errors
        """}),
    Answer("paste: keepdims statistics and the one-line backward", {PASTE: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0, keepdims=True)
            var = x.var(axis=0, keepdims=True)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = x.shape[0]
            dgamma = np.sum(dout * x_hat, axis=0)
            dbeta = np.sum(dout, axis=0)
            dx = (gamma / (N * np.sqrt(var + eps))) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}),
]

# Mistakes in the batch norm pasted at the top (B1's and B2's business): only Test 2 runs it, and only to see
# that the checker reports on it, so they cost nothing here.
ELSEWHERE = [
    Answer("paste: backward misses the term through the mean", {PASTE: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = x.mean(axis=0), x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            dgamma = (dout * x_hat).sum(axis=0)
            return gamma / np.sqrt(var + eps) * (dout - x_hat * dgamma / len(x)), dgamma, dout.sum(axis=0)
        """}),
    Answer("paste: forward with ddof=1", {PASTE: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = x.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / np.sqrt(var + eps) / N * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}),
]
