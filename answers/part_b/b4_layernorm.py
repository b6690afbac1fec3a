"""Answers to B4 (the LayerNorm class) beside the reference solution."""
from answers import Answer

CELL = "b4-layernorm"
ONE_TASK_PER_MISTAKE = True  # one class, four tasks: each test takes what it does not grade from the references

# the tests of each task of the class's one cell (Answer.loses)
INIT = ("b4-test-init",)
FORWARD = ("b4-test-forward", "b4-test-batch")
BACKWARD = ("b4-test-backward",)
PARAMS = ("b4-test-params",)


def _layer(init="", forward="", backward=""):
    """A whole LayerNorm class; each part defaults to the reference-like code below."""
    return {CELL: "class LayerNorm:\n" + (init or _INIT) + (forward or _FORWARD) + (backward or _BACKWARD)}


_INIT = """
    def __init__(self, normalized_shape, eps=1e-5):
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.gamma = np.ones(self.normalized_shape)
        self.beta = np.zeros(self.normalized_shape)
"""

_FORWARD = """
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""

_BACKWARD = """
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return self.inv_std * (g - g.mean(axis=axes, keepdims=True)
                               - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
"""

WRONG = [
    Answer("normalizes over the batch axis", _layer(forward="""
    def forward(self, x):
        axes = (0,)
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""), says="batch axis", loses=FORWARD),
    Answer("variance with ddof=1", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=1)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""), says="ddof=1", loses=FORWARD),
    Answer("eps outside the square root", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / (np.sqrt(var) + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""), says="outside the square root", loses=FORWARD),
    Answer("flattens every non-batch axis of a 3-D input", _layer(forward="""
    def forward(self, x):
        flat = x.reshape(x.shape[0], -1)
        mu = flat.mean(axis=1, keepdims=True)
        var = flat.var(axis=1, keepdims=True)
        self.inv_std = (1.0 / np.sqrt(var + self.eps)).reshape((x.shape[0],) + (1,) * (x.ndim - 1))
        self.x_hat = ((flat - mu) / np.sqrt(var + self.eps)).reshape(x.shape)
        self.axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        return self.gamma * self.x_hat + self.beta
"""), says="every axis after the first", loses=FORWARD),
    Answer("always normalizes over the last axis only", _layer(forward="""
    def forward(self, x):
        mu = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        return self.gamma * self.x_hat + self.beta
"""), says="last axis only", loses=FORWARD),
    Answer("dgamma and dbeta summed over the first axis only", _layer(backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (dout * x_hat).sum(axis=0)
        g = dout * self.gamma
        return self.inv_std * (g - g.mean(axis=axes, keepdims=True)
                               - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
"""), says="every leading axis", loses=PARAMS),
    Answer("dx ignores the coupling through mean and variance", _layer(backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        return dout * self.gamma * self.inv_std
"""), says="coupling", loses=BACKWARD),
    Answer("dgamma and dbeta swapped", _layer(backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dgamma = dout.sum(axis=leading)
        self.dbeta = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return self.inv_std * (g - g.mean(axis=axes, keepdims=True)
                               - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
"""), says="swapped", loses=PARAMS),
    Answer("dx forgets the factor gamma", _layer(backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout
        return self.inv_std * (g - g.mean(axis=axes, keepdims=True)
                               - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
"""), says="factor gamma", loses=BACKWARD),
    Answer("input modified in place", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        x -= mu
        x *= self.inv_std
        self.x_hat = x
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""), says="modified its input x in place", loses=FORWARD),
    Answer("2-D only: unpacks N, D = x.shape", _layer(forward="""
    def forward(self, x):
        N, D = x.shape
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = (1,)
        return self.gamma * self.x_hat + self.beta
"""), says="x of shape (2, 3, 4), normalized_shape 4, your code raised ValueError", loses=FORWARD),
    Answer("2-D only: batch norm of the transpose with transpose(1, 0)", _layer(forward="""
    def forward(self, x):
        xt = x.transpose(1, 0)
        mu = xt.mean(axis=0)
        var = xt.var(axis=0)
        self.inv_std = (1.0 / np.sqrt(var + self.eps))[:, None]
        self.x_hat = ((xt - mu) / np.sqrt(var + self.eps)).transpose(1, 0)
        self.axes = (1,)
        return self.gamma * self.x_hat + self.beta
"""), says="axes don't match array", loses=FORWARD),
    Answer("2-D only: asserts x.ndim == 2", _layer(forward="""
    def forward(self, x):
        assert x.ndim == 2
        axes = (1,)
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
"""), says="your code raised AssertionError", loses=FORWARD),
    Answer("staged backward leaves eps out", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.xc = x - x.mean(axis=axes, keepdims=True)
        self.var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(self.var + self.eps)
        self.x_hat = self.xc * self.inv_std
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, xc = self.axes, self.xc
        M = int(np.prod(self.normalized_shape))
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * self.x_hat).sum(axis=leading)
        std = np.sqrt(self.var)
        g = dout * self.gamma
        dvar = -0.5 * (g * xc).sum(axis=axes, keepdims=True) / std ** 3
        dxc = g / std + 2.0 * xc * dvar / M
        return dxc - dxc.mean(axis=axes, keepdims=True)
"""), says="eps is left out", loses=BACKWARD),
    Answer("backward formula with eps outside the square root", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return (g - g.mean(axis=axes, keepdims=True)
                - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / (np.sqrt(self.var) + self.eps)
"""), says="outside the square root", loses=BACKWARD),
    Answer("backward formula with sqrt(var - eps)", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return (g - g.mean(axis=axes, keepdims=True)
                - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / np.sqrt(self.var - self.eps)
"""), says="sqrt(var - eps)", loses=BACKWARD),
    Answer("dx treats gamma as a constant of the sums (B2's formula copied without adapting it)", _layer(backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        return self.gamma * self.inv_std * (dout - dout.mean(axis=axes, keepdims=True)
                                            - x_hat * (dout * x_hat).mean(axis=axes, keepdims=True))
"""), says="gamma is taken out of the sums", loses=BACKWARD),
    Answer("staged backward with eps outside the square root", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.xc = x - x.mean(axis=axes, keepdims=True)
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = self.xc / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, xc = self.axes, self.xc
        M = int(np.prod(self.normalized_shape))
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * self.x_hat).sum(axis=leading)
        std = np.sqrt(self.var) + self.eps
        g = dout * self.gamma
        dvar = -(g * xc).sum(axis=axes, keepdims=True) / std ** 2 * 0.5 / np.sqrt(self.var)
        dxc = g / std + 2.0 * xc * dvar / M
        return dxc - dxc.mean(axis=axes, keepdims=True)
