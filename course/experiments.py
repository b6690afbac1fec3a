"""Small deep networks and sweeps for the Part C experiments.

Everything here is plain NumPy and short enough to read in one sitting. There is no batch
normalization in this module: the networks call the functions you wrote in B1/B2 (and C4),
handed in as a `BatchNorm`:

    bn = BatchNorm(batchnorm_forward, batchnorm_backward)
    params = init_mlp([64, 32, 32, 10], seed=0)
    params, losses = train(params, X, y, lr=0.1, epochs=5, batch_size=32, bn=bn)

A network is a list of layers, each a dict of arrays {"W": (D_in, D_out), "b", "gamma", "beta":
(D_out,)}. Hidden layers compute affine -> batch norm (if `bn` is given) -> non-linearity; the
last layer is affine only and feeds a softmax cross-entropy loss.
"""
import copy
import functools
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from threadpoolctl import threadpool_limits

from course.data import digits_raw
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


@dataclass
class BatchNorm:
    """Your batch-norm functions, for the networks in this module.

    - forward(x, gamma, beta) -> (out, cache), as in B1 (training mode, batch statistics)
    - backward(dout, cache) -> (dx, dgamma, dbeta), as in B2
    - inference(x, gamma, beta, mean, var) -> out, as in C4 (needed only to evaluate)
    """
    forward: Callable
    backward: Optional[Callable] = None
    inference: Optional[Callable] = None


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


# --- the network -------------------------------------------------------------------------

ACTIVATIONS = {
    # name: (f(z), f'(z) written with z and a = f(z))
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a ** 2),
}


def init_mlp(sizes, seed=0, gain=None):
    """Random weights for a fully connected network.

    Inputs:
    - sizes: layer widths [D_in, H_1, ..., H_L, C]
    - seed: seed of the weights
    - gain: weights are N(0, gain^2 / D_in); None means He's sqrt(2) (right for ReLU)
    Returns a list of layer dicts {"W", "b", "gamma", "beta"}; gamma = 1, beta = 0, b = 0.
    """
    rng = np.random.default_rng(seed)
    gain = np.sqrt(2.0) if gain is None else gain
    return [dict(W=rng.normal(0.0, gain / np.sqrt(d_in), size=(d_in, d_out)), b=np.zeros(d_out),
                 gamma=np.ones(d_out), beta=np.zeros(d_out))
            for d_in, d_out in zip(sizes[:-1], sizes[1:])]


def _bn_forward(bn, a, gamma, beta, ghost):
    """Batch norm of a, with statistics of each group of `ghost` consecutive rows if given."""
    if ghost is None:
        return bn.forward(a, gamma, beta)
    outs, caches = zip(*(bn.forward(a[i:i + ghost], gamma, beta) for i in range(0, len(a), ghost)))
    return np.concatenate(outs), caches


def _bn_backward(bn, dz, cache, ghost):
    if ghost is None:
        return bn.backward(dz, cache)
    parts = [bn.backward(dz[j * ghost:(j + 1) * ghost], c) for j, c in enumerate(cache)]
    return (np.concatenate([q[0] for q in parts]), sum(q[1] for q in parts), sum(q[2] for q in parts))


def forward(params, x, act="relu", bn=None, stats=None, ghost=None):
    """Forward pass of the network.

    Inputs:
    - params: list of layer dicts (see init_mlp)
    - x: input batch, shape (N, D_in)
    - act: "relu", "sigmoid" or "tanh"
    - bn: a BatchNorm, or None for the plain network
    - stats: None to normalize with the batch's statistics (training mode); or a list of
      (mean, var) per hidden layer, used through bn.inference (evaluation mode)
    - ghost: None, or a group size g: in training mode each group of g consecutive examples
      is normalized with its own statistics (as if the batch were split into batches of g)
    Returns a tuple of:
    - scores: (N, C) class scores
    - caches: one tuple per layer for backward(); caches[l][3] is layer l's pre-activation
      z (the non-linearity's input, shape (N, H_l)) and caches[l][4] its output
    """
    f, _ = ACTIVATIONS[act]
    caches, h = [], x
    for l, p in enumerate(params):
        a = h @ p["W"] + p["b"]
        if l == len(params) - 1:
            caches.append((h, None, None, None, None))
            return a, caches
        bn_cache = None
        if bn is None:
            z = a
        elif stats is None:
            z, bn_cache = _bn_forward(bn, a, p["gamma"], p["beta"], ghost)
        else:
            z = bn.inference(a, p["gamma"], p["beta"], *stats[l])
        out = f(z)
        caches.append((h, a, bn_cache, z, out))
        h = out


