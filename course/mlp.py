"""The course's deep network: fully connected, in plain NumPy, with or without batch normalization.

B5 and every Part C experiment train this one network. Every hidden layer computes

    z = x W + b                  (affine)
    u = BN(z)  or  u = z         (batch normalization, if the network has it)
    h = f(u)                     (the non-linearity: sigmoid, tanh or ReLU)

and a last affine layer turns the last h into class scores, trained with softmax cross-entropy 𝓛.
The network does not know how to batch-normalize: you hand it your own functions (B1, B2, and for
inference C4's, or B5's), as a pair `(batchnorm_forward, batchnorm_backward)` or a `BatchNorm`.

Two modes, as in the course's conventions card (docs/conventions.md):
- training mode (`forward(X)`, `loss(X, y)`): every layer normalizes with the statistics of the
  mini-batch it is given (optionally of groups of `ghost` examples within it);
- inference mode (`forward(X, stats=...)`, `accuracy(X, y)`): every layer normalizes with fixed
  statistics through your `batchnorm_inference`: the running statistics the network tracked while
  training (your `update_running`, called after every training step), or the `stats` you give it.
"""
import copy
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu")


@dataclass
class BatchNorm:
    """Your batch-norm functions, for the network.

    - forward(x, gamma, beta) -> (out, cache): training mode, batch statistics (B1)
    - backward(dout, cache) -> (dx, dgamma, dbeta) (B2); needed to train
    - inference(x, gamma, beta, running_mean, running_var) -> out: fixed statistics (C4);
      needed to evaluate in inference mode
    - update_running(running_mean, running_var, mu, var, m, momentum) -> (running_mean, running_var):
      one step of the running averages (C4); needed to track running statistics while training
    """
    forward: Callable
    backward: Optional[Callable] = None
    inference: Optional[Callable] = None
    update_running: Optional[Callable] = None


def _sigmoid(u):
    # Written with exp(-|u|) so that large |u| neither overflows nor warns.
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax_loss(scores, y):
    """Mean softmax cross-entropy of a batch and its gradient.

    Inputs: scores (N, C) float; y (N,) integer labels.
    Returns a tuple of: loss (float), dscores (N, C), the gradient of the loss.
    """
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1.0
    return float(loss), dscores / n


