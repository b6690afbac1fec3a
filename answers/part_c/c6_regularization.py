"""Answers to C6 (regularization) beside the reference solution."""
from answers import Answer

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
    Answer("statistics over the trials axis", _noise("""
            mates = rng.choice(population, size=(trials, m - 1))
            b = np.concatenate([np.full((trials, 1), x0), mates], axis=1)
            x_hat = (b - b.mean(axis=0)) / np.sqrt(b.var(axis=0) + 1e-5)
            return float(x_hat[:, 0].std())
        """), says="bn_noise(1.0, population, m=16, ...)"),
]

RIGHT = [
    Answer("simulation with a loop and np.mean / np.var", _sim("""
            means = []
            for _ in range(trials):
                means.append(np.mean(rng.choice(population, size=m)))
            return float(np.var(means))
        """)),
    Answer("noise with the student's batchnorm_forward, one batch at a time", _noise("""
            values = []
            for _ in range(trials):
                batch = np.concatenate([[x0], rng.choice(population, size=m - 1)])[:, None]
                out, _ = batchnorm_forward(batch, np.ones(1), np.zeros(1), eps=1e-5)
                values.append(out[0, 0])
            return float(np.std(values))
        """)),
]
