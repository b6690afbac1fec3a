"""Answers to C5 (gradient flow) beside the reference solution."""
from answers import Answer

ONE_TASK_PER_MISTAKE = True  # tests/suites.py: a wrong answer loses points in its own task only

PASTED = "c5-batchnorm"
PEAK = "c5-peak"
REPORT = "c5-report"
ENTROPY = "c5-entropy"


def _peak(body):
    return {PEAK: "def derivative_peak(f, z):\n" + body}


def _entropy(body):
    return {ENTROPY: "def layer_entropy(hs, bins=20):\n" + body}


def _report(body):
    return {REPORT: "def layer_report(zs, dWs, threshold=4.0):\n" + body}


_DX = "(dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))"


def _pasted(var="x.var(axis=0)", returned="out, cache", dx=_DX):
    """The pasted batchnorm_forward of B1's and batchnorm_backward of B2's, with one part changed."""
    return {PASTED: f"""
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            var = {var}
            x_hat = (x - mu) / np.sqrt(var + eps)
            out = gamma * x_hat + beta
            cache = (x, x_hat, mu, var, gamma, eps)
            return {returned}

        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            dx_hat = dout * gamma
            dx = {dx} / np.sqrt(var + eps)
            return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
        """}


WRONG = [
    Answer("value of f instead of f' at the peak", _peak("""
            df = sp.diff(f, z)
            c = [r for r in sp.solve(sp.diff(df, z), z) if r.is_real]
            best = max(c, key=lambda r: float(df.subs(z, r)))
            return best, sp.simplify(f.subs(z, best))
        """), says="not of f itself"),
    Answer("first critical point, not the largest", _peak("""
            df = sp.diff(f, z)
            best = sp.solve(sp.diff(df, z), z)[0]
            return best, sp.simplify(df.subs(z, best))
        """), says="LARGEST f'"),
    Answer("peak of f'' instead of f'", _peak("""
            d2 = sp.diff(f, z, 2)
            c = [r for r in sp.solve(sp.diff(d2, z), z) if r.is_real]
            best = max(c, key=lambda r: float(d2.subs(z, r)))
            return best, sp.simplify(d2.subs(z, best))
        """), says="z_star for sigmoid"),
    Answer("hard-coded sigmoid answer", _peak("""
            return sp.Integer(0), sp.Rational(1, 4)
        """), says="peak of tanh'"),
    Answer("upper tail only", _report("""
            return (np.array([np.mean(zl > threshold) for zl in zs]),
                    np.array([np.linalg.norm(d) for d in dWs]))
        """), says="both tails"),
    Answer("threshold ignored", _report("""
            return (np.array([np.mean(np.abs(zl) > 4.0) for zl in zs]),
                    np.array([np.linalg.norm(d) for d in dWs]))
        """), says="threshold argument is ignored"),
    Answer("squared gradient norm", _report("""
            return (np.array([np.mean(np.abs(zl) > threshold) for zl in zs]),
                    np.array([np.sum(d ** 2) for d in dWs]))
        """), says="np.linalg.norm"),
    Answer("largest gradient entry", _report("""
            return (np.array([np.mean(np.abs(zl) > threshold) for zl in zs]),
                    np.array([np.abs(d).max() for d in dWs]))
        """), says="np.linalg.norm"),
    Answer("saturation as a count, not a share", _report("""
            return (np.array([np.sum(np.abs(zl) > threshold) for zl in zs], dtype=float),
                    np.array([np.linalg.norm(d) for d in dWs]))
        """), says="share of entries"),
    Answer("one number for all layers", _report("""
            return (np.mean(np.concatenate([np.abs(zl).ravel() for zl in zs]) > threshold),
                    np.array([np.linalg.norm(d) for d in dWs]))
        """), says="NumPy array"),
    Answer("entropy in nats", _entropy("""
            edges = np.linspace(0, 1, bins + 1)
            out = []
            for h in hs:
                per_unit = []
                for j in range(h.shape[1]):
                    p = np.histogram(h[:, j], bins=edges)[0] / len(h)
                    p = p[p > 0]
                    per_unit.append(-(p * np.log(p)).sum())
                out.append(np.mean(per_unit))
            return np.array(out)
        """), says="bits"),
    Answer("one histogram of the whole layer", _entropy("""
            edges = np.linspace(0, 1, bins + 1)
            out = []
            for h in hs:
                p = np.histogram(h, bins=edges)[0] / h.size
                p = p[p > 0]
                out.append(-(p * np.log2(p)).sum())
            return np.array(out)
        """), says="bin each unit's outputs"),
    Answer("bins from each unit's own range", _entropy("""
            out = []
            for h in hs:
                per_unit = []
                for j in range(h.shape[1]):
                    p = np.histogram(h[:, j], bins=bins)[0] / len(h)
                    p = p[p > 0]
                    per_unit.append(-(p * np.log2(p)).sum())
                out.append(np.mean(per_unit))
            return np.array(out)
        """), says="same bins on [0, 1]"),
    Answer("bins argument ignored", _entropy("""
            edges = np.linspace(0, 1, 21)
            out = []
            for h in hs:
                per_unit = []
                for j in range(h.shape[1]):
                    p = np.histogram(h[:, j], bins=edges)[0] / len(h)
                    p = p[p > 0]
                    per_unit.append(-(p * np.log2(p)).sum())
                out.append(np.mean(per_unit))
            return np.array(out)
        """), says="bins argument is ignored"),
    Answer("entropy summed over the units, not averaged", _entropy("""
            edges = np.linspace(0.0, 1.0, bins + 1)
            out = []
            for h in hs:
                total = 0.0
                for j in range(h.shape[1]):
                    p = np.histogram(h[:, j], bins=edges)[0] / h.shape[0]
                    p = p[p > 0]
                    total += -(p * np.log2(p)).sum()
                out.append(total)
            return np.array(out)
        """), says="mean over the layer's units"),
    Answer("empty bins give nan (0 log 0 not dropped)", _entropy("""
            edges = np.linspace(0, 1, bins + 1)
            out = []
            for h in hs:
                per_unit = []
                for j in range(h.shape[1]):
                    p = np.histogram(h[:, j], bins=edges)[0] / len(h)
                    per_unit.append(-(p * np.log2(p)).sum())
                out.append(np.mean(per_unit))
            return np.array(out)
        """), says="layer_entropy"),
]

