"""Answers to C3 (higher learning rates) beside the reference solution."""
from answers import Answer
from answers.part_c.c2_epsilon import PASTED_BACKWARD, PASTED_FORWARD, pasted

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTE = "c3-batchnorm"
LINEAR = "c3-bn-linear"
STABLE = "c3-stable-lr"
ALONG = "c3-along-gradient"


def _linear(body):
    return {LINEAR: "def bn_linear(x, W, gamma, beta, dout):\n" + body}


def _stable(body):
    return {STABLE: "def largest_stable_lr(lrs, final_losses, initial_loss):\n" + body}


def _along(body):
    return {ALONG: "def along_gradient(f, grad_f, theta, etas):\n" + body}


WRONG = [
    Answer("weight gradient skips batch norm", _linear("""
            out, cache = batchnorm_forward(x @ W, gamma, beta)
            return out, x.T @ dout
        """), says="dW = x.T @ dh"),
    Answer("weight gradient transposed", _linear("""
            out, cache = batchnorm_forward(x @ W, gamma, beta)
            dh, _, _ = batchnorm_backward(dout, cache)
            return out, dh.T @ x
        """), says="shape"),
    Answer("weight gradient with dout in place of gamma * dout", _linear("""
            out, cache = batchnorm_forward(x @ W, gamma, beta)
            dh, _, _ = batchnorm_backward(dout / gamma, cache)
            return out, x.T @ dh
        """), says="dW"),
    Answer("its own batch norm, with the unbiased variance", _linear("""
            h = x @ W
            mu, var = h.mean(axis=0), h.var(axis=0, ddof=1)
            h_hat = (h - mu) / np.sqrt(var + 1e-5)
            dh, _, _ = batchnorm_backward(dout, (h, h_hat, mu, var, gamma, 1e-5))
            return gamma * h_hat + beta, x.T @ dh
        """), says="ddof=1"),
    Answer("largest stable rate over all runs (ignores an earlier failure)", _stable("""
            stable = np.isfinite(final_losses) & (final_losses < initial_loss)
            return float(np.max(lrs[stable])) if stable.any() else None
        """), says="lucky run"),
    Answer("rate with the lowest final loss", _stable("""
            finals = np.where(np.isfinite(final_losses), final_losses, np.inf)
            return float(lrs[np.argmin(finals)])
        """), says="lowest final loss"),
    Answer("only checks for divergence, not the initial loss", _stable("""
            best = None
            for k in np.argsort(lrs):
                if not np.isfinite(final_losses[k]):
                    break
                best = float(lrs[k])
            return best
        """), says="above the initial loss"),
    Answer("assumes the rates are sorted", _stable("""
            best = None
            for lr, loss in zip(lrs, final_losses):
                if not (np.isfinite(loss) and loss < initial_loss):
                    break
                best = float(lr)
            return best
        """), says="not sorted"),
    Answer("0.0 when no rate is stable", _stable("""
            best = 0.0
            for k in np.argsort(lrs):
                if not (np.isfinite(final_losses[k]) and final_losses[k] < initial_loss):
                    break
                best = float(lrs[k])
            return best
        """), says="expected None"),
    Answer("returns the index", _stable("""
            best = None
            for k in np.argsort(lrs):
                if not (np.isfinite(final_losses[k]) and final_losses[k] < initial_loss):
                    break
                best = int(k)
            return best
        """), says="expected 0.1"),
    Answer("steps up the gradient", _along("""
            g = grad_f(theta)
            losses = np.array([f(theta + eta * g) for eta in etas])
            changes = np.array([np.linalg.norm(grad_f(theta + eta * g) - g) for eta in etas])
            return losses, changes
        """), says="a step *against* the gradient"),
    Answer("normalized gradient direction", _along("""
            g = grad_f(theta)
            d = g / np.linalg.norm(g)
            losses = np.array([f(theta - eta * d) for eta in etas])
            changes = np.array([np.linalg.norm(grad_f(theta - eta * d) - g) for eta in etas])
            return losses, changes
        """), says="wrong values"),
    Answer("squared gradient change", _along("""
            g = grad_f(theta)
            losses = np.array([f(theta - eta * g) for eta in etas])
            changes = np.array([np.sum((grad_f(theta - eta * g) - g) ** 2) for eta in etas])
            return losses, changes
        """), says="euclidean norm"),
    Answer("norm of the new gradient instead of the change", _along("""
            g = grad_f(theta)
            losses = np.array([f(theta - eta * g) for eta in etas])
            changes = np.array([np.linalg.norm(grad_f(theta - eta * g)) for eta in etas])
            return losses, changes
        """), says="norm of the difference"),
    Answer("gradient change as a list of vectors", _along("""
            g = grad_f(theta)
            losses = np.array([f(theta - eta * g) for eta in etas])
            changes = np.array([grad_f(theta - eta * g) - g for eta in etas])
            return losses, changes
        """), says="shape"),
]

# Mistakes in the pasted batch norm (graded in B1 and B2): bn_linear builds on it, and its hidden test runs it with
# the course's batch norm in place of the pasted one; the visible test checks only what holds for these too (the scale
# invariance), so they cost nothing in this notebook. (A paste that is missing or raises does cost Task 1: bn_linear
# cannot run at all, and the message names batchnorm_forward.)
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)",
           {PASTE: pasted(forward=PASTED_FORWARD.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)"))}),
    Answer("pasted batchnorm_forward with eps outside the square root",
           {PASTE: pasted(forward=PASTED_FORWARD.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)"))}),
    Answer("pasted batchnorm_backward misses the term through the mean",
           {PASTE: pasted(backward=PASTED_BACKWARD.replace("dx_hat - dx_hat.mean(axis=0) - ", "dx_hat - "))}),
    Answer("pasted batchnorm_backward forgets gamma",
           {PASTE: pasted(backward=PASTED_BACKWARD.replace("dx_hat = dout * gamma", "dx_hat = dout"))}),
]

RIGHT = [
    Answer("gradient through an explicit backward of the affine layer", _linear("""
            h = x @ W
            out, cache = batchnorm_forward(h, gamma, beta)
            dh = batchnorm_backward(dout, cache)[0]
            dW = np.einsum("nd,nh->dh", x, dh)
            return out, dW
        """)),
    Answer("stable range with a boolean mask and cumprod", _stable("""
            order = np.argsort(lrs)
            ok = np.isfinite(final_losses[order]) & (np.nan_to_num(final_losses[order], nan=np.inf) < initial_loss)
            run = np.cumprod(ok).astype(bool)
            return float(lrs[order][run][-1]) if run.any() else None
        """)),
    Answer("lists and a comprehension", _along("""
            g = grad_f(theta)
            points = [theta - eta * g for eta in etas]
            losses = np.array([f(p) for p in points], dtype=float)
            changes = np.array([np.sqrt(np.sum((grad_f(p) - g) ** 2)) for p in points])
            return losses, changes
        """)),
]