def backward(dscores, params, caches, act="relu", bn=None, ghost=None):
    """Gradients of the loss with respect to every parameter (training mode only).

    Inputs:
    - dscores: upstream gradient of the scores, shape (N, C)
    - params, caches: as used and returned by forward(); act and bn as given to forward()
    Returns a list of dicts {"W", "b", "gamma", "beta"} shaped like params (gamma and beta
    get zero gradient in the plain network, where they are not used).
    """
    _, df = ACTIVATIONS[act]
    grads, dh = [None] * len(params), dscores
    for l in reversed(range(len(params))):
        p = params[l]
        h, a, bn_cache, z, out = caches[l]
        g = dict(gamma=np.zeros_like(p["gamma"]), beta=np.zeros_like(p["beta"]))
        if l < len(params) - 1:
            dz = dh * df(z, out)
            if bn is None:
                da = dz
            else:
                da, g["gamma"], g["beta"] = _bn_backward(bn, dz, bn_cache, ghost)
        else:
            da = dh
        g["W"], g["b"] = h.T @ da, da.sum(axis=0)
        dh = da @ p["W"].T
        grads[l] = g
    return grads


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores) and its gradient.

    Inputs: scores (N, C); y (N,) integer labels.
    Returns a tuple of: loss (float), dscores (N, C).
    """
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    return float(loss), dscores / n


def loss_and_grads(params, x, y, act="relu", bn=None, ghost=None):
    """Loss on one batch (training mode) and the gradients of every parameter."""
    scores, caches = forward(params, x, act, bn, ghost=ghost)
    loss, dscores = softmax_loss(scores, y)
    return loss, backward(dscores, params, caches, act, bn, ghost)


def trainable(bn):
    """Names of the parameters SGD updates: gamma and beta only exist with batch norm."""
    return ("W", "b", "gamma", "beta") if bn is not None else ("W", "b")


def to_vector(params, bn=None):
    """All trainable parameters (or gradients) in one flat vector."""
    return np.concatenate([p[k].ravel() for p in params for k in trainable(bn)])


def from_vector(theta, like, bn=None):
    """The inverse of to_vector: a new parameter list shaped like `like`."""
    params, i = copy.deepcopy(like), 0
    for p in params:
        for k in trainable(bn):
            n = p[k].size
            p[k] = theta[i:i + n].reshape(p[k].shape).copy()
            i += n
    return params


def sgd_step(params, grads, lr, bn=None):
    """One plain gradient step, in place."""
    for p, g in zip(params, grads):
        for k in trainable(bn):
            p[k] -= lr * g[k]


@single_threaded
def train(params, x, y, *, lr, epochs, batch_size, act="relu", bn=None, seed=0, every=None,
          ghost=None):
    """Mini-batch SGD on a copy of params.

    Inputs:
    - params: initial parameters (left unchanged)
    - x, y: training data (N, D) and labels (N,)
    - lr, epochs, batch_size: plain SGD settings; the last incomplete batch is dropped
    - act, bn: as for forward()
    - seed: seed of the shuffling (the same seed gives the same batches with and without BN)
    - every: optional function every(step, params, xb, yb), called before each step
    - ghost: batch-norm group size within each batch (see forward); None for the whole batch
    Returns a tuple of:
    - params: the trained parameters
    - losses: training loss of each step, shape (steps,); stops early (and ends in inf)
      when the loss becomes non-finite
    """
    params, rng, losses, step = copy.deepcopy(params), np.random.default_rng(seed), [], 0
    with np.errstate(all="ignore"):  # a diverging run overflows; that is what we measure
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x) - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                if every is not None:
                    every(step, params, x[idx], y[idx])
                loss, grads = loss_and_grads(params, x[idx], y[idx], act, bn, ghost)
                if not np.isfinite(loss):
                    losses.append(np.inf)
                    return params, np.array(losses)
                losses.append(loss)
                sgd_step(params, grads, lr, bn)
                step += 1
    return params, np.array(losses)


@single_threaded
def population_stats(params, x, act="relu", bn=None):
    """Mean and variance of every hidden layer's batch-norm input over the whole of x.

    Used to evaluate a trained network with fixed statistics (what running averages estimate).
    Returns a list of (mean, var) per hidden layer, each of shape (H_l,).
    """
    _, caches = forward(params, x, act, bn)
    return [(c[1].mean(axis=0), c[1].var(axis=0)) for c in caches[:-1]]


def accuracy(params, x, y, act="relu", bn=None, stats=None):
    """Share of correctly classified examples (evaluation mode when stats are given)."""
    scores, _ = forward(params, x, act, bn, stats)
    return float((scores.argmax(axis=1) == y).mean())


@single_threaded
def lr_sweep(params, x, y, lrs, *, epochs, batch_size, act="relu", bn=None, seed=0):
    """Train from the same start with each learning rate.

    Returns a tuple of:
    - initial_loss: loss of the untrained network on all of x (training mode)
    - final_losses: (len(lrs),) loss on all of x after training; inf where training diverged
    """
    with np.errstate(all="ignore"):
        initial = loss_and_grads(params, x, y, act, bn)[0]
        finals = []
        for lr in lrs:
            trained, losses = train(params, x, y, lr=lr, epochs=epochs, batch_size=batch_size,
                                    act=act, bn=bn, seed=seed)
            final = loss_and_grads(trained, x, y, act, bn)[0] if np.isfinite(losses[-1]) else np.inf
            finals.append(final if np.isfinite(final) else np.inf)
    return initial, np.array(finals)


def vector_functions(params, x, y, act="relu", bn=None):
    """The loss on one batch and its gradient as functions of a flat parameter vector.

    Returns a tuple of: f(theta) -> float, grad_f(theta) -> (P,) array, theta0 (P,) (the
    vector of params), so that landscape measurements need not know about layers.
    """
    def f(theta):
        return loss_and_grads(from_vector(theta, params, bn), x, y, act, bn)[0]

    def grad_f(theta):
        grads = loss_and_grads(from_vector(theta, params, bn), x, y, act, bn)[1]
        return to_vector(grads, bn)

    return f, grad_f, to_vector(params, bn)
