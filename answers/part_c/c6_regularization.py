"""Answers to C6 (regularization) beside the reference solution."""
from answers import Answer

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTED = "c6-batchnorm"
MEAN = "c6-mean-variance"
NOISE = "c6-noise"

_SIM_OK = """
def simulate_batch_mean_variance(population, m, trials, rng):
    return float(rng.choice(population, size=(trials, m)).mean(axis=1).var())
"""
_THEORY_OK = """
def batch_mean_variance(sigma2, m):
    return sigma2 / m
"""


def _theory(body):
    return {MEAN: "def batch_mean_variance(sigma2, m):\n" + body + _SIM_OK}


def _sim(body):
    return {MEAN: _THEORY_OK + "\ndef simulate_batch_mean_variance(population, m, trials, rng):\n" + body}


def _noise(body):
    return {NOISE: "def bn_noise(x0, population, m, trials, rng):\n" + body}


_NOISE_WITH_BATCHNORM = _noise("""
            values = []
            for _ in range(trials):
                batch = np.concatenate([[x0], rng.choice(population, size=m - 1)])[:, None]
                out, _ = batchnorm_forward(batch, np.ones(1), np.zeros(1), eps=1e-5)
                values.append(out[0, 0])
            return float(np.std(values))
        """)


def _pasted(var="x.var(axis=0)", dx="(dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))",
            inference="gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta"):
    """The pasted functions of B1, B2 and C4, with one part changed."""
    return {PASTED: f"""
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = {var}
            x_hat = (x - mu) / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            dx_hat = dout * gamma
            dx = {dx} / np.sqrt(var + eps)
            return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return {inference}
        """}


WRONG = [
    Answer("variance of the mean as sigma2 / m^2", _theory("    return sigma2 / m ** 2\n"), says="Var(sum / m)"),
    Answer("standard deviation sigma / sqrt(m)", _theory("    return np.sqrt(sigma2 / m)\n"), says="expected 0.25"),
    Answer("simulation returns the std of the means", _sim("""
            return float(rng.choice(population, size=(trials, m)).mean(axis=1).std())
        """), says="variance of the trials means"),
    Answer("simulation returns the variance of the examples", _sim("""
            return float(rng.choice(population, size=(trials, m)).var())
        """), says="variance of the trials means"),
    Answer("simulation ignores m (batches of 16)", _sim("""
            return float(rng.choice(population, size=(trials, 16)).mean(axis=1).var())
        """), says="use the m argument"),
    Answer("x0 left out of its own batch", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            x_hat0 = (x0 - mates.mean(axis=1)) / np.sqrt(mates.var(axis=1) + 1e-5)
            return float(x_hat0.std())
        """), says="x0 together with m - 1"),
    Answer("normalized with the population's statistics (no noise)", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            x_hat0 = np.full(trials, (x0 - population.mean()) / np.sqrt(population.var() + 1e-5))
            return float(x_hat0.std())
        """), says="it is not 0"),
    Answer("variance instead of standard deviation", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            b = np.concatenate([np.full((trials, 1), x0), mates], axis=1)
            return float(((x0 - b.mean(axis=1)) / np.sqrt(b.var(axis=1) + 1e-5)).var())
        """), says="(not the variance)"),
    Answer("the unbiased batch variance (ddof=1)", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            b = np.concatenate([np.full((trials, 1), x0), mates], axis=1)
            return float(((x0 - b.mean(axis=1)) / np.sqrt(b.var(axis=1, ddof=1) + 1e-5)).std())
        """), says="unbiased batch variance (ddof=1)"),
    Answer("statistics over the trials axis", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            b = np.concatenate([np.full((trials, 1), x0), mates], axis=1)
            x_hat = (b - b.mean(axis=0)) / np.sqrt(b.var(axis=0) + 1e-5)
            return float(x_hat[:, 0].std())
        """), says="bn_noise(1.0, population, m=16, ...)"),
]

# Mistakes in the pasted B1, B2 and C4 code (graded there): bn_noise's tests run the course's batch norm in its place.
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)", _pasted(var="x.var(axis=0, ddof=1)")),
    Answer("pasted batchnorm_forward with ddof=1, and bn_noise that calls it",
           _pasted(var="x.var(axis=0, ddof=1)") | _NOISE_WITH_BATCHNORM),
    Answer("pasted batchnorm_backward without the term through the mean",
           _pasted(dx="(dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0))")),
    Answer("pasted batchnorm_inference with the batch's own statistics",
           _pasted(inference="gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta")),
    Answer("nothing pasted (the cell left as released)",
           {PASTED: "# Paste batchnorm_forward from B1 and batchnorm_backward from B2 and batchnorm_inference from C4 "
                    "here.\n"}),
]

RIGHT = [
    Answer("simulation with a loop and np.mean / np.var", _sim("""
            means = []
            for _ in range(trials):
                means.append(np.mean(rng.choice(population, size=m)))
            return float(np.var(means))
        """)),
    Answer("noise with the student's batchnorm_forward, one batch at a time", _NOISE_WITH_BATCHNORM),
]
