"""Answers to C2 (eps) beside the reference solution."""
from answers import Answer

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTE = "c2-batchnorm"
JACOBIAN = "c2-jacobian"
BOUND = "c2-bound"


def _jacobian(body):
    return {JACOBIAN: "def xhat_jacobian(x, eps=1e-5):\n" + body}


# The reference batch norm as a student pastes it (C3 pastes the same pair); a mistake is one of them with one thing changed.
PASTED_FORWARD = """
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
"""
PASTED_BACKWARD = """
def batchnorm_backward(dout, cache):
    x, x_hat, mu, var, gamma, eps = cache
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / np.sqrt(var + eps)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
"""


def pasted(forward=PASTED_FORWARD, backward=PASTED_BACKWARD):
    """The code of a paste cell that holds the two functions."""
    return forward.strip() + "\n\n\n" + backward.strip()


WRONG = [
    Answer("only the direct path", _jacobian("""
            return np.eye(len(x)) / np.sqrt(x.var() + eps)
        """), says="path through the mean: keep it"),
    Answer("mean path only, no variance path", _jacobian("""
            m = len(x)
            return (np.eye(m) - np.ones((m, m)) / m) / np.sqrt(x.var() + eps)
        """), says="path through the variance: keep it"),
    Answer("variance path only, no mean path", _jacobian("""
            m = len(x)
            x_hat = (x - x.mean()) / np.sqrt(x.var() + eps)
            return (np.eye(m) - np.outer(x_hat, x_hat) / m) / np.sqrt(x.var() + eps)
        """), says="path through the mean: keep it"),
    Answer("eps left out", _jacobian("""
            m = len(x)
            x_hat = (x - x.mean()) / x.std()
            return (np.eye(m) - 1 / m - np.outer(x_hat, x_hat) / m) / x.std()
        """), says="eps is left out"),
    Answer("eps not passed on to batchnorm_forward", _jacobian("""
            _, cache = batchnorm_forward(x[:, None], np.ones(1), np.zeros(1))
            return np.stack([batchnorm_backward(e[:, None], cache)[0][:, 0] for e in np.eye(len(x))])
        """), says="eps argument is not used"),
    Answer("unbiased variance", _jacobian("""
            m = len(x)
            s = np.sqrt(x.var(ddof=1) + eps)
            x_hat = (x - x.mean()) / s
            return (np.eye(m) - 1 / m - np.outer(x_hat, x_hat) / (m - 1)) / s
        """), says="wrong values"),
    Answer("bound 1/eps", {BOUND: "def gradient_bound(eps):\n    return 1 / eps\n"}, says="expected 316.2"),
    Answer("bound sqrt(eps)", {BOUND: "def gradient_bound(eps):\n    return np.sqrt(eps)\n"}, says="cannot be smaller"),
    Answer("bound 1/sqrt(1 + eps) (the variance-1 case)", {BOUND: "def gradient_bound(eps):\n    return 1 / np.sqrt(1 + eps)\n"},
           says="cannot be smaller"),
]

# Mistakes in the pasted batch norm (graded in B1 and B2): the tests here compare with the course's Jacobian, so they
# cost nothing in this notebook (with the Jacobian written by hand, as the reference solution does).
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)",
           {PASTE: pasted(forward=PASTED_FORWARD.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)"))}),
    Answer("pasted batchnorm_backward misses the term through the mean",
           {PASTE: pasted(backward=PASTED_BACKWARD.replace("dx_hat - dx_hat.mean(axis=0) - ", "dx_hat - "))}),
    Answer("nothing pasted (the cell's stub)", {PASTE: """
        # Paste batchnorm_forward from B1 and batchnorm_backward from B2 here.
        # YOUR CODE HERE
        raise NotImplementedError()
        """}),
]

RIGHT = [
    Answer("rows from the student's batchnorm_backward", _jacobian("""
            m = len(x)
            _, cache = batchnorm_forward(x.reshape(m, 1), np.ones(1), np.zeros(1), eps)
            rows = [batchnorm_backward(np.eye(m)[i].reshape(m, 1), cache)[0].ravel() for i in range(m)]
            return np.array(rows)
        """)),
    Answer("entry by entry from the chain rule", _jacobian("""
            m = len(x)
            mu, var = sum(x) / m, sum((x - sum(x) / m) ** 2) / m
            s = (var + eps) ** 0.5
            J = np.zeros((m, m))
            for i in range(m):
                for j in range(m):
                    dmu = 1 / m
                    dvar = 2 * (x[j] - mu) / m
                    J[i, j] = ((i == j) - dmu) / s - (x[i] - mu) * 0.5 * (var + eps) ** -1.5 * dvar
            return J
        """)),
    Answer("bound via eps ** -0.5", {BOUND: "def gradient_bound(eps):\n    return eps ** -0.5\n"}),
]