"""),
           says="eps is added outside the square root in the backward pass", loses=BACKWARD),
    Answer("staged backward with sqrt(var - eps)", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.xc = x - x.mean(axis=axes, keepdims=True)
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = self.xc / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, xc = self.axes, self.xc
        M = int(np.prod(self.normalized_shape))
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * self.x_hat).sum(axis=leading)
        std = np.sqrt(self.var - self.eps)
        g = dout * self.gamma
        dvar = -(g * xc).sum(axis=axes, keepdims=True) / std ** 2 * 0.5 / std
        dxc = g / std + 2.0 * xc * dvar / M
        return dxc - dxc.mean(axis=axes, keepdims=True)
"""),
           says="the backward pass uses sqrt(var - eps)", loses=BACKWARD),
    Answer("backward formula leaves eps out", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.xc = x - x.mean(axis=axes, keepdims=True)
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = self.xc / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return (g - g.mean(axis=axes, keepdims=True)
                - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / np.sqrt(self.var)
"""),
           says="the factor is 1/sqrt(var), not 1/sqrt(var + eps)", loses=BACKWARD),
    Answer("dx with the wrong sign", _layer(forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        self.xc = x - x.mean(axis=axes, keepdims=True)
        self.var = x.var(axis=axes, keepdims=True)
        self.x_hat = self.xc / np.sqrt(self.var + self.eps)
        self.axes = axes
        return self.gamma * self.x_hat + self.beta
""", backward="""
    def backward(self, dout):
        axes, x_hat = self.axes, self.x_hat
        leading = tuple(range(dout.ndim - len(axes)))
        self.dbeta = dout.sum(axis=leading)
        self.dgamma = (dout * x_hat).sum(axis=leading)
        g = dout * self.gamma
        return -(g - g.mean(axis=axes, keepdims=True)
                - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / np.sqrt(self.var + self.eps)
"""),
           says="wrong sign", loses=BACKWARD),
    Answer("parameters fixed at construction (ignores later changes to gamma and beta)", _layer(init="""
    def __init__(self, normalized_shape, eps=1e-5):
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.gamma = np.ones(self.normalized_shape)
        self.beta = np.zeros(self.normalized_shape)
        self.scale, self.shift = self.gamma, self.beta
""", forward="""
    def forward(self, x):
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mu) * self.inv_std
        self.axes = axes
        return self.scale * self.x_hat + self.shift
"""), says="read self.gamma and self.beta", loses=FORWARD),
    Answer("layers of one shape share gamma and beta", {CELL: "_PARAMETERS = {}  # shape -> (gamma, beta), made once\n\n"
           + _layer(init="""
    def __init__(self, normalized_shape, eps=1e-5):
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        if self.normalized_shape not in _PARAMETERS:
            _PARAMETERS[self.normalized_shape] = (np.ones(self.normalized_shape), np.zeros(self.normalized_shape))
        self.gamma, self.beta = _PARAMETERS[self.normalized_shape]
""")[CELL]}, says="its own arrays", loses=INIT),
]

