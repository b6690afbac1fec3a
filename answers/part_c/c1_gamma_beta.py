"""Answers to C1 (gamma and beta) beside the reference solution."""
from answers import Answer

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTE = "c1-batchnorm"
IDENTITY = "c1-identity"
SIGMOID = "c1-sigmoid"


def _identity(gamma, beta):
    return {IDENTITY: f"""
    def identity_params(x, eps=1e-5):
        gamma = {gamma}
        beta = {beta}
        return gamma, beta
    """}


def _sigmoid(linearity, spread):
    return {SIGMOID: f"""
    def sigmoid_linearity(z):
        return {linearity}

    def sigmoid_range(z):
        return {spread}
    """}


_R2 = "float(np.corrcoef(z, sigmoid(z))[0, 1] ** 2)"
_RANGE = "float(np.diff(np.percentile(sigmoid(z), [2.5, 97.5]))[0])"

WRONG = [
    Answer("gamma is the standard deviation without eps", _identity("x.std(axis=0)", "x.mean(axis=0)"),
           says="leaves out eps"),
    Answer("gamma is the variance", _identity("x.var(axis=0) + eps", "x.mean(axis=0)"),
           says="out.std"),
    Answer("unbiased variance", _identity("np.sqrt(x.var(axis=0, ddof=1) + eps)", "x.mean(axis=0)"),
           says="ddof=1"),
    Answer("gamma and beta swapped", _identity("x.mean(axis=0)", "np.sqrt(x.var(axis=0) + eps)"),
           says="out.mean"),
    Answer("beta left at zero", _identity("np.sqrt(x.var(axis=0) + eps)", "np.zeros(x.shape[1])"),
           says="out.mean"),
    Answer("gamma and beta of shape (1, D)", _identity("np.sqrt(x.var(axis=0, keepdims=True) + eps)",
                                                       "x.mean(axis=0, keepdims=True)"),
           says="shape"),
    Answer("eps argument ignored (1e-5 written in)", _identity("np.sqrt(x.var(axis=0) + 1e-5)", "x.mean(axis=0)"),
           says="eps argument is not used"),
    Answer("identity stub returns ones and zeros", _identity("np.ones(x.shape[1])", "np.zeros(x.shape[1])"),
           says="wrong values"),
    Answer("correlation not squared", _sigmoid("float(np.corrcoef(z, sigmoid(z))[0, 1])", _RANGE),
           says="squared correlation"),
    Answer("range from min and max", _sigmoid(_R2, "float(sigmoid(z).max() - sigmoid(z).min())"),
           says="not the min and max"),
    Answer("percentiles of z instead of sigmoid(z)", _sigmoid(_R2, "float(np.ptp(np.percentile(z, [2.5, 97.5])))"),
           says="not the percentiles of z"),
    Answer("central 90% instead of 95%", _sigmoid(_R2, "float(np.ptp(np.percentile(sigmoid(z), [5, 95])))"),
           says="central 95%"),
    Answer("range returns an array", _sigmoid(_R2, "np.percentile(sigmoid(z), [97.5]) - np.percentile(sigmoid(z), [2.5])"),
           says="should be a number"),
]

# Mistakes in the pasted batchnorm_forward (graded in B1): the tests here use the course's batch norm, so they cost
# nothing in this notebook.
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)", {PASTE: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = x.var(axis=0, ddof=1)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("pasted batchnorm_forward normalizes over axis 1 and forgets gamma and beta", {PASTE: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=1, keepdims=True)
            var = x.var(axis=1, keepdims=True)
            x_hat = (x - mu) / np.sqrt(var + eps)
            return x_hat, (x, x_hat, mu, var, gamma, eps)
        """}),
    Answer("nothing pasted (the cell's stub)", {PASTE: """
        # Paste batchnorm_forward from B1 here.
        # YOUR CODE HERE
        raise NotImplementedError()
        """}),
]

RIGHT = [
    Answer("statistics taken from the cache of batchnorm_forward", {IDENTITY: """
        def identity_params(x, eps=1e-5):
            _, cache = batchnorm_forward(x, np.ones(x.shape[1]), np.zeros(x.shape[1]), eps)
            mu, var = cache[2], cache[3]
            return np.sqrt(var + eps), mu
        """}),
    Answer("keepdims, then flattened; loops", {IDENTITY: """
        def identity_params(x, eps=1e-5):
            n = len(x)
            mu = x.sum(axis=0, keepdims=True) / n
            var = ((x - mu) ** 2).sum(axis=0, keepdims=True) / n
            return ((var + eps) ** 0.5).ravel(), mu.ravel()
        """}),
    Answer("R^2 from a least-squares fit, quantiles via np.quantile", {SIGMOID: """
        def sigmoid_linearity(z):
            s = 0.5 * (1 + np.tanh(z / 2))
            a, b = np.polyfit(z, s, 1)
            residual = s - (a * z + b)
            return 1 - np.sum(residual ** 2) / np.sum((s - s.mean()) ** 2)

        def sigmoid_range(z):
            q = np.quantile(1 / (1 + np.exp(-z)), [0.025, 0.975])
            return q[1] - q[0]
        """}),
]
