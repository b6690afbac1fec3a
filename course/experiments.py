"""Training runs and sweeps for the Part C experiments, on the course's one network.

The network is `course.mlp.MLP` (the one B5 trains); there is no batch normalization here
either: the network calls the functions you wrote in B1/B2 (and C4), handed in as a `BatchNorm`:

    bn = BatchNorm(batchnorm_forward, batchnorm_backward)
    net = MLP([64, 32, 32, 10], "relu", batchnorm=bn, seed=0)
    trained, losses = train(net, X, y, lr=0.1, epochs=5, batch_size=32)

Hidden layers compute affine -> batch norm (if the network has it) -> non-linearity; the last
layer is affine only and feeds a softmax cross-entropy loss (course.mlp.softmax_loss).
"""
import functools
import os

import numpy as np
from threadpoolctl import threadpool_limits

from course.data import digits_raw
from course.mlp import MLP, BatchNorm, softmax_loss, train_epoch  # noqa: F401  (one network for the course)
from course.palette import COLORS  # noqa: F401  (one palette for "with BN" / "without BN" throughout the course)


def reduced_run():
    """True while nbgrader grades or validates a notebook: experiments then run small."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def single_threaded(function):
    """Run `function` with one BLAS thread: these matrices are small, and on a busy machine
    extra threads only wait for each other (ten times slower on two shared cores)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)
    return wrapper


# --- data --------------------------------------------------------------------------------

def load_digits_split(n_train=500, n_test=500, seed=0):
    """The 8x8 handwritten digits of course.data, standardized and split.

    Inputs:
    - n_train, n_test: sizes of the two disjoint random subsets (n_train + n_test <= 1797)
    - seed: seed of the random split
    Returns a tuple of:
    - X_train: (n_train, 64) float64, each pixel centred with its training mean and divided by
      its training std (at least 1 grey level, so that pixels blank in training stay small)
    - y_train: (n_train,) int labels 0..9
    - X_test: (n_test, 64) float64, standardized with the *training* statistics
    - y_test: (n_test,) int
    """
    X, y = digits_raw()
    if n_train + n_test > len(X):
        raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the {len(X)} digits")
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:n_train], order[n_train:n_train + n_test]
    mean, std = X[train].mean(axis=0), np.maximum(X[train].std(axis=0), 1.0)
    return (X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test]


# --- training and measuring ----------------------------------------------------------------

@single_threaded
def train(net, x, y, *, lr, epochs, batch_size, seed=0, every=None, ghost=None):
    """Mini-batch SGD on a copy of the network.

    Inputs:
    - net: an MLP (left unchanged)
    - x, y: training data (N, D) and labels (N,)
    - lr, epochs, batch_size: plain SGD settings; the last incomplete batch is dropped
    - seed: seed of the shuffling (the same seed gives the same batches with and without BN)
    - every: optional function every(step, net, xb, yb), called before each step
    - ghost: batch-norm group size within each batch (see MLP.forward); None for the whole batch
    Returns a tuple of:
    - net: the trained copy
    - losses: training loss of each step, shape (steps,); stops early (and ends in inf)
      when the loss becomes non-finite
    """
    net, rng, losses, step = net.copy(), np.random.default_rng(seed), [], 0
    with np.errstate(all="ignore"):  # a diverging run overflows; that is what we measure
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x) - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                if every is not None:
                    every(step, net, x[idx], y[idx])
                loss = net.train_step(x[idx], y[idx], lr, ghost)
                if not np.isfinite(loss):
                    losses.append(np.inf)
                    return net, np.array(losses)
                losses.append(loss)
                step += 1
    return net, np.array(losses)


@single_threaded
def population_stats(net, x):
    """Mean and (biased) variance of every hidden layer's batch-norm input z over the whole of x.

    Used to evaluate a trained network with fixed statistics (what running averages estimate).
    Returns a list of (mean, var) per hidden layer, each of shape (H_l,).
    """
    _, caches = net.forward(x)
    return [(c["z"].mean(axis=0), c["z"].var(axis=0)) for c in caches]


def batch_loss(net, x, y):
    """Loss of the network on all of x in training mode (float)."""
    return softmax_loss(net.forward(x)[0], y)[0]


@single_threaded
def lr_sweep(net, x, y, lrs, *, epochs, batch_size, seed=0):
    """Train copies of the same network with each learning rate.

    Returns a tuple of:
    - initial_loss: loss of the untrained network on all of x (training mode)
    - final_losses: (len(lrs),) loss on all of x after training; inf where training diverged
    """
    with np.errstate(all="ignore"):
        initial = batch_loss(net, x, y)
        finals = []
        for lr in lrs:
            trained, losses = train(net, x, y, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
            final = batch_loss(trained, x, y) if np.isfinite(losses[-1]) else np.inf
            finals.append(final if np.isfinite(final) else np.inf)
    return initial, np.array(finals)


def vector_functions(net, x, y):
    """The loss on one batch and its gradient as functions of a flat parameter vector.

    Returns a tuple of: f(theta) -> float, grad_f(theta) -> (P,) array, theta0 (P,) (the
    network's parameters as a vector), so that landscape measurements need not know about layers.
    The network itself is not changed.
    """
    probe = net.copy()

    def f(theta):
        probe.set_vector(theta)
        return batch_loss(probe, x, y)

    def grad_f(theta):
        probe.set_vector(theta)
        grads = probe.loss(x, y)[1]
        return np.concatenate([grads[name].ravel() for name in probe.params])

    return f, grad_f, net.get_vector()
