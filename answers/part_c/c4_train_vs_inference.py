"""Answers to C4 (training vs inference) beside the reference solution."""
from answers import Answer

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTED = "c4-batchnorm"
MATES = "c4-batchmates"
RUNNING = "c4-running"
GAP = "c4-gap"

_INFERENCE = """
def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
"""
_UPDATE = """
def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
    return (momentum * running_mean + (1 - momentum) * mu,
            momentum * running_var + (1 - momentum) * var * m / (m - 1))
"""


def _mates(body):
    return {MATES: "def output_in_batches(x0, mates, gamma, beta):\n" + body}


def _update(body):
    return {RUNNING: "def update_running(running_mean, running_var, mu, var, m, momentum=0.9):\n" + body + _INFERENCE}


def _inference(body):
    return {RUNNING: _UPDATE + "\ndef batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):\n" + body}


def _gap(body):
    return {GAP: "def mode_gap(x, gamma, beta, running_mean, running_var):\n" + body}


def _pasted(mean="x.mean(axis=0)", var="x.var(axis=0)", root="np.sqrt(var + eps)", out="gamma * x_hat + beta"):
    """A pasted batchnorm_forward of B1's with one part changed."""
    return {PASTED: f"""
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = {mean}
            var = {var}
            x_hat = (x - mu) / {root}
            return {out}, (x, x_hat, mu, var, gamma, eps)
        """}


WRONG = [
    Answer("x0 normalized with its mates' statistics only", _mates("""
            outs = []
            for others in mates:
                _, cache = batchnorm_forward(others, gamma, beta)
                mu, var = cache[2], cache[3]
                outs.append(gamma * (x0 - mu) / np.sqrt(var + 1e-5) + beta)
            return np.array(outs)
        """), says="x0 must be part of the batch"),
    Answer("keeps the last row", _mates("""
            return np.array([batchnorm_forward(np.vstack([x0, o]), gamma, beta)[0][-1] for o in mates])
        """), says="not x0's"),
    Answer("all batches stacked into one", _mates("""
            out, _ = batchnorm_forward(np.vstack([x0[None]] * len(mates) + [mates.reshape(-1, len(x0))]), gamma, beta)
            return out[:len(mates)]
        """), says="same output in every batch"),
    Answer("momentum weights the new batch", _update("""
            return ((1 - momentum) * running_mean + momentum * mu,
                    (1 - momentum) * running_var + momentum * var * m / (m - 1))
        """), says="momentum is the weight of the OLD estimate"),
    Answer("no unbiased correction (cs231n's running variance)", _update("""
            return (momentum * running_mean + (1 - momentum) * mu,
                    momentum * running_var + (1 - momentum) * var)
        """), says="cs231n's choice"),
    Answer("correction upside down", _update("""
            return (momentum * running_mean + (1 - momentum) * mu,
                    momentum * running_var + (1 - momentum) * var * (m - 1) / m)
        """), says="m / (m - 1)"),
    Answer("running statistics updated in place", _update("""
            running_mean *= momentum
            running_mean += (1 - momentum) * mu
            running_var *= momentum
            running_var += (1 - momentum) * var * m / (m - 1)
            return running_mean, running_var
        """), says="in place"),
    Answer("momentum argument ignored", _update("""
            return (0.9 * running_mean + 0.1 * mu, 0.9 * running_var + 0.1 * var * m / (m - 1))
        """), says="momentum argument is ignored"),
    Answer("inference uses the batch statistics", _inference("""
            return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
        """), says="a batch of one must work"),
    Answer("inference without eps", _inference("""
            return gamma * (x - running_mean) / np.sqrt(running_var) + beta
        """), says="eps is left out"),
    Answer("inference with eps outside the square root", _inference("""
            return gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
        """), says="eps is added outside the square root"),
    Answer("inference divides by the variance", _inference("""
            return gamma * (x - running_mean) / (running_var + eps) + beta
        """), says="sqrt(running_var + eps)"),
    Answer("gap without absolute value", _gap("""
            return float(np.mean(batchnorm_forward(x, gamma, beta)[0] - batchnorm_inference(x, gamma, beta, running_mean, running_var)))
        """), says="expected 0.99999"),
    Answer("gap with the batch's own statistics passed to batchnorm_inference", _gap("""
            train_out, _ = batchnorm_forward(x, gamma, beta)
            eval_out = batchnorm_inference(x, gamma, beta, x.mean(axis=0), x.var(axis=0))
            return float(np.mean(np.abs(train_out - eval_out)))
        """), says="given the batch's own statistics"),
    Answer("gap as the largest difference", _gap("""
            d = batchnorm_forward(x, gamma, beta)[0] - batchnorm_inference(x, gamma, beta, running_mean, running_var)
            return float(np.abs(d).max())
        """), says="largest difference, not the mean"),
    Answer("gap per feature", _gap("""
            d = batchnorm_forward(x, gamma, beta)[0] - batchnorm_inference(x, gamma, beta, running_mean, running_var)
            return np.abs(d).mean(axis=0)
        """), says="should be a number"),
]

# Mistakes in the pasted B1 code (graded there): this notebook's tests run the course's batch norm in its place.
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)", _pasted(var="x.var(axis=0, ddof=1)")),
    Answer("pasted batchnorm_forward with eps outside the square root", _pasted(root="(np.sqrt(var) + eps)")),
    Answer("pasted batchnorm_forward with gamma and beta swapped", _pasted(out="beta * x_hat + gamma")),
    Answer("pasted batchnorm_forward with the statistics over axis 1",
           _pasted(mean="x.mean(axis=1, keepdims=True)", var="x.var(axis=1, keepdims=True)")),
    Answer("nothing pasted (the cell left as released)", {PASTED: "# Paste batchnorm_forward from B1 here.\n"}),
]

RIGHT = [
    Answer("batch built with np.concatenate, loop with an index", _mates("""
            K = mates.shape[0]
            outs = np.zeros((K, x0.shape[0]))
            for k in range(K):
                batch = np.concatenate([x0.reshape(1, -1), mates[k]], axis=0)
                outs[k] = batchnorm_forward(batch, gamma, beta)[0][0, :]
            return outs
        """)),
    Answer("x0 put last in each batch, its (last) row kept", _mates("""
            batches = [np.concatenate([others, x0[None]]) for others in mates]
            return np.array([batchnorm_forward(batch, gamma, beta)[0][-1] for batch in batches])
        """)),
    Answer("update written as old + (1 - momentum) * (new - old)", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            unbiased = var * (m / (m - 1.0))
            new_mean = running_mean + (1 - momentum) * (mu - running_mean)
            new_var = running_var + (1 - momentum) * (unbiased - running_var)
            return new_mean, new_var

        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            scale = gamma / np.sqrt(running_var + eps)
            shift = beta - running_mean * scale
            return x * scale + shift
        """}),
    Answer("gap with np.abs(...).sum() / size", _gap("""
            a = batchnorm_forward(x, gamma, beta)[0]
            b = batchnorm_inference(x, gamma, beta, running_mean, running_var)
            return np.abs(a - b).sum() / a.size
        """)),
]
