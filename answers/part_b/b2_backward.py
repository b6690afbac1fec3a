"""Answers to B2 (batchnorm_backward, batchnorm_backward_alt) beside the reference solution."""
from answers import Answer

FORWARD = "b2-forward"
CELL = "b2-backward"
ALT = "b2-backward-alt"
ONE_TASK_PER_MISTAKE = True

# The tests a mistake in batchnorm_backward may cost (Answer.loses). Tests 1 to 4 run it on caches of
# their own (a reference forward pass), so a mistake in the values costs Tests 2 and 3, not Test 4
# (robustness); Test 5 grades the forward pass pasted at the top, with a reference backward pass.
# A mistake in batchnorm_backward_alt costs the tests after its cell (the default).
SHAPES = ("b2-test-shapes",)
VALUES = ("b2-test-hand", "b2-test-values")
ROBUST = ("b2-test-robust",)
PAIR = ("b2-test-pair",)
BACKWARD = SHAPES + VALUES + ROBUST  # a backward pass that defeats the checks

# The reference forward pass written differently, to show that the pair test does not depend on
# how the forward pass is written.
LOOP_FORWARD = """
    def batchnorm_forward(x, gamma, beta, eps=1e-5):
        N, D = x.shape
        x_hat = np.empty_like(x)
        mu, var = np.empty(D), np.empty(D)
        for d in range(D):
            mu[d] = sum(x[:, d]) / N
            var[d] = sum((x[:, d] - mu[d]) ** 2) / N
            x_hat[:, d] = (x[:, d] - mu[d]) / (var[d] + eps) ** 0.5
        return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
    """