class MLP:
    """A fully connected classifier: `len(hidden)` hidden layers, then an affine layer to scores.

    Inputs:
    - sizes: (D, H1, H2, ..., HL, C): input dimension, hidden widths, number of classes
    - activation: "sigmoid" (default), "tanh" or "relu"
    - batchnorm: None for a plain network; or a pair (batchnorm_forward, batchnorm_backward) with
      the signatures of B1 and B2; or a BatchNorm (which can also evaluate and track running
      statistics). Then every hidden layer normalizes z before f.
    - seed: seed of the initial weights. Two networks with the same sizes, seed and weight_scale
      start from the same W and b whether or not they have batch norm (gamma 1, beta 0).
    - weight_scale: W of a layer with fan-in n is drawn from N(0, (weight_scale / sqrt(n))^2);
      None means sqrt(2) for ReLU (He) and 1 otherwise
    - momentum: rho, the fraction of the old running value kept at each update (conventions card)

    Attributes:
    - params: dict of float64 arrays "W1", "b1", ..., "W{L+1}", "b{L+1}" and, with batch norm,
      "gamma1", "beta1", ..., "gammaL", "betaL"
    - running: with batch norm, a list of L pairs (running_mean, running_var), each of shape (H_l,),
      starting at (0, 1); updated by track() after every training step if the BatchNorm has
      update_running
    - num_hidden: L, the number of hidden layers
    Raises ValueError for an unknown activation, fewer than one hidden layer, or a bad batchnorm.
    """

    def __init__(self, sizes, activation="sigmoid", batchnorm=None, seed=0, weight_scale=None,
                 momentum=0.9):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if len(sizes) < 3:
            raise ValueError(f"sizes must be (D, H1, ..., C) with at least one hidden layer; got {sizes}")
        if isinstance(batchnorm, (tuple, list)) and len(batchnorm) == 2 and all(map(callable, batchnorm)):
            batchnorm = BatchNorm(*batchnorm)
        if batchnorm is not None and not (isinstance(batchnorm, BatchNorm) and callable(batchnorm.forward)):
            raise ValueError("batchnorm must be None, a pair (batchnorm_forward, batchnorm_backward) "
                             "or a BatchNorm")
        if weight_scale is None:
            weight_scale = np.sqrt(2.0) if activation == "relu" else 1.0
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        self.batchnorm = batchnorm
        self.momentum = momentum
        self.num_hidden = len(sizes) - 2
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            self.params[f"W{i}"] = rng.normal(0.0, weight_scale / np.sqrt(n_in), size=(n_in, n_out))
            self.params[f"b{i}"] = np.zeros(n_out)
            if batchnorm is not None and i <= self.num_hidden:
                self.params[f"gamma{i}"] = np.ones(n_out)
                self.params[f"beta{i}"] = np.zeros(n_out)
        self.running = ([(np.zeros(h), np.ones(h)) for h in self.sizes[1:-1]]
                        if batchnorm is not None else None)

    def __repr__(self):
        bn = "with" if self.batchnorm else "without"
        return f"MLP(sizes={self.sizes}, activation={self.activation!r}, {bn} batch norm)"

    def copy(self):
        """An independent copy (parameters and running statistics)."""
        return copy.deepcopy(self)

    def _f(self, u):
        if self.activation == "sigmoid":
            return _sigmoid(u)
        return np.tanh(u) if self.activation == "tanh" else np.maximum(u, 0.0)

    def _df(self, h):
        # f'(u) written with h = f(u): sigmoid' = h (1 - h), tanh' = 1 - h^2, relu' = [h > 0]
        if self.activation == "sigmoid":
            return h * (1.0 - h)
        return 1.0 - h * h if self.activation == "tanh" else (h > 0).astype(float)

    def _normalize(self, z, i, ghost):
        gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
        if ghost is None:
            return self.batchnorm.forward(z, gamma, beta)
        outs, caches = zip(*(self.batchnorm.forward(z[s:s + ghost], gamma, beta)
                             for s in range(0, len(z), ghost)))
        return np.concatenate(outs), caches

    def _normalize_backward(self, du, cache, ghost):
        if ghost is None:
            return self.batchnorm.backward(du, cache)
        parts = [self.batchnorm.backward(du[j * ghost:(j + 1) * ghost], c) for j, c in enumerate(cache)]
        return (np.concatenate([p[0] for p in parts]), sum(p[1] for p in parts),
                sum(p[2] for p in parts))

    def forward(self, X, stats=None, ghost=None):
        """Class scores for a batch, and what each hidden layer computed.

        Inputs:
        - X: input batch, shape (N, D)
        - stats: None for training mode (every layer normalizes with this batch's statistics);
          or a list of L pairs (mean, var) for inference mode (through batchnorm_inference)
        - ghost: None, or a group size g: in training mode each group of g consecutive examples
          is normalized with its own statistics ("ghost batches")

        Returns a tuple of:
        - scores: shape (N, C)
        - caches: list of L dicts, one per hidden layer (caches[0] is the first), each with
          "x": the layer's input, shape (N, H_prev)
          "z": the affine output x W + b, shape (N, H)
          "u": the input to the non-linearity: BN(z) with batch norm, z without, shape (N, H)
          "h": the layer's output f(u), shape (N, H)
          "bn": the cache batchnorm_forward returned (None without batch norm or in inference mode)
        """
        p, caches = self.params, []
        if self.batchnorm is not None and stats is not None and self.batchnorm.inference is None:
            raise ValueError("this network cannot normalize with fixed statistics: build it with "
                             "batchnorm=BatchNorm(forward, backward, inference, update_running)")
        h = X
        for i in range(1, self.num_hidden + 1):
            z = h @ p[f"W{i}"] + p[f"b{i}"]
            bn_cache = None
            if self.batchnorm is None:
                u = z
            elif stats is None:
                u, bn_cache = self._normalize(z, i, ghost)
            else:
                u = self.batchnorm.inference(z, p[f"gamma{i}"], p[f"beta{i}"], *stats[i - 1])
            caches.append({"x": h, "z": z, "u": u, "h": self._f(u), "bn": bn_cache})
            h = caches[-1]["h"]
        last = self.num_hidden + 1
        return h @ p[f"W{last}"] + p[f"b{last}"], caches

    def backward(self, dscores, caches, ghost=None):
        """Gradients of the loss with respect to every parameter (training mode only).

        Inputs:
        - dscores: upstream gradient ∂𝓛/∂scores, shape (N, C)
        - caches: the caches forward() returned for the same batch (training mode, same ghost)

        Returns grads: dict with the keys and shapes of self.params.
        """
        p, grads = self.params, {}
        last = self.num_hidden + 1
        h = caches[-1]["h"]
        grads[f"W{last}"] = h.T @ dscores
        grads[f"b{last}"] = dscores.sum(axis=0)
        dh = dscores @ p[f"W{last}"].T
        for i in range(self.num_hidden, 0, -1):
            cache = caches[i - 1]
            du = dh * self._df(cache["h"])
            if self.batchnorm is not None:
                dz, grads[f"gamma{i}"], grads[f"beta{i}"] = self._normalize_backward(du, cache["bn"], ghost)
            else:
                dz = du
            grads[f"W{i}"] = cache["x"].T @ dz
            grads[f"b{i}"] = dz.sum(axis=0)
            dh = dz @ p[f"W{i}"].T
        return grads

    def loss(self, X, y, ghost=None):
        """Mean softmax cross-entropy of a batch in training mode, and its gradients.

        Inputs:
        - X: shape (N, D); y: integer labels, shape (N,); ghost: as for forward()

        Returns a tuple of:
        - loss: float
        - grads: dict with the keys and shapes of self.params
        """
        scores, caches = self.forward(X, ghost=ghost)
        loss, dscores = softmax_loss(scores, y)
        return loss, self.backward(dscores, caches, ghost)

    def track(self, caches):
        """Update the running statistics with one training batch's z (through update_running).

        Does nothing without batch norm or when the BatchNorm has no update_running.
        Inputs: caches, as forward() returned them for a training batch of m >= 2 examples.
        """
        if self.batchnorm is None or self.batchnorm.update_running is None:
            return
        for i, cache in enumerate(caches):
            z = cache["z"]
            self.running[i] = tuple(self.batchnorm.update_running(
                *self.running[i], z.mean(axis=0), z.var(axis=0), len(z), self.momentum))

    def train_step(self, X, y, lr, ghost=None):
        """One step of SGD on a batch, then one update of the running statistics; returns the loss."""
        scores, caches = self.forward(X, ghost=ghost)
        loss, dscores = softmax_loss(scores, y)
        grads = self.backward(dscores, caches, ghost)
        if np.isfinite(loss):
            self.step(grads, lr)
            self.track(caches)
        return loss

    def scores(self, X, stats=None):
        """Class scores in inference mode: with batch norm, normalized with fixed statistics
        (`stats`, or else the running statistics), so that each example's score does not
        depend on the other examples in X. Shape (N, C)."""
        if self.batchnorm is not None and stats is None:
            if self.batchnorm.update_running is None:
                raise ValueError("this network tracks no running statistics: build it with "
                                 "batchnorm=BatchNorm(forward, backward, inference, update_running), "
                                 "or pass stats")
            stats = self.running
        return self.forward(X, stats=stats)[0]

    def accuracy(self, X, y, stats=None):
        """Share of the examples in (X, y) whose highest score (inference mode) is the right class."""
        return float(np.mean(self.scores(X, stats).argmax(axis=1) == y))

    def step(self, grads, lr):
        """One step of gradient descent: every parameter -= lr * its gradient (in place)."""
        for name, g in grads.items():
            self.params[name] -= lr * g

    def get_vector(self):
        """All parameters in one flat vector (in the order of self.params)."""
        return np.concatenate([v.ravel() for v in self.params.values()])

    def set_vector(self, theta):
        """Set all parameters from a flat vector, the inverse of get_vector (in place)."""
        start = 0
        for name, v in self.params.items():
            self.params[name] = np.asarray(theta[start:start + v.size], dtype=np.float64).reshape(v.shape).copy()
            start += v.size


def train_epoch(net, X, y, rng, batch_size=32, lr=0.1, ghost=None):
    """One pass of mini-batch SGD over (X, y) in an order drawn from rng.

    Two networks trained with generators of the same seed see the same mini-batches in the same
    order. The last, smaller mini-batch of an epoch is dropped, so that every batch-norm layer
    always sees batch_size examples. After every step the network updates its running
    statistics (if its BatchNorm has update_running).

    Inputs:
    - net: an MLP (changed in place)
    - X: shape (N, D); y: integer labels, shape (N,)
    - rng: a np.random.Generator, advanced by one permutation
    - batch_size, lr: mini-batch size and learning rate; ghost: as for MLP.forward

    Returns the losses of the epoch's steps, float array; a non-finite loss ends the epoch early
    (the step is not taken).
    """
    order = rng.permutation(X.shape[0])
    losses = []
    for start in range(0, X.shape[0] - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        losses.append(net.train_step(X[batch], y[batch], lr, ghost))
        if not np.isfinite(losses[-1]):
            break
    return np.array(losses)
