"""Answers to A5 (running statistics: EMA formulas, weights, simulation) beside the reference solution."""
from answers import Answer

FORMULAS, WEIGHTS, SIM = "a5-ema-formulas", "a5-weights", "a5-simulate"

# running_average and tracking_error share the cell a5-simulate but are two tasks: the tracking
# error is graded on the reference estimates, so a wrong running_average loses a5-test-ema only.
ONE_TASK_PER_MISTAKE = True

_TRACKING = '''
def tracking_error(estimates, truth):
    return float(np.sqrt(np.mean((np.asarray(estimates) - np.asarray(truth))**2)))
'''

WRONG = [
    Answer("EMA weights swapped (PyTorch's momentum)", {FORMULAS: """
        running_mean_new = (1 - momentum) * running_mean + momentum * mu_B
        running_var_new = (1 - momentum) * running_var + momentum * m / (m - 1) * sigma2_B
        """}, says="swapped"),
    Answer("biased variance in the running variance (cs231n's choice)", {FORMULAS: """
        running_mean_new = momentum * running_mean + (1 - momentum) * mu_B
        running_var_new = momentum * running_var + (1 - momentum) * sigma2_B
        """}, says="the course's running variance uses the unbiased"),
    Answer("Bessel's correction upside down", {FORMULAS: """
        running_mean_new = momentum * running_mean + (1 - momentum) * mu_B
        running_var_new = momentum * running_var + (1 - momentum) * (m - 1) / m * sigma2_B
        """}, says="upside down"),
    Answer("PyTorch's momentum with cs231n's variance", {FORMULAS: """
        running_mean_new = momentum * running_mean + (1 - momentum) * mu_B
        running_var_new = (1 - momentum) * running_var + momentum * sigma2_B
        """}, says="PyTorch's momentum (the weight of the new batch) with cs231n's biased"),
    Answer("the mean corrected by m/(m - 1) as well", {FORMULAS: """
        running_mean_new = momentum * running_mean + (1 - momentum) * m / (m - 1) * mu_B
        running_var_new = momentum * running_var + (1 - momentum) * m / (m - 1) * sigma2_B
        """}, says="only the variance's estimate is biased"),
    Answer("EMA weight swapped", {WEIGHTS: """
        ema_weight = momentum * (1 - momentum)**k
        effective_window = 1 / (1 - momentum)
        """}, says="swapped"),
    Answer("EMA weight without 1 - momentum", {WEIGHTS: """
        ema_weight = momentum**k
        effective_window = 1 / (1 - momentum)
        """}, says="1 - momentum is missing"),
    Answer("effective window 1/momentum", {WEIGHTS: """
        ema_weight = (1 - momentum) * momentum**k
        effective_window = 1 / momentum
        """}, says="1/momentum"),
    Answer("a string for the window", {WEIGHTS: """
        ema_weight = (1 - momentum) * momentum**k
        effective_window = "1/(1-momentum)"
        """}, says="is a string"),
    Answer("simulation with swapped weights", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            out, c = [], initial
            for v in batch_values:
                c = (1 - momentum) * c + momentum * v
                out.append(c)
            return np.array(out)
        """ + _TRACKING}, says="swapped", loses=("a5-test-ema",)),
    Answer("simulation stores the estimate before the update", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            out, c = [], initial
            for v in batch_values:
                out.append(c)
                c = momentum * c + (1 - momentum) * v
            return np.array(out)
        """ + _TRACKING}, says="before the update", loses=("a5-test-ema",)),
    Answer("running_average writes one past the end (IndexError)", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            estimates = np.empty(len(batch_values))
            current = initial
            for t, value in enumerate(batch_values):
                current = momentum * current + (1 - momentum) * value
                estimates[t + 1] = current
            return estimates
        """ + _TRACKING}, says="IndexError", loses=("a5-test-ema",)),
    Answer("running_average that does not average (the batch values back)", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            return np.asarray(batch_values, dtype=float)
        """ + _TRACKING}, says="running_average", loses=("a5-test-ema",)),
    Answer("tracking error as mean absolute error", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            out, c = [], initial
            for v in batch_values:
                c = momentum * c + (1 - momentum) * v
                out.append(c)
            return np.array(out)

        def tracking_error(estimates, truth):
            return float(np.mean(np.abs(np.asarray(estimates) - np.asarray(truth))))
        """}, says="tracking_error", loses=("a5-test-tracking",)),
]

RIGHT = [
    Answer("EMA written as old + (1 - momentum)(batch - old)", {FORMULAS: """
        running_mean_new = running_mean + (1 - momentum) * (mu_B - running_mean)
        running_var_new = running_var - (1 - momentum) * (running_var - m / (m - 1) * sigma2_B)
        """}),
    Answer("EMA typed with a hand-made rho, as in the conventions card", {FORMULAS: """
        rho = sp.Symbol("rho")
        running_mean_new = rho * running_mean + (1 - rho) * mu_B
        running_var_new = rho * running_var + (1 - rho) * Sum((x[j] - mu_B)**2, (j, 1, m)) / (m - 1)
        """}),
    Answer("batch statistics written out from x", {FORMULAS: """
        running_mean_new = momentum * running_mean + (1 - momentum) * Sum(x[j], (j, 1, m)) / m
        running_var_new = momentum * running_var + (1 - momentum) * (Sum(x[i]**2, (i, 1, m)) - (Sum(x[j], (j, 1, m)))**2 / m) / (m - 1)
        """}),
    Answer("weight and window in other forms", {WEIGHTS: """
        ema_weight = momentum**k - momentum**(k + 1)
        effective_window = -1 / (momentum - 1)
        """}),
    Answer("vectorized EMA with a geometric filter", {SIM: """
        def running_average(batch_values, momentum, initial=0.0):
            v = np.asarray(batch_values, dtype=float)
            T = v.size
            powers = momentum ** np.arange(T)
            est = np.empty(T)
            for t in range(T):
                est[t] = momentum ** (t + 1) * initial + (1 - momentum) * np.dot(powers[:t + 1][::-1], v[:t + 1])
            return est

        def tracking_error(estimates, truth):
            d = np.asarray(estimates, dtype=float) - np.asarray(truth, dtype=float)
            return float(np.sqrt(d @ d / d.size))
        """}),
]
