"""Hidden checks of C4 (training mode and inference mode).

A task's function that calls another (output_in_batches calls batchnorm_forward, mode_gap calls
batchnorm_forward and batchnorm_inference) runs with the references in their place, swapped in
by the notebook's locked helper with_stand_ins where the student's code runs (the references stay
in the grader, called back): a mistake in the pasted B1 code or in Task 2 then costs only its own
task.
"""
import numpy as np

from course.testing import CheckFailed, check_array, check_scalar, check_unchanged, in_kernel
from grader.checks import reference


def test_batchmates(output_in_batches, with_stand_ins):
    """output_in_batches for other inputs, with the course's batchnorm_forward in place of yours."""
    rng = np.random.default_rng(2024)
    x0, mates = rng.normal(size=4), rng.normal(2.0, 3.0, size=(6, 3, 4))
    gamma, beta = rng.uniform(0.5, 2, 4), rng.normal(size=4)
    expected, without, last = [], [], []
    for others in mates:
        out = reference.batchnorm_forward(np.vstack([x0, others]), gamma, beta)[0]
        expected.append(out[0])
        last.append(out[-1])
        mu, var = others.mean(axis=0), others.var(axis=0)
        without.append(reference.batchnorm_inference(x0[None], gamma, beta, mu, var)[0])
    outs = in_kernel(with_stand_ins, {"batchnorm_forward": reference.batchnorm_forward},
                     output_in_batches, x0, mates, gamma, beta)
    check_array("output_in_batches for other inputs", outs, expected, rtol=1e-9,
                mistakes={"x0 is normalized with its mates' statistics only: x0 must be part of the batch": without,
                          "the row kept is the last one, not x0's (the first)": last})


def test_running(update_running, batchnorm_inference):
    """update_running leaves its inputs alone and weighs the old estimate by the momentum, with the
    unbiased variance; batchnorm_inference uses the running statistics, for 7 examples and for one."""
    rng = np.random.default_rng(99)
    rm, rv = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    mu, var = rng.normal(size=5), rng.uniform(0.5, 2, size=5)
    copies = rm.copy(), rv.copy(), mu.copy(), var.copy()
    new = update_running(rm, rv, mu, var, m=16, momentum=0.7)
    for name, before, after in zip(("running_mean", "running_var", "mu", "var"), copies, (rm, rv, mu, var)):
        check_unchanged(name, before, after, culprit="update_running")
    right_mean, right_var = reference.update_running(rm, rv, mu, var, 16, momentum=0.7)
    flipped_mean, flipped_var = reference.update_running(rm, rv, mu, var, 16, momentum=0.3)
    default_mean, _ = reference.update_running(rm, rv, mu, var, 16)
    check_array("running_mean (momentum 0.7)", np.asarray(new[0]), right_mean, rtol=1e-12,
                mistakes={"the momentum weights the new batch instead of the old estimate": flipped_mean,
                          "the momentum argument is ignored (0.9 is used)": default_mean})
    check_array("running_var (momentum 0.7, m = 16)", np.asarray(new[1]), right_var, rtol=1e-12,
                mistakes={"the biased batch variance is averaged in (cs231n's choice); the course's running variance "
                          "uses the unbiased m / (m - 1) * var": 0.7 * rv + 0.3 * var,
                          "the correction is upside down: use m / (m - 1), not (m - 1) / m":
                              0.7 * rv + 0.3 * var * 15 / 16,
                          "the momentum weights the new batch instead of the old estimate": flipped_var})
    x = rng.normal(3.0, 2.0, size=(7, 5))
    gamma, beta = rng.uniform(0.5, 2, 5), rng.normal(size=5)
    expected = reference.batchnorm_inference(x, gamma, beta, rm, rv, eps=1e-3)
    check_array("batchnorm_inference(x, ..., eps=1e-3) for 7 examples",
                batchnorm_inference(x, gamma, beta, rm, rv, eps=1e-3), expected, rtol=1e-10,
                mistakes={"the batch's own statistics are used, not the running ones":
                              reference.batchnorm_forward(x, gamma, beta, eps=1e-3)[0],
                          "eps is left out": reference.batchnorm_inference(x, gamma, beta, rm, rv, eps=0.0),
                          "eps is added outside the square root: sqrt(running_var + eps), not sqrt(running_var) + eps":
                              gamma * (x - rm) / (np.sqrt(rv) + 1e-3) + beta,
                          "it divides by the variance, not the standard deviation":
                              gamma * (x - rm) / (rv + 1e-3) + beta})
    check_array("batchnorm_inference on a batch of one", batchnorm_inference(x[:1], gamma, beta, rm, rv, eps=1e-3),
                expected[:1], rtol=1e-10)


def test_gap(mode_gap, with_stand_ins):
    """mode_gap on a 6 x 3 batch, with the course's batchnorm_forward and batchnorm_inference in
    place of yours: it is one number, the mean absolute difference of the two modes' outputs."""
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, size=(6, 3))
    gamma, beta, rm, rv = rng.uniform(0.5, 2, 3), rng.normal(size=3), rng.normal(size=3), rng.uniform(0.5, 2, 3)
    difference = reference.batchnorm_forward(x, gamma, beta)[0] - reference.batchnorm_inference(x, gamma, beta, rm, rv)
    stand_ins = {"batchnorm_forward": reference.batchnorm_forward, "batchnorm_inference": reference.batchnorm_inference}
    gap = in_kernel(with_stand_ins, stand_ins, mode_gap, x, gamma, beta, rm, rv)
    if isinstance(gap, np.ndarray) and gap.ndim == 0:
        gap = gap.item()
    if type(gap) not in (float, int, np.float64, np.float32):
        got = f"an array of shape {gap.shape}" if isinstance(gap, np.ndarray) else f"a {type(gap).__name__}"
        raise CheckFailed(f"mode_gap should return one number (the mean over all entries); got {got}.")
    check_scalar("mode_gap on a 6 x 3 batch", gap, np.abs(difference).mean(), rtol=1e-9, atol=1e-12,
                 mistakes={"the differences are not taken in absolute value (they cancel)": difference.mean(),
                           "batchnorm_inference is given the batch's own statistics, not running_mean and running_var":
                               0.0,
                           "it is the squared difference, not the absolute one": (difference ** 2).mean(),
                           "it is the largest difference, not the mean": np.abs(difference).max()})