WRONG = [
    Answer("dx misses the term through the mean", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dvar = -0.5 * inv_std ** 3 * (dx_hat * xc).sum(axis=0)
            dx = dx_hat * inv_std + 2.0 * xc * dvar / N
            return dx, dgamma, dbeta
        """}, says="misses the term through the mean",
        loses=VALUES),
    Answer("dx misses the term through the variance", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dxc = dout * gamma * inv_std
            dmu = -dxc.sum(axis=0)
            dx = dxc + dmu / N
            return dx, dgamma, dbeta
        """}, says="misses the term through the variance",
        loses=VALUES),
    Answer("the sign of dvar flipped", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dvar = 0.5 * inv_std ** 3 * (dx_hat * xc).sum(axis=0)
            dxc = dx_hat * inv_std + 2.0 * xc * dvar / N
            dx = dxc - dxc.sum(axis=0) / N
            return dx, dgamma, dbeta
        """}, says="sign of the term through the variance",
        loses=VALUES),
    Answer("dx with the wrong sign", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x_hat).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (dbeta + x_hat * dgamma - N * dout)
            return dx, dgamma, dbeta
        """}, says="wrong sign",
        loses=VALUES),
    Answer("dgamma from x instead of x_hat", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * (dout * x_hat).sum(axis=0))
            return dx, dgamma, dbeta
        """}, says="x instead of x_hat",
        loses=VALUES),
    Answer("dgamma and dbeta swapped", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = dout.sum(axis=0)
            dbeta = (dout * x_hat).sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dgamma - x_hat * dbeta)
            return dx, dgamma, dbeta
        """}, says="swapped",
        loses=SHAPES + VALUES),
    Answer("dgamma and dbeta keep the shape (1, D)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
            dbeta = dout.sum(axis=0, keepdims=True)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}, says="keepdims",
        loses=SHAPES),
    Answer("return order (dgamma, dbeta, dx)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x_hat).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return dgamma, dbeta, dx
        """}, says="in this order",
        loses=SHAPES + VALUES),
    Answer("sums over axis=1", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            D = dout.shape[1]
            dgamma = (dout * x_hat).sum(axis=1)
            dbeta = dout.sum(axis=1)
            dx = gamma / (D * np.sqrt(var + eps)) * (D * dout - dbeta[:, None] - x_hat * dgamma[:, None])
            return dx, dgamma, dbeta
        """}, says="axis",
        loses=SHAPES + VALUES),
    Answer("dout mutated in place", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dout *= gamma                      # dx_hat, but in the caller's array
            dout -= (dout.sum(axis=0) + x_hat * (dout * x_hat).sum(axis=0)) / N
            dout /= np.sqrt(var + eps)
            return dout, dgamma, dbeta
        """}, says="modified its input dout in place",
        loses=ROBUST),
    Answer("float32 outputs", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x_hat).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return dx.astype(np.float32), dgamma.astype(np.float32), dbeta.astype(np.float32)
        """}, says="float64",
        loses=SHAPES + VALUES + ROBUST),
    Answer("np.allclose monkeypatched to always agree", {CELL: """
        np.allclose = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None

        def batchnorm_backward(dout, cache):
            return np.zeros_like(dout), np.zeros(dout.shape[1]), dout.sum(axis=0)
        """}, says="wrong values",
        loses=BACKWARD),
    Answer("an object whose == is always true", {CELL: """
        class Anything(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
            def __sub__(self, other): return np.zeros(np.shape(other))
            def __rsub__(self, other): return np.zeros(np.shape(other))

        def batchnorm_backward(dout, cache):
            return (np.zeros_like(dout).view(Anything), np.zeros(dout.shape[1]).view(Anything),
                    np.zeros(dout.shape[1]).view(Anything))
        """}, says="NumPy array",
        loses=BACKWARD),
    Answer("fails with mu and var of shape (1, D)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N, D = dout.shape
            inv_std = 1.0 / np.sqrt(var + eps)
            dgamma = np.array([dout[:, d] @ x_hat[:, d] for d in range(len(var))])
            dbeta = np.array([dout[:, d].sum() for d in range(len(var))])
            dx = gamma * inv_std / N * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}, says="(1, D)",
        loses=ROBUST),
    Answer("staged backward leaves eps out (forward and backward disagree)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            inv_std = 1.0 / np.sqrt(var)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dvar = -0.5 * inv_std ** 3 * (dx_hat * xc).sum(axis=0)
            dxc = dx_hat * inv_std + 2.0 * xc * dvar / N
            return dxc - dxc.sum(axis=0) / N, dgamma, dbeta
        """}, says="eps is left out",
        loses=VALUES),
    Answer("formula with eps outside the square root", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx = gamma / (N * (np.sqrt(var) + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}, says="outside the square root",
        loses=VALUES),
    Answer("staged backward with sqrt(var - eps)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            std = np.sqrt(var - eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dstd = -(dx_hat * xc).sum(axis=0) / std ** 2
            dvar = dstd / (2 * std)
            dxc = dx_hat / std + 2.0 * xc * dvar / N
            return dxc - dxc.sum(axis=0) / N, dgamma, dbeta
        """}, says="sqrt(var - eps)",
        loses=VALUES),
    Answer("dgamma from an x_hat recomputed without eps", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * (x - mu) / np.sqrt(var)).sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * (dout * x_hat).sum(axis=0))
            return dx, dgamma, dbeta
        """}, says="eps is left out of x_hat",
        loses=VALUES),
    Answer("cache unpacked with x and x_hat swapped", {CELL: """
        def batchnorm_backward(dout, cache):
            x_hat, x, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dvar = -0.5 * inv_std ** 3 * (dx_hat * xc).sum(axis=0)
            dxc = dx_hat * inv_std + 2.0 * xc * dvar / N
            return dxc - dxc.sum(axis=0) / N, dgamma, dbeta
        """}, says="x and x_hat are swapped",
        loses=VALUES),
    Answer("alt leaves eps out", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="eps is left out"),
    Answer("alt with sqrt(var - eps)", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var - eps)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="sqrt(var - eps)"),
    Answer("alt unpacks the cache with mu and var swapped", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            x, x_hat, var, mu, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="mu and var are swapped"),
    Answer("alt adds the term through the mean", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var + eps)) * (N * dout + dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="sign of the term through the mean"),
    Answer("alt keeps dgamma and dbeta of shape (1, D)", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0, keepdims=True)
            dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
            return gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="keepdims"),
    Answer("staged backward with eps outside the square root", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            std = np.sqrt(var) + eps
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dstd = -(dx_hat * xc).sum(axis=0) / std ** 2
            dvar = dstd * 0.5 / np.sqrt(var)
            dxc = dx_hat / std + 2.0 * xc * dvar / N
            return dxc - dxc.sum(axis=0) / N, dgamma, dbeta
        """}, says="eps is added outside the square root in the backward pass",
        loses=VALUES),
    Answer("formula leaves eps out", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="the factor is 1/sqrt(var), not 1/sqrt(var + eps)",
        loses=VALUES),
    Answer("dgamma from an x_hat recomputed with eps outside the square root", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * (x - mu) / (np.sqrt(var) + eps)).sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * (dout * x_hat).sum(axis=0))
            return dx, dgamma, dbeta
        """}, says="eps is added outside the square root in x_hat",
        loses=VALUES),
    Answer("dgamma from an x_hat recomputed with sqrt(var - eps)", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * (x - mu) / np.sqrt(var - eps)).sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * (dout * x_hat).sum(axis=0))
            return dx, dgamma, dbeta
        """}, says="x_hat uses sqrt(var - eps)",
        loses=VALUES),
    Answer("alt with eps outside the square root", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * (np.sqrt(var) + eps)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="outside the square root"),
    Answer("alt unpacks the cache with x and x_hat swapped", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            x_hat, x, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta
        """}, says="x and x_hat are swapped"),
    Answer("alt adds the term through the variance", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
            return gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta + x_hat * dgamma), dgamma, dbeta
        """}, says="sign of the term through the variance"),
    Answer("staged backward unpacks the cache with mu and var swapped", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, var, mu, gamma, eps = cache
            N = dout.shape[0]
            xc = x - mu
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx_hat = dout * gamma
            dvar = -0.5 * inv_std ** 3 * (dx_hat * xc).sum(axis=0)
            dxc = dx_hat * inv_std + 2.0 * xc * dvar / N
            return dxc - dxc.sum(axis=0) / N, dgamma, dbeta
        """}, says="mu and var are swapped",
        loses=VALUES),
    Answer("forward pasted from B1 with the variance's ddof=1", {FORWARD: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0, ddof=1)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="check the forward pass pasted at the top",
        loses=PAIR),
    Answer("forward pasted with the cache in another order", {FORWARD: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x_hat, x, gamma, mu, var, eps)
        """}, says="check the forward pass pasted at the top",
        loses=PAIR),
    Answer("forward pasted with eps outside the square root", {FORWARD: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / (np.sqrt(var) + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}, says="check the forward pass pasted at the top",
        loses=PAIR),
    Answer("alt is the staged backward again (recomputes x - mu)", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            return batchnorm_backward(dout, cache)
        """}, says="simplified formula"),
    Answer("alt misses the term through the variance", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dgamma = (dout * x_hat).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = (1 / N) * gamma / np.sqrt(var + eps) * (N * dout - dbeta)
            return dx, dgamma, dbeta
        """}, says="misses the term through the variance"),
    Answer("alt uses N - 1", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0] - 1
            dgamma = (dout * x_hat).sum(axis=0)
            dbeta = dout.sum(axis=0)
            dx = (1 / N) * gamma / np.sqrt(var + eps) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}, says="N-1 instead of N"),
]

