"""The references: one implementation of each idea the hidden checks need, shared by all of them.

A check grades one task. What that task's code is given (a cache for a backward pass, estimates
for a tracking error, a forward pass for a Jacobian) comes from here, never from the student's
other answers. The keyword arguments that are not part of the idea (ddof, eps_outside, mean=0.0,
...) build the known wrong answers a check names ("the variance divides by N-1"): a mistake is a
reference with one thing changed, so its expected value is computed, never typed in.

Conventions, as the course teaches them (the conventions card of the notebooks): x has shape
(N, D); statistics over the batch axis 0 with 1/N; the cache is (x, x_hat, mu, var, gamma, eps).
"""
import numpy as np

EPS = 1e-5
CACHE_PARTS = ("x", "x_hat", "mu", "var", "gamma", "eps")


# -- batch norm -------------------------------------------------------------------------------

def batchnorm_forward(x, gamma, beta, eps=EPS, *, ddof=0, axis=0, eps_outside=False, power=0.5):
    """out, cache for a batch x; ddof=1, another axis, eps outside the root or another power of
    (var + eps) make the known mistakes. The cache's mu and var have shape (D,)."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    x_hat = (x - mu) / (np.sqrt(var) + eps if eps_outside else (var + eps) ** power)
    out = gamma * x_hat + beta
    return out, (x, x_hat, np.squeeze(mu, axis=axis), np.squeeze(var, axis=axis), gamma, eps)


def batchnorm_backward(dout, cache, *, mean=1.0, var=1.0, sign=1.0, gamma=True, s=None):
    """dx, dgamma, dbeta by the short formula. mean and var weight the terms through the mean
    and through the variance (0.0 drops one, -1.0 flips its sign), sign flips dx, gamma=False
    forgets the factor gamma, and s replaces the inverse standard deviation 1/sqrt(var + eps)."""
    _, x_hat, _, v, g, e = cache
    n = dout.shape[0]
    inv = 1.0 / np.sqrt(v + e) if s is None else s
    dx_hat = dout * g if gamma else dout
    dx = (n * dx_hat - mean * dx_hat.sum(axis=0) - var * x_hat * (dx_hat * x_hat).sum(axis=0)) * inv / n
    return sign * dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_staged(dout, cache, s, ds):
    """dx of a backward pass staged through the graph that writes the inverse standard deviation
    as s(var, eps), with ds(var, eps) its derivative: with INVERSE_STD that is the exact dx; with
    one of EPS_MISTAKES it is the gradient such a staged backward gets."""
    x, _, mu, v, g, e = cache
    n = dout.shape[0]
    xc, dx_hat = x - mu, dout * g
    dxc = dx_hat * s(v, e) + 2.0 * xc * ds(v, e) * (dx_hat * xc).sum(axis=0) / n
    return dxc - dxc.sum(axis=0) / n


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=EPS):
    """The output at inference: the running statistics in place of the batch's own."""
    return gamma * (np.asarray(x, dtype=np.float64) - running_mean) / np.sqrt(running_var + eps) + beta


# -- where eps goes: the right inverse standard deviation and the ways it goes wrong -----------

INVERSE_STD = (lambda v, e: (v + e) ** -0.5, lambda v, e: -0.5 * (v + e) ** -1.5)

# (the short formula's mistake, the staged backward's mistake, s(var, eps), ds/dvar)
EPS_MISTAKES = [
    ("eps is left out: the factor is 1/sqrt(var), not 1/sqrt(var + eps)",
     "eps is left out of the backward pass: it uses sqrt(var) where the forward pass has sqrt(var + eps)",
     lambda v, e: v ** -0.5, lambda v, e: -0.5 * v ** -1.5),
    ("eps is added outside the square root: the factor is 1/(sqrt(var) + eps), not 1/sqrt(var + eps)",
     "eps is added outside the square root in the backward pass: sqrt(var) + eps where the forward pass has "
     "sqrt(var + eps)",
     lambda v, e: 1.0 / (np.sqrt(v) + e), lambda v, e: -0.5 / (np.sqrt(v) * (np.sqrt(v) + e) ** 2)),
    ("eps is subtracted: the factor is 1/sqrt(var - eps), not 1/sqrt(var + eps)",
     "the backward pass uses sqrt(var - eps) where the forward pass has sqrt(var + eps)",
     lambda v, e: (v - e) ** -0.5, lambda v, e: -0.5 * (v - e) ** -1.5),
]


# -- layer norm -------------------------------------------------------------------------------

def layernorm_forward(x, gamma, beta, axes, eps=EPS, *, ddof=0, eps_outside=False):
    """Layer norm's output, each sample normalised over `axes` (the trailing normalized_shape)."""
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, ddof=ddof, keepdims=True)
    x_hat = (x - mu) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
    return gamma * x_hat + beta


def layernorm_backward(x, gamma, dout, axes, eps=EPS, *, coupling=True, s=None):
    """dx, dgamma, dbeta of layer norm; coupling=False drops the terms through the mean and the
    variance, s(var, eps) replaces the inverse standard deviation in dx (x_hat stays the forward
    pass's)."""
    leading = tuple(range(x.ndim - len(axes)))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    inv = 1.0 / np.sqrt(var + eps) if s is None else s(var, eps)
    g = dout * gamma
    dx = g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True) if coupling else g
    return dx * inv, (dout * x_hat).sum(axis=leading), dout.sum(axis=leading)


def layernorm_staged(x, gamma, dout, axes, s, ds, eps=EPS):
    """dx of a staged layer-norm backward that writes the inverse standard deviation as s(var, eps)."""
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    xc, g = x - mu, dout * gamma
    size = int(np.prod([x.shape[a] for a in axes]))
    dxc = g * s(var, eps) + 2.0 * xc * ds(var, eps) * (g * xc).sum(axis=axes, keepdims=True) / size
    return dxc - dxc.mean(axis=axes, keepdims=True)


# -- running statistics -----------------------------------------------------------------------

def running_average(values, momentum, initial=0.0):
    """The estimates after each value: e_t = momentum * e_(t-1) + (1 - momentum) * v_t, e_0 = initial."""
    out, estimate = [], initial
    for value in values:
        estimate = momentum * estimate + (1 - momentum) * value
        out.append(estimate)
    return np.array(out, dtype=np.float64)


def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
    """One update of the running statistics with a batch of m: the running variance averages the
    unbiased m / (m - 1) * var."""
    return (momentum * running_mean + (1 - momentum) * mu,
            momentum * running_var + (1 - momentum) * var * m / (m - 1))


# -- gradients by finite differences ----------------------------------------------------------

def numerical_gradient(f, x, dout, h=1e-5):
    """The centred difference of sum(f(x) * dout) with respect to each entry of x (x is copied)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        plus = np.array(f(x), dtype=np.float64)
        x[k] = old - h
        minus = np.array(f(x), dtype=np.float64)
        x[k] = old
        grad[k] = np.sum((plus - minus) * dout) / (2 * h)
    return grad