# Mistakes in the pasted B1 and B2 code (graded there): the network of this notebook's tests normalizes with the
# course's batch norm.
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)", _pasted(var="x.var(axis=0, ddof=1)")),
    Answer("pasted batchnorm_forward that returns out only (no cache)", _pasted(returned="out")),
    Answer("pasted batchnorm_backward without the term through the mean",
           _pasted(dx="(dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0))")),
    Answer("nothing pasted (the cell left as released)",
           {PASTED: "# Paste batchnorm_forward from B1 and batchnorm_backward from B2 here.\n"}),
]

RIGHT = [
    Answer("entropy with np.unique of bin indices, vectorised over units", _entropy("""
            out = []
            for h in hs:
                idx = np.clip((h * bins).astype(int), 0, bins - 1)   # bin b holds [b/bins, (b+1)/bins); 1.0 in the last
                H = []
                for col in idx.T:
                    _, counts = np.unique(col, return_counts=True)
                    p = counts / counts.sum()
                    H.append(float(-np.sum(p * np.log2(p))))
                out.append(sum(H) / len(H))
            return np.array(out)
        """)),
    Answer("solveset over the reals, exact comparison", _peak("""
            df = sp.simplify(sp.diff(f, z))
            points = list(sp.solveset(sp.diff(df, z), z, domain=sp.S.Reals))
            values = [sp.simplify(df.subs(z, p)) for p in points]
            k = max(range(len(points)), key=lambda i: float(values[i]))
            return points[k], values[k]
        """)),
    Answer("nsolve from a few starting points (floats)", _peak("""
            df = sp.diff(f, z)
            d2 = sp.diff(df, z)
            roots = set()
            for start in np.linspace(-5, 5, 21):
                try:
                    roots.add(round(float(sp.nsolve(d2, z, start)), 12))
                except Exception:
                    pass
            best = max(roots, key=lambda r: float(df.subs(z, r)))
            return sp.Float(best), sp.Float(df.subs(z, best))
        """)),
    Answer("loops and sqrt of sum of squares", _report("""
            saturated, grad_norms = [], []
            for zl, d in zip(zs, dWs):
                saturated.append((np.abs(zl) > threshold).sum() / zl.size)
                grad_norms.append(np.sqrt((d ** 2).sum()))
            return np.array(saturated), np.array(grad_norms)
        """)),
]
