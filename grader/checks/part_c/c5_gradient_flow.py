"""Hidden checks of C5 (batch norm and the flow of gradients).

Each check grades one function on inputs of its own; the network whose outputs layer_entropy
measures normalizes with the course's batch norm (grader.checks.reference), not the pasted one.
"""
import numpy as np
import sympy as sp

from course.experiments import load_digits_split
from course.mlp import MLP, BatchNorm
from course.testing import CheckFailed, check_array, check_scalar, check_tuple
from grader.checks import reference


def test_peak(derivative_peak, z):
    """derivative_peak of shifted and scaled sigmoid and tanh, and of a function whose f' has a
    minimum as well as a maximum: the largest f', as the value of f', not of f."""
    cases = [
        ("sigmoid(2z - 3)", 1 / (1 + sp.exp(-(2 * z - 3))), sp.Rational(3, 2), 1 / sp.Integer(2)),
        ("3 tanh(z/2 + 1)", 3 * sp.tanh(z / 2 + 1), -2, sp.Rational(3, 2)),
        ("z/10 - exp(-z^2/2), whose derivative has a minimum at -1 and a maximum at 1", z / 10 - sp.exp(-z ** 2 / 2), 1,
         sp.exp(-sp.Rational(1, 2)) + sp.Rational(1, 10)),
    ]
    for name, f, z_star, peak in cases:
        result = derivative_peak(f, z)
        check_tuple(f"derivative_peak({name})", result, 2, parts=("z_star", "peak"))
        f_value, df_value = float(f.subs(z, result[0])), float(sp.diff(f, z).subs(z, result[0]))
        if abs(float(result[1]) - f_value) < 1e-9 and abs(f_value - df_value) > 1e-6:
            raise CheckFailed(f"derivative_peak({name}) returns the value of f at z_star ({f_value:.4g}); "
                              f"the peak is the value of the derivative f'(z_star), not of f itself.")
        check_scalar(f"z_star for {name}", float(result[0]), float(z_star), atol=1e-9,
                     hint="Keep the candidate with the LARGEST f' (a zero of f'' can also be a minimum of f').")
        check_scalar(f"peak for {name}", float(result[1]), float(peak), rtol=1e-9)


def test_report(layer_report):
    """layer_report with threshold 3 on three layers: the share of |z| > threshold in both tails,
    and the Euclidean norm of each weight gradient."""
    rng = np.random.default_rng(2024)
    zs = [rng.normal(0, s, size=(20, 6)) for s in (1.0, 4.0, 8.0)]
    dWs = [rng.normal(size=(5, 6)) * s for s in (1.0, 0.1, 0.01)]
    saturated, grad_norms = layer_report(zs, dWs, threshold=3.0)
    check_array("saturated (threshold 3)", saturated, [np.mean(np.abs(z) > 3.0) for z in zs], rtol=1e-12,
                mistakes={"only the upper tail z > threshold is counted; |z| > threshold counts both":
                              [np.mean(z > 3.0) for z in zs],
                          "the threshold argument is ignored (4 is used)": [np.mean(np.abs(z) > 4.0) for z in zs],
                          "it counts units saturated on every example, not the share of entries":
                              [np.mean(np.all(np.abs(z) > 3.0, axis=0)) for z in zs]})
    check_array("grad_norms", grad_norms, [np.linalg.norm(d) for d in dWs], rtol=1e-12,
                mistakes={"it is the squared norm (no square root)": [np.sum(d ** 2) for d in dWs],
                          "it is the largest absolute entry, not the Euclidean norm": [np.abs(d).max() for d in dWs],
                          "it is the mean absolute entry, not the Euclidean norm": [np.abs(d).mean() for d in dWs]})


def _entropy(hs, bins, log=np.log2, pooled=False, own_range=False):
    """The mean entropy of each layer's binned unit outputs; log, pooled (one histogram per layer)
    and own_range (bins from each unit's min to max) make the known mistakes."""
    out = []
    for h in hs:
        columns = [h.ravel()] if pooled else [h[:, j] for j in range(h.shape[1])]
        values = []
        for c in columns:
            edges = np.linspace(c.min(), c.max(), bins + 1) if own_range else np.linspace(0, 1, bins + 1)
            p = np.histogram(c, bins=edges)[0] / len(c)
            p = p[p > 0]
            values.append(-(p * log(p)).sum())
        out.append(np.mean(values))
    return np.array(out)


def test_entropy(layer_entropy):
    """layer_entropy of sigmoid outputs for two numbers of bins, then on the notebook's measurement:
    a 10-layer sigmoid network with small weights, without and with the course's batch norm."""
    rng = np.random.default_rng(2024)
    hs = [1 / (1 + np.exp(-rng.normal(0, s, size=(300, 5)) - 0.3 * rng.normal(size=5))) for s in (0.05, 1.0, 6.0)]
    for bins in (10, 32):
        mistakes = {"the entropy is in nats (np.log); the course measures it in bits (np.log2)":
                        _entropy(hs, bins, log=np.log),
                    "all of a layer's outputs are pooled into one histogram; bin each unit's outputs, then average "
                    "over units": _entropy(hs, bins, pooled=True),
                    "the bins span each unit's own min to max; use the same bins on [0, 1] for every unit":
                        _entropy(hs, bins, own_range=True),
                    "the bins argument is ignored (20 bins are used)": _entropy(hs, 20)}
        check_array(f"layer_entropy for 3 layers of 300 x 5 sigmoid outputs, bins = {bins}",
                    layer_entropy(hs, bins=bins), _entropy(hs, bins), rtol=1e-9, mistakes=mistakes,
                    hint="Bins: np.linspace(0, 1, bins + 1); shares: counts / N; H = -sum p log2 p over non-empty "
                         "bins; mean over units.")
    X, _, _, _ = load_digits_split(n_train=200, n_test=1)
    course_bn = BatchNorm(reference.batchnorm_forward, reference.batchnorm_backward)
    for name, bn in (("without BN", None), ("with BN", course_bn)):
        net = MLP([64] + [64] * 10 + [10], "sigmoid", batchnorm=bn, seed=0, weight_scale=1.0)
        layer_hs = [cache["h"] for cache in net.forward(X)[1]]
        check_array(f"layer_entropy of the 10-layer network {name} (200 digits, 20 bins)", layer_entropy(layer_hs),
                    _entropy(layer_hs, 20), rtol=1e-9, atol=1e-12)