RIGHT = [
    Answer("namedtuple gradients", {CELL: """
        from collections import namedtuple

        Gradients = namedtuple("Gradients", ["dx", "dgamma", "dbeta"])

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return Gradients(dx, dgamma, dbeta)
        """}),
    Answer("simplified formula as batchnorm_backward", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = dout.shape[0]
            inv_std = 1.0 / np.sqrt(var + eps)
            dbeta = dout.sum(axis=0)
            dgamma = (dout * x_hat).sum(axis=0)
            dx = (1.0 / N) * gamma * inv_std * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}),
    Answer("staged, cs231n style, with keepdims sums", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N, D = dout.shape
            mu, var = np.reshape(mu, (1, D)), np.reshape(var, (1, D))
            xmu = x - mu
            sqrtvar = np.sqrt(var + eps)
            ivar = 1.0 / sqrtvar
            dbeta = np.sum(dout, axis=0)
            dgamma = np.sum(dout * x_hat, axis=0)
            dxhat = dout * gamma
            divar = np.sum(dxhat * xmu, axis=0, keepdims=True)
            dxmu1 = dxhat * ivar
            dsqrtvar = -1.0 / sqrtvar ** 2 * divar
            dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
            dsq = np.ones((N, D)) / N * dvar
            dxmu2 = 2 * xmu * dsq
            dx1 = dxmu1 + dxmu2
            dmu = -np.sum(dxmu1 + dxmu2, axis=0, keepdims=True)
            dx2 = np.ones((N, D)) / N * dmu
            dx = dx1 + dx2
            return dx, dgamma, dbeta
        """}),
    Answer("einsum", {CELL: """
        def batchnorm_backward(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = np.einsum("nd->d", dout)
            dgamma = np.einsum("nd,nd->d", dout, x_hat)
            dx = np.einsum("d,nd->nd", gamma / np.sqrt(np.ravel(var) + eps) / N,
                           N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}),
    Answer("Ioffe and Szegedy's formulas, written out", {CELL: """
        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            m = dout.shape[0]
            dx_hat = dout * gamma
            dvar = np.sum(dx_hat * (x - mu), axis=0) * -0.5 * (var + eps) ** -1.5
            dmu = np.sum(-dx_hat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2.0 * (x - mu), axis=0)
            dx = dx_hat / np.sqrt(var + eps) + dvar * 2.0 * (x - mu) / m + dmu / m
            return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
        """}),
    Answer("alt with keepdims and np.mean", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            dx_hat = dout * gamma
            dx = (dx_hat - dx_hat.mean(axis=0, keepdims=True)
                  - x_hat * (dx_hat * x_hat).mean(axis=0, keepdims=True)) / np.sqrt(var + eps)
            return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
        """}),
    Answer("alt written with einsum", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            x_hat, var, gamma, eps = cache[1], cache[3], cache[4], cache[5]
            N = len(dout)
            dgamma = np.einsum("ij,ij->j", dout, x_hat)
            dbeta = np.einsum("ij->j", dout)
            dx = (gamma / (N * np.sqrt(var + eps))) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma, dbeta
        """}),
    Answer("alt computed with (1, D) keepdims sums, returned as (D,)", {ALT: """
        def batchnorm_backward_alt(dout, cache):
            _, x_hat, _, var, gamma, eps = cache
            N = dout.shape[0]
            dbeta = dout.sum(axis=0, keepdims=True)
            dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
            dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
            return dx, dgamma.ravel(), dbeta.ravel()
        """}),
    Answer("a module-level helper named like an old hidden-test name (_m)", {CELL: """
        def _m(a):  # mean over the batch, kept as a row
            return a.mean(axis=0, keepdims=True)

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            g = dout * gamma
            dx = (g - _m(g) - x_hat * _m(g * x_hat)) / np.sqrt(var + eps)
            return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        """}),
    Answer("a forward pass written with a loop", {FORWARD: LOOP_FORWARD}),
]
