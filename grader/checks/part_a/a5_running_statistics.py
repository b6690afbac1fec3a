"""Hidden checks of A5: the running statistics' update formulas, the EMA's weights and window
(SymPy expressions), and running_average and tracking_error in NumPy.

Each check takes only its own answer. running_average and tracking_error share a cell but are two
tasks: the tracking error is graded on estimates from the reference running average
(grader.checks.reference.running_average), so a mistake in running_average costs its own test only.
"""
import numpy as np

from course.symbolic import check, symbols
from course.testing import check_array, check_scalar
from grader.checks.reference import running_average as _reference_average

m, k = symbols("m k")
momentum, running_mean, running_var = symbols("momentum running_mean running_var")
mu_B, sigma2_B = symbols("mu_B sigma2_B")

SWAPPED = "the weights are swapped: that is PyTorch's convention, where momentum is the weight of the new batch"

# The drifting stream of the notebook's simulation (its cell a5-stream): a slow wave, then a jump.
STEPS, BATCH_SIZE, FEATURE_STD, STREAM_SEED = 1000, 8, 2.0, 5
MOMENTA = (0.0, 0.5, 0.9, 0.99, 0.999)


def test_running_mean(running_mean_new):
    """Task 2: the running mean keeps the fraction momentum of the old estimate."""
    check("running_mean_new", running_mean_new, momentum * running_mean + (1 - momentum) * mu_B, mistakes={
        SWAPPED: (1 - momentum) * running_mean + momentum * mu_B,
        "the weights are not normalized (they should add up to 1)": momentum * running_mean + mu_B,
        "the batch variance is used instead of the batch mean": momentum * running_mean + (1 - momentum) * sigma2_B,
        "the mean is corrected by m/(m - 1): only the variance's estimate is biased":
            momentum * running_mean + (1 - momentum) * m / (m - 1) * mu_B,
    })


def test_running_var(running_var_new):
    """Task 2: the running variance averages in the unbiased m/(m - 1) sigma2_B (the conventions card)."""
    unbiased = m / (m - 1) * sigma2_B
    check("running_var_new", running_var_new, momentum * running_var + (1 - momentum) * unbiased, mistakes={
        SWAPPED: (1 - momentum) * running_var + momentum * unbiased,
        "the biased sigma2_B is averaged in (cs231n's choice); the course's running variance uses the unbiased "
        "m/(m-1) sigma2_B (Ioffe & Szegedy, Algorithm 2; PyTorch)":
            momentum * running_var + (1 - momentum) * sigma2_B,
        "the correction is upside down: the unbiased variance is m/(m-1) sigma2_B, not (m-1)/m sigma2_B":
            momentum * running_var + (1 - momentum) * (m - 1) / m * sigma2_B,
        "you use PyTorch's momentum (the weight of the new batch) with cs231n's biased sigma2_B":
            (1 - momentum) * running_var + momentum * sigma2_B,
        "the running mean is updated with the variance": momentum * running_mean + (1 - momentum) * unbiased,
    })


def test_weight(ema_weight):
    """Task 3: the weight of the batch k steps back, (1 - momentum) momentum^k."""
    check("ema_weight", ema_weight, (1 - momentum) * momentum**k, mistakes={
        "the weights are swapped: momentum is the fraction kept, so the newest batch gets 1 - momentum":
            momentum * (1 - momentum)**k,
        "the factor 1 - momentum is missing (the weights would not add up to 1)": momentum**k,
        "the exponent is k + 1: the newest batch (k = 0) has weight 1 - momentum": (1 - momentum) * momentum**(k + 1),
    })


def test_window(effective_window):
    """Task 3: the effective window, the n whose 1/n is the newest batch's weight 1 - momentum."""
    check("effective_window", effective_window, 1 / (1 - momentum), mistakes={
        "you use momentum where 1 - momentum belongs (1/momentum)": 1 / momentum,
        "this is the mean age of the weights, sum of k w_k; the window is defined by the newest batch's weight":
            momentum / (1 - momentum),
    })


def test_ema(running_average):
    """Task 4: running_average on a random sequence, for three momenta and initial values."""
    values = np.random.default_rng(55).normal(2.0, 1.0, size=40)
    for mom, initial in [(0.9, 0.0), (0.7, 1.5), (0.0, 3.0)]:
        expected = _reference_average(values, mom, initial)
        check_array(f"running_average(values, momentum={mom}, initial={initial})",
                    running_average(values, mom, initial), expected, rtol=1e-12, atol=1e-12, mistakes={
                        "the weights are swapped (momentum should multiply the old estimate)":
                            _reference_average(values, 1 - mom, initial),
                        "estimates[t] is stored before the update": np.concatenate([[initial], expected[:-1]]),
                        "the initial value is ignored": _reference_average(values, mom, 0.0)})


def test_tracking(tracking_error):
    """Task 4: tracking_error on random arrays, then on the reference running averages of the
    notebook's drifting stream (not on the student's running_average, graded by test_ema)."""
    rng = np.random.default_rng(77)
    a, b = rng.normal(size=30), rng.normal(size=30)
    check_scalar("tracking_error(a, b) for random a, b", tracking_error(a, b), float(np.sqrt(np.mean((a - b)**2))),
                 rtol=1e-12,
                 hint="Root of the mean of the squared differences: not the mean absolute error, not the sum.")
    t = np.arange(STEPS)
    truth = np.sin(2 * np.pi * t / STEPS) + 1.5 * (t >= 600)
    seen = truth + np.random.default_rng(STREAM_SEED).normal(0.0, FEATURE_STD / np.sqrt(BATCH_SIZE), size=STEPS)
    for mom in MOMENTA:
        estimates = _reference_average(seen, mom, 0.0)
        check_scalar(f"the tracking error of the running mean with momentum {mom}", tracking_error(estimates, truth),
                     float(np.sqrt(np.mean((estimates - truth)**2))), rtol=1e-9)
