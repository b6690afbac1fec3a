"""A deep fully connected network in plain NumPy, with or without batch normalization.

Every hidden layer computes

    z = x W + b                  (affine)
    u = BN(z)  or  u = z         (batch normalization, if the network has it)
    h = f(u)                     (the non-linearity: sigmoid or tanh)

and a last affine layer turns the last h into class scores, trained with softmax cross-entropy.
The network does not know how to batch-normalize: you hand it your own `batchnorm_forward` and
`batchnorm_backward` (Exercises B1 and B2). It always normalizes with the statistics of the batch
it is given (when it is evaluated, that batch is the whole test set), so it needs no running
averages; Exercise A5 and question C4 discuss what a network used on single examples must do.
"""
import numpy as np

ACTIVATIONS = ("sigmoid", "tanh")


def _sigmoid(u):
    # Written with exp(-|u|) so that large |u| neither overflows nor warns.
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class MLP:
    """A fully connected classifier: `len(hidden)` hidden layers, then an affine layer to scores.

    Inputs:
    - sizes: (D, H1, H2, ..., HL, C): input dimension, hidden widths, number of classes
    - activation: "sigmoid" (default) or "tanh"
    - batchnorm: None for a plain network, or a pair (batchnorm_forward, batchnorm_backward) with
      the signatures of Exercises B1 and B2; then every hidden layer normalizes z before f
    - seed: seed of the initial weights. Two networks with the same sizes and seed start from the
      same W and b whether or not they have batch norm (gamma starts at 1, beta at 0).
    - weight_scale: W of a layer with fan-in n is drawn from N(0, (weight_scale / sqrt(n))^2)

    Attributes:
    - params: dict of float64 arrays "W1", "b1", ..., "W{L+1}", "b{L+1}" and, with batch norm,
      "gamma1", "beta1", ..., "gammaL", "betaL"
    - num_hidden: L, the number of hidden layers
    Raises ValueError for an unknown activation or fewer than one hidden layer.
    """

    def __init__(self, sizes, activation="sigmoid", batchnorm=None, seed=0, weight_scale=1.0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if len(sizes) < 3:
            raise ValueError(f"sizes must be (D, H1, ..., C) with at least one hidden layer; got {sizes}")
        if batchnorm is not None and (not isinstance(batchnorm, (tuple, list)) or len(batchnorm) != 2
                                      or not all(map(callable, batchnorm))):
            raise ValueError("batchnorm must be None or a pair (batchnorm_forward, batchnorm_backward)")
        self.sizes = tuple(int(s) for s in sizes)
        self.activation = activation
        self.batchnorm = batchnorm
        self.num_hidden = len(sizes) - 2
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            self.params[f"W{i}"] = rng.normal(0.0, weight_scale / np.sqrt(n_in), size=(n_in, n_out))
            self.params[f"b{i}"] = np.zeros(n_out)
            if batchnorm is not None and i <= self.num_hidden:
                self.params[f"gamma{i}"] = np.ones(n_out)
                self.params[f"beta{i}"] = np.zeros(n_out)

    def __repr__(self):
        bn = "with" if self.batchnorm else "without"
        return f"MLP(sizes={self.sizes}, activation={self.activation!r}, {bn} batch norm)"

    def _f(self, u):
        return _sigmoid(u) if self.activation == "sigmoid" else np.tanh(u)

    def _df(self, h):
        # f'(u) written with h = f(u): sigmoid' = h (1 - h), tanh' = 1 - h^2
        return h * (1.0 - h) if self.activation == "sigmoid" else 1.0 - h * h

    def forward(self, X):
        """Class scores for a batch, and what each hidden layer computed.

        Inputs:
        - X: input batch, shape (N, D)

        Returns a tuple of:
        - scores: shape (N, C)
        - caches: list of L dicts, one per hidden layer (caches[0] is the first), each with
          "x": the layer's input, shape (N, H_prev)
          "z": the affine output x W + b, shape (N, H)
          "u": the input to the non-linearity: BN(z) with batch norm, z without, shape (N, H)
          "h": the layer's output f(u), shape (N, H)
          "bn": the cache batchnorm_forward returned (None without batch norm)
        """
        p, caches = self.params, []
        h = X
        for i in range(1, self.num_hidden + 1):
            z = h @ p[f"W{i}"] + p[f"b{i}"]
            if self.batchnorm is not None:
                u, bn_cache = self.batchnorm[0](z, p[f"gamma{i}"], p[f"beta{i}"])
            else:
                u, bn_cache = z, None
            caches.append({"x": h, "z": z, "u": u, "h": self._f(u), "bn": bn_cache})
            h = caches[-1]["h"]
        last = self.num_hidden + 1
        return h @ p[f"W{last}"] + p[f"b{last}"], caches

    def backward(self, dscores, caches):
        """Gradients of the loss with respect to every parameter.

        Inputs:
        - dscores: upstream gradient of the scores, shape (N, C)
        - caches: the caches forward() returned for the same batch

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
                dz, grads[f"gamma{i}"], grads[f"beta{i}"] = self.batchnorm[1](du, cache["bn"])
            else:
                dz = du
            grads[f"W{i}"] = cache["x"].T @ dz
            grads[f"b{i}"] = dz.sum(axis=0)
            dh = dz @ p[f"W{i}"].T
        return grads

    def loss(self, X, y):
        """Mean softmax cross-entropy of a batch, and its gradients.

        Inputs:
        - X: shape (N, D); y: integer labels, shape (N,)

        Returns a tuple of:
        - loss: float
        - grads: dict with the keys and shapes of self.params
        """
        scores, caches = self.forward(X)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = X.shape[0]
        loss = -log_probs[np.arange(n), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1.0
        return float(loss), self.backward(dscores / n, caches)

    def accuracy(self, X, y):
        """Share of the examples in (X, y) whose highest score is the right class (in [0, 1])."""
        scores, _ = self.forward(X)
        return float(np.mean(scores.argmax(axis=1) == y))

    def step(self, grads, lr):
        """One step of gradient descent: every parameter -= lr * its gradient (in place)."""
        for name, g in grads.items():
            self.params[name] -= lr * g


def train_epoch(net, X, y, rng, batch_size=32, lr=0.1):
    """One pass of mini-batch SGD over (X, y) in an order drawn from rng.

    Two networks trained with generators of the same seed see the same mini-batches in the same
    order. The last, smaller mini-batch of an epoch is dropped, so that every batch-norm layer
    always sees batch_size examples.

    Inputs:
    - net: an MLP (changed in place)
    - X: shape (N, D); y: integer labels, shape (N,)
    - rng: a np.random.Generator, advanced by one permutation
    - batch_size, lr: mini-batch size and learning rate

    Returns the mean training loss over the epoch's mini-batches (float).
    """
    order = rng.permutation(X.shape[0])
    losses = []
    for start in range(0, X.shape[0] - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        loss, grads = net.loss(X[batch], y[batch])
        net.step(grads, lr)
        losses.append(loss)
    return float(np.mean(losses))
