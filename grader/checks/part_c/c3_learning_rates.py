"""Hidden checks of C3 (why batch norm allows higher learning rates): bn_linear,
largest_stable_lr and along_gradient.

bn_linear is batch norm plus one product: its check runs it with the reference batch norm in
place of the batchnorm_forward and batchnorm_backward pasted at the top of the notebook (B1 and
B2 grade those), through the notebook's locked helper with_stand_ins, so a mistake there costs
nothing here. The other two checks hand the student's function inputs of their own (losses, a
loss and its gradient): nothing of the student's other answers.
"""
import numpy as np

from course.testing import CheckFailed, check_array, check_scalar, check_tuple, in_kernel
from grader.checks import reference

# The reference batch norm, in place of the pasted one while bn_linear runs (called back from the kernel).
_STAND_INS = {"batchnorm_forward": reference.batchnorm_forward, "batchnorm_backward": reference.batchnorm_backward}


def test_bn_linear(bn_linear, with_stand_ins):
    """out and dW for two layers (8 x 3 -> 4, 32 x 10 -> 7), with the reference batch norm."""
    rng = np.random.default_rng(2024)
    for n, d, h in [(8, 3, 4), (32, 10, 7)]:
        x, W = rng.normal(size=(n, d)), rng.normal(size=(d, h)) * 3
        gamma, beta, dout = rng.uniform(0.5, 2, h), rng.normal(size=h), rng.normal(size=(n, h))
        out, cache = reference.batchnorm_forward(x @ W, gamma, beta)
        dh = reference.batchnorm_backward(dout, cache)[0]
        result = in_kernel(with_stand_ins, _STAND_INS, bn_linear, x.copy(), W.copy(), gamma.copy(), beta.copy(),
                           dout.copy())
        check_tuple(f"bn_linear(x, W, gamma, beta, dout) for x of shape {x.shape}", result, 2, parts=("out", "dW"))
        check_array(f"out for x of shape {x.shape}", result[0], out, rtol=1e-8, atol=1e-10,
                    mistakes={"the variance divides by N-1 (ddof=1); batch norm uses 1/N":
                              reference.batchnorm_forward(x @ W, gamma, beta, ddof=1)[0]},
                    hint="out = batchnorm_forward(x @ W, gamma, beta)[0].")
        check_array(f"dW for x of shape {x.shape}", result[1], x.T @ dh, rtol=1e-7, atol=1e-9,
                    mistakes={
                        "the gradient skips batch norm (x.T @ dout): it must go through batchnorm_backward": x.T @ dout,
                        "dh leaves out the factor gamma: pass dout itself to batchnorm_backward, which multiplies "
                        "by gamma": x.T @ reference.batchnorm_backward(dout, cache, gamma=False)[0]},
                    hint="dW = x.T @ dh, with dh the gradient batchnorm_backward returns for the input of batch norm.")


# (lrs, final losses, initial loss, the largest stable rate, what the case is about)
_STABLE_CASES = [
    ([0.01, 0.1, 1.0, 10.0], [2.0, 0.5, 2.5, np.inf], 2.3, 0.1,
     "a run that ends above the initial loss (2.5 > 2.3) is not stable, even if finite"),
    ([1.0, 0.01, 10.0, 0.1], [np.nan, 2.0, np.inf, 0.4], 2.3, 0.1,
     "the rates are not sorted (sort them first), and a diverged run can be nan"),
    ([0.5, 1.0, 2.0], [0.3, 0.2, 0.9], 2.3, 2.0,
     "the edge of the stable range need not have the lowest final loss"),
    ([0.1, 1.0, 10.0], [0.5, np.inf, 1.0], 2.3, 0.1,
     "a lucky run at 10.0 above a rate that failed (1.0) does not count: stop at the first failure"),
    ([0.5, 1.0, 2.0], [np.inf, np.nan, 5.0], 2.3, None, "no run is stable: return None"),
    ([0.5, 1.0, 2.0], [np.inf, 0.3, 0.2], 2.3, None, "the smallest rate already fails: return None"),
]


def test_stable_lr(largest_stable_lr):
    """The edge of the stable range in six sweeps: unsorted rates, nan, a finite run above the
    initial loss, a lucky run after a failure, and no stable run at all."""
    for lrs, losses, initial, expected, why in _STABLE_CASES:
        got = largest_stable_lr(np.array(lrs), np.array(losses), initial)
        name = f"largest_stable_lr for lrs {lrs}, final losses {losses}, initial loss {initial}"
        if expected is None:
            if got is not None:
                raise CheckFailed(f"{name} returned {got!r}; expected None ({why}).")
        else:
            check_scalar(name, got, expected, hint=why)


def test_along_gradient(along_gradient):
    """Losses and gradient changes along the gradient of a loss that is not quadratic (4
    parameters, 3 step sizes), each mistake named."""
    rng = np.random.default_rng(11)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + np.eye(4)
    theta, etas = rng.normal(size=4), np.array([0.01, 0.05, 0.2])

    def f(t):
        return 0.5 * t @ A @ t + np.sum(np.sin(t))

    def grad(t):
        return A @ t + np.cos(t)

    g = grad(theta)
    down, up = [theta - e * g for e in etas], [theta + e * g for e in etas]  # the steps against and along g
    result = along_gradient(f, grad, theta.copy(), etas.copy())
    check_tuple("along_gradient(f, grad_f, theta, etas)", result, 2, parts=("losses", "grad_changes"))
    losses, changes = result
    check_array("losses (4 parameters, 3 step sizes)", np.asarray(losses, dtype=float), [f(t) for t in down], rtol=1e-9,
                mistakes={"the step goes up the gradient (theta + eta * g); step against it": [f(t) for t in up],
                          "the step uses the normalized gradient g / ||g||; use g itself":
                              [f(theta - e * g / np.linalg.norm(g)) for e in etas]})
    check_array("grad_changes (4 parameters, 3 step sizes)", np.asarray(changes, dtype=float),
                [np.linalg.norm(grad(t) - g) for t in down], rtol=1e-9,
                mistakes={"the change is squared (no square root)": [np.sum((grad(t) - g) ** 2) for t in down],
                          "it is the norm of the new gradient, not of its change":
                              [np.linalg.norm(grad(t)) for t in down],
                          "the step goes up the gradient (theta + eta * g)": [np.linalg.norm(grad(t) - g) for t in up]})