RIGHT = [
    Answer("layer norm as batch norm of the transpose", {CELL: """
        def _bn_forward(x, eps):
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return x_hat, (x_hat, var, eps)

        def _bn_backward(dx_hat, cache):
            x_hat, var, eps = cache
            N = x_hat.shape[0]
            return (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (N * np.sqrt(var + eps))

        class LayerNorm:
            def __init__(self, normalized_shape, eps=1e-5):
                self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
                self.eps = eps
                self.gamma = np.ones(self.normalized_shape)
                self.beta = np.zeros(self.normalized_shape)

            def forward(self, x):
                self.shape = x.shape
                M = int(np.prod(self.normalized_shape))
                x_hat_t, self.cache = _bn_forward(x.reshape(-1, M).T, self.eps)  # (M, L): one column per sample
                self.x_hat = x_hat_t.T.reshape(x.shape)
                return self.gamma * self.x_hat + self.beta

            def backward(self, dout):
                M = int(np.prod(self.normalized_shape))
                self.dgamma = (dout * self.x_hat).reshape(-1, M).sum(axis=0).reshape(self.normalized_shape)
                self.dbeta = dout.reshape(-1, M).sum(axis=0).reshape(self.normalized_shape)
                dx_hat = (dout * self.gamma).reshape(-1, M).T
                return _bn_backward(dx_hat, self.cache).T.reshape(self.shape)
        """}),
    Answer("reshape to (samples, M) and back", {CELL: """
        class LayerNorm:
            def __init__(self, normalized_shape, eps=1e-5):
                try:
                    self.normalized_shape = tuple(normalized_shape)
                except TypeError:
                    self.normalized_shape = (normalized_shape,)
                self.eps = eps
                self.gamma = np.ones(self.normalized_shape)
                self.beta = np.zeros(self.normalized_shape)

            def forward(self, x):
                M = int(np.prod(self.normalized_shape))
                flat = x.reshape(-1, M)
                mu = flat.mean(axis=1)[:, None]
                var = ((flat - mu) ** 2).mean(axis=1)[:, None]
                self.std = np.sqrt(var + self.eps)
                self.xh = (flat - mu) / self.std
                self.shape = x.shape
                return self.gamma * self.xh.reshape(x.shape) + self.beta

            def backward(self, dout):
                M = int(np.prod(self.normalized_shape))
                d = dout.reshape(-1, M)
                self.dbeta = d.sum(axis=0).reshape(self.normalized_shape)
                self.dgamma = (d * self.xh).sum(axis=0).reshape(self.normalized_shape)
                dxh = d * self.gamma.reshape(1, M)
                dx = (dxh - dxh.mean(axis=1, keepdims=True)
                      - self.xh * (dxh * self.xh).mean(axis=1, keepdims=True)) / self.std
                return dx.reshape(self.shape)
        """}),
    Answer("staged backward through var and mu (computational graph)", {CELL: """
        class LayerNorm:
            def __init__(self, normalized_shape, eps=1e-5):
                if isinstance(normalized_shape, int):
                    normalized_shape = [normalized_shape]
                self.normalized_shape = tuple(normalized_shape)
                self.eps = eps
                self.gamma = np.ones(self.normalized_shape)
                self.beta = np.zeros(self.normalized_shape)

            def forward(self, x):
                k = len(self.normalized_shape)
                axes = tuple(range(-k, 0))
                mu = np.mean(x, axis=axes, keepdims=True)
                xc = x - mu
                var = np.mean(xc ** 2, axis=axes, keepdims=True)
                std = np.sqrt(var + self.eps)
                x_hat = xc / std
                self.cache = (xc, std, x_hat, axes)
                return x_hat * self.gamma + self.beta

            def backward(self, dout):
                xc, std, x_hat, axes = self.cache
                M = int(np.prod([xc.shape[a] for a in axes]))
                lead = tuple(range(dout.ndim - len(axes)))
                self.dbeta = np.sum(dout, axis=lead)
                self.dgamma = np.sum(dout * x_hat, axis=lead)
                dx_hat = dout * self.gamma
                dstd = -np.sum(dx_hat * xc, axis=axes, keepdims=True) / std ** 2
                dvar = dstd / (2 * std)
                dxc = dx_hat / std + 2 * xc * dvar / M
                dmu = -np.sum(dxc, axis=axes, keepdims=True)
                return dxc + dmu / M
        """}),
    Answer("a module-level helper named like an old hidden-test name (_axes)", {CELL: """
        def _axes(ndim, k):
            return tuple(range(ndim - k, ndim))

        class LayerNorm:
            def __init__(self, normalized_shape, eps=1e-5):
                self.normalized_shape = tuple(np.atleast_1d(normalized_shape).tolist())
                self.eps = eps
                self.gamma = np.ones(self.normalized_shape)
                self.beta = np.zeros(self.normalized_shape)

            def forward(self, x):
                axes = _axes(x.ndim, len(self.normalized_shape))
                mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
                self.inv_std = 1.0 / np.sqrt(var + self.eps)
                self.x_hat = (x - mu) * self.inv_std
                return self.gamma * self.x_hat + self.beta

            def backward(self, dout):
                axes = _axes(dout.ndim, len(self.normalized_shape))
                leading = tuple(range(dout.ndim - len(axes)))
                self.dbeta = dout.sum(axis=leading)
                self.dgamma = (dout * self.x_hat).sum(axis=leading)
                g = dout * self.gamma
                return self.inv_std * (g - g.mean(axis=axes, keepdims=True)
                                       - self.x_hat * (g * self.x_hat).mean(axis=axes, keepdims=True))
        """}),
]
