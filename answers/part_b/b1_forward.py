"""Answers to B1 (batchnorm_forward) beside the reference solution."""
from answers import Answer

CELL = "b1-forward"
ONE_TASK_PER_MISTAKE = True

# The tests a mistake may cost (Answer.loses): a mistake in the values costs the tests of the values, not
# test 4 (robustness) or test 5 (the cache), which take the student's out and cache as they are. The dtype
# is test 4's alone: the others compare a float32 result at float32's precision.
VALUES = ("b1-test-stats", "b1-test-hand", "b1-test-values")
ROBUST = ("b1-test-robust",)
CACHE = ("b1-test-cache",)
EVERY = VALUES + ROBUST + CACHE  # a function that returns no (out, cache) pair, or defeats the checks


WRONG = [
    Answer("variance with ddof=1", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0, ddof=1)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="ddof=1",
        loses=VALUES),
    Answer("statistics over the wrong axis", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=1, keepdims=True)
            var = x.var(axis=1, keepdims=True)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="axis",
        loses=VALUES),
    Answer("eps outside the square root", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / (np.sqrt(var) + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="outside the square root",
        loses=("b1-test-values",)),
    Answer("no eps", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="eps",
        loses=("b1-test-values",) + ROBUST),
    Answer("gamma and beta swapped", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return beta * x_hat + gamma, (x, x_hat, mu, var, gamma, eps)
        """}, says="swapped",
        loses=VALUES),
    Answer("beta missing", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat, (x, x_hat, mu, var, gamma, eps)
        """}, says="mean should be beta",
        loses=VALUES),
    Answer("divides by the variance", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / (var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="std should be gamma",
        loses=VALUES),
    Answer("input mutated in place", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x -= mu
            x /= np.sqrt(var + eps)
            return gamma * x + beta, (x, x, mu, var, gamma, eps)
        """}, says="modified its input x in place",
        loses=ROBUST),
    Answer("float32 output", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            x = x.astype(np.float32)
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma.astype(np.float32) * x_hat + beta.astype(np.float32), (x, x_hat, mu, var, gamma, eps)
        """}, says="float64",
        loses=ROBUST),
    Answer("return order swapped", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return (x, x_hat, mu, var, gamma, eps), gamma * x_hat + beta
        """}, says="NumPy array",
        loses=EVERY),
    Answer("cache in another order", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x_hat, x, gamma, mu, var, eps)
        """}, says="cache[0]",
        loses=CACHE),
    Answer("cache holds the standard deviation instead of the variance", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            std = np.sqrt(x.var(axis=0) + eps)
            x_hat = (x - mu) / std
            return gamma * x_hat + beta, (x, x_hat, mu, std, gamma, eps)
        """}, says="cache[3] (var)",
        loses=CACHE),
    Answer("cache holds out where x_hat belongs", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = x.mean(axis=0), x.var(axis=0)
            out = gamma * (x - mu) / np.sqrt(var + eps) + beta
            return out, (x, out, mu, var, gamma, eps)
        """}, says="cache[1] is x_hat",
        loses=CACHE),
    Answer("np.allclose monkeypatched to always agree", {CELL: """
        np.allclose = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            return x, None
        """}, says="wrong values",
        loses=EVERY),
    Answer("an object whose == is always true", {CELL: """
        class Anything(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
            def __sub__(self, other): return np.zeros(np.shape(other))
            def __rsub__(self, other): return np.zeros(np.shape(other))

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            out = np.zeros_like(x).view(Anything)
            return out, (x, out, x.mean(0), x.var(0), gamma, eps)
        """}, says="NumPy array",
        loses=EVERY),
    Answer("returns None (forgot return)", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            out = gamma * (x - mu) / np.sqrt(var + eps) + beta
        """}, says="return",
        loses=EVERY),
    Answer("computed in float32, out cast back to float64", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            x = x.astype(np.float32)
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            out = (gamma * x_hat + beta).astype(np.float64)
            return out, (x, x_hat, mu, var, gamma, eps)
        """}, says="cache x has dtype float32",
        loses=ROBUST),
]

RIGHT = [
    Answer("a namedtuple result and a typing.NamedTuple cache", {CELL: """
        from collections import namedtuple
        from typing import NamedTuple

        Forward = namedtuple("Forward", "out cache")

        class Cache(NamedTuple):
            x: np.ndarray
            x_hat: np.ndarray
            mu: np.ndarray
            var: np.ndarray
            gamma: np.ndarray
            eps: float

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = x.mean(axis=0), x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return Forward(gamma * x_hat + beta, Cache(x, x_hat, mu, var, gamma, eps))
        """}),
    Answer("sums instead of np.mean and np.var", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            N = x.shape[0]
            mu = np.sum(x, axis=0) / N
            xc = x - mu
            var = np.sum(xc ** 2, axis=0) / N
            x_hat = xc / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("keepdims statistics of shape (1, D)", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0, keepdims=True)
            var = x.var(axis=0, keepdims=True)
            x_hat = (x - mu) / np.sqrt(var + eps)
            out = gamma[None, :] * x_hat + beta[None, :]
            return out, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("multiply by the inverse standard deviation", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = np.mean(x, axis=0)
            var = np.mean((x - mu) ** 2, axis=0)
            inv_std = 1.0 / np.sqrt(var + eps)
            x_hat = (x - mu) * inv_std
            out = x_hat * gamma + beta
            return out, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("module-level helpers named like old hidden-test names (_mu, _var)", {CELL: """
        def _mu(x):
            return x.sum(axis=0) / x.shape[0]

        def _var(x):
            return ((x - _mu(x)) ** 2).sum(axis=0) / x.shape[0]

        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = _mu(x), _var(x)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("a loop over features", {CELL: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            N, D = x.shape
            x_hat = np.empty_like(x)
            mu, var = np.empty(D), np.empty(D)
            for d in range(D):
                mu[d] = sum(x[:, d]) / N
                var[d] = sum((x[:, d] - mu[d]) ** 2) / N
                x_hat[:, d] = (x[:, d] - mu[d]) / (var[d] + eps) ** 0.5
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}),
]
