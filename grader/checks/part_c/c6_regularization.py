"""Hidden checks of C6 (batch norm as a regularizer).

bn_noise may call batchnorm_forward (the task allows it): it runs with the course's batch norm in
place of the pasted one, swapped in by the notebook's locked helper with_stand_ins where the
student's code runs (the reference itself stays in the grader, called back), so that a mistake in
the pasted B1 code costs nothing here.
"""
import numpy as np

from course.testing import CheckFailed, check_scalar, in_kernel
from grader.checks import reference
from grader.checks.pasted import wrong_pastes


def test_mean_variance(batch_mean_variance, simulate_batch_mean_variance):
    """batch_mean_variance is sigma2 / m; the simulation agrees with it for a skewed population and
    is neither the standard deviation of the means nor the variance of the examples."""
    for sigma2, m in [(1.0, 1), (9.0, 3), (0.5, 100)]:
        got = batch_mean_variance(sigma2, m)
        if m > 1 and isinstance(got, (float, int, np.floating)) and abs(got - sigma2 / m ** 2) < 1e-12:
            raise CheckFailed(f"batch_mean_variance({sigma2}, {m}) = {got}: that is sigma2 / m^2; the variance of the "
                              f"mean is sigma2 / m.")
        check_scalar(f"batch_mean_variance({sigma2}, {m})", got, sigma2 / m, rtol=1e-12)
    population = np.random.default_rng(5).exponential(2.0, size=50_000)  # skewed: the result does not need normality
    for m in [2, 8, 64]:
        simulated = simulate_batch_mean_variance(population, m, 20_000, np.random.default_rng(m))
        theory = population.var() / m
        name = f"simulate_batch_mean_variance for m = {m}"
        if isinstance(simulated, (float, int, np.floating)):
            if abs(simulated - np.sqrt(theory)) < 0.05 * np.sqrt(theory):
                raise CheckFailed(f"{name} returns about the standard deviation of the means ({simulated:.4g}); "
                                  f"return their variance ({theory:.4g}).")
            if abs(simulated - population.var()) < 0.05 * population.var():
                raise CheckFailed(f"{name} returns about the population's variance ({simulated:.4g}): take the "
                                  f"variance of the batch MEANS, not of the examples.")
        check_scalar(f"simulate_batch_mean_variance(population, m={m}, trials=20000) for a skewed population",
                     simulated, theory, rtol=0.06,
                     hint="Use the m argument and the rng you are given; the answer should be close to "
                          "population.var() / m.")


def _noise(x0, population, m, trials, rng, ddof=0):
    """The standard deviation of x0's normalized value over `trials` batches of x0 and m - 1 mates;
    ddof=1 normalizes with the unbiased batch variance (a known mistake)."""
    mates = rng.choice(population, size=(trials, m - 1))
    batches = np.concatenate([np.full((trials, 1), x0), mates], axis=1)
    return ((x0 - batches.mean(axis=1)) / np.sqrt(batches.var(axis=1, ddof=ddof) + reference.EPS)).std()


# The trials of each call of bn_noise: where the reference stands in for a wrong pasted forward, a bn_noise that
# calls batchnorm_forward once a trial calls the grader back each time (about 2 ms in the sandbox); 3000 keep the
# estimate within 2% of the 20 000-trial reference.
TRIALS = 3000


def test_noise(bn_noise, with_stand_ins, pasted_forward):
    """bn_noise for a uniform population agrees with the spread of x0's normalized value (the course's
    batch norm in place of the pasted one where that one is not right: pasted_forward() is the
    student's batchnorm_forward), and is 0 for a constant population."""
    population = np.random.default_rng(7).uniform(-2.0, 2.0, size=50_000)
    # called back where it stands in (it runs in the grader); a right pasted forward runs as it is
    stand_ins = wrong_pastes({"batchnorm_forward": reference.batchnorm_forward}, {"batchnorm_forward": pasted_forward})
    for x0, m in [(0.5, 3), (-1.5, 8), (1.0, 32)]:
        got = in_kernel(with_stand_ins, stand_ins, bn_noise, x0, population, m, TRIALS,
                        np.random.default_rng(100 + m))
        expected = _noise(x0, population, m, 20_000, np.random.default_rng(200 + m))
        unbiased = _noise(x0, population, m, 20_000, np.random.default_rng(200 + m), ddof=1)
        if isinstance(got, (float, np.floating)) and abs(got - unbiased) < 0.03 * unbiased \
                and abs(got - expected) > 0.06 * expected:
            raise CheckFailed(f"bn_noise({x0}, population, m={m}) for a uniform population is {got:.4g}, about "
                              f"what you get when x0 is normalized with the unbiased batch variance (ddof=1); batch "
                              f"norm divides by m (the conventions card): expected {expected:.4g}.")
        check_scalar(f"bn_noise({x0}, population, m={m}) for a uniform population", got, expected, rtol=0.06,
                     hint="Noise means the std (not the variance) of x0's normalized value over random batches "
                          "of x0 and m - 1 mates.")
    constant = in_kernel(with_stand_ins, stand_ins, bn_noise, 0.3, np.full(1000, 0.3), 8, 200, np.random.default_rng(0))
    check_scalar("bn_noise for a constant population (every batch is the same)", constant, 0.0, rtol=0, atol=1e-6)
