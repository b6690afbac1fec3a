"""Hidden checks of B4 (layer norm): LayerNorm's __init__, forward, backward (dx) and parameter
gradients (dgamma, dbeta), each graded alone.

The expected values come from grader.checks.reference (layernorm_forward, layernorm_backward,
layernorm_staged and EPS_MISTAKES); the known mistakes are the reference with one thing changed.
backward reads what the student's own forward kept, so its tests grade it in one of two ways:
where forward's output is right, against the reference; where it is wrong (Test 2 grades that),
against what a right backward gives on top of that forward, so that a wrong forward costs only
its own test. A case whose __init__ or forward raises is left to their tests; a test none of
whose cases runs fails.
"""
import numpy as np

from course.testing import CheckFailed, case, check_array, check_unchanged
from grader.checks.reference import EPS_MISTAKES, layernorm_backward, layernorm_forward, layernorm_staged
from grader.checks.reference import numerical_gradient as reference_numerical_gradient
from grader.judge import KernelDied, KernelTimeout

NEAR = (1e-3, "a near miss, small compared with the gradient: check how eps enters (sqrt(var + eps), as in the "
              "forward pass)")
ADAPT = ("Adapt your B2 result to the other axis: its sums over the batch become means over each sample's normalized "
         "entries, and gamma, which now varies along those entries, stays inside them (g = gamma * dout).")
SUMS = "dgamma and dbeta have the shape of gamma: sum over every leading axis (all but the normalized ones)."
OWN_FORWARD = ("Your forward pass is not right yet (Test 2 says why), so {what} was compared with what a right "
               "backward pass gives on top of your forward pass: {expected}. Fix forward first; {what} is then "
               "compared with the exact formula.")


# -- the shapes, the data and the layer -----------------------------------------------------------

def _axes(shape, norm):
    """(the normalized axes, the shape of gamma) of an input of `shape` for normalized_shape `norm`."""
    k = 1 if isinstance(norm, int) else len(norm)
    return tuple(range(len(shape) - k, len(shape))), tuple(shape[len(shape) - k:])


def _forward_passes(LayerNorm, seed, cases, what):
    """For each (shape, normalized_shape) of cases, a random x, dout, gamma != 1 and beta != 0, and a LayerNorm with
    these gamma and beta after its forward(x), run after a forward on an older batch (backward must use the latest):
    (case, layer, out, x, gamma, beta, dout, axes). A case whose __init__ or forward raises is left to their tests;
    CheckFailed when none runs (`what` untested is not `what` passed)."""
    rng = np.random.default_rng(seed)
    tested = 0
    for shape, norm in cases:
        axes, pshape = _axes(shape, norm)
        gamma, beta = rng.uniform(0.5, 2.0, pshape), rng.normal(size=pshape)
        x, dout, older = rng.normal(1.0, 2.0, size=shape), rng.normal(size=shape), rng.normal(size=shape)
        try:
            layer = LayerNorm(norm)
            layer.gamma, layer.beta = gamma.copy(), beta.copy()
            layer.forward(older.copy())
            out = layer.forward(x.copy())
        except (KernelDied, KernelTimeout):
            raise
        except Exception:  # noqa: BLE001 - whatever the code raised, the test of __init__ or forward reports it
            continue
        tested += 1
        yield f"x of shape {shape}, normalized_shape {norm!r}", layer, out, x, gamma, beta, dout, axes
    if not tested:
        raise CheckFailed(f"LayerNorm(...) or its forward raised an error for every input of this test, so {what} "
                          "could not be tested: Tests 1 and 2 say what is wrong with __init__ and forward.")


def _agrees(got, expected, rtol, atol):
    """Whether check_array passes got as expected."""
    try:
        check_array("value", got, expected, rtol=rtol, atol=atol)
    except CheckFailed:
        return False
    return True


def _x_hat_of(out, x, gamma, beta):
    """The x_hat of a forward pass whose output is gamma * x_hat + beta, None if out is not an array like x."""
    if type(out) is not np.ndarray or out.shape != x.shape or out.dtype.kind != "f" or not np.isfinite(out).all():
        return None
    return (out - beta) / gamma


def _forward_right(out, x, gamma, beta, axes):
    return _agrees(out, layernorm_forward(x, gamma, beta, axes), rtol=1e-9, atol=1e-12)


def _dx_on(x_hat, x, gamma, dout, axes):
    """The right dx on top of a forward pass whose x_hat is, along each row of the last axis, a * x + b: the formula
    with its x_hat and its factor a in place of 1/sqrt(var + eps) (what a right backward computes from such a
    forward's cache); None where x_hat is not of that form (statistics over the batch axis, say)."""
    xc, hc = x - x.mean(axis=-1, keepdims=True), x_hat - x_hat.mean(axis=-1, keepdims=True)
    a = (xc * hc).sum(axis=-1, keepdims=True) / (xc * xc).sum(axis=-1, keepdims=True)
    if not np.allclose(hc, a * xc, rtol=1e-9, atol=1e-12 * np.abs(x_hat).max()):
        return None
    g = dout * gamma
    return a * (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))


# -- the known mistakes -----------------------------------------------------------------------------

def _dx_mistakes(x, gamma, dout, axes):
    """{description: dx} of the known mistakes of the backward pass."""
    with np.errstate(all="ignore"):
        mistakes = {
            "dx ignores that mu and var depend on x (the coupling terms through the mean and variance are missing)":
                layernorm_backward(x, gamma, dout, axes, coupling=False)[0],
            "dx forgets the factor gamma (g = gamma * dout)": layernorm_backward(x, 1.0, dout, axes)[0],
            "dx has the wrong sign": -layernorm_backward(x, gamma, dout, axes)[0],
            "gamma is taken out of the sums as in batch norm; here it varies along the normalized entries, so it "
            "stays inside them (g = gamma * dout)": gamma * layernorm_backward(x, 1.0, dout, axes)[0],
        }
        for formula, nodes, s, ds in EPS_MISTAKES:
            mistakes[formula] = layernorm_backward(x, gamma, dout, axes, s=s)[0]
            mistakes[nodes] = layernorm_staged(x, gamma, dout, axes, s, ds)
    return mistakes


def _forward_mistakes(x, gamma, beta, axes, norm):
    """{description: out} of the known mistakes of the forward pass."""
    mistakes = {
        "you normalize over the batch axis (axis=0): that is batch norm": layernorm_forward(x, gamma, beta, (0,)),
        "the variance divides by M-1 (ddof=1); layer norm uses 1/M": layernorm_forward(x, gamma, beta, axes, ddof=1),
        "eps is added outside the square root: use sqrt(var + eps)":
            layernorm_forward(x, gamma, beta, axes, eps_outside=True),
        "eps is left out": layernorm_forward(x, gamma, beta, axes, eps=0.0),
        "gamma and beta are swapped (out should be gamma * x_hat + beta)": layernorm_forward(x, beta, gamma, axes),
        "gamma and beta are not applied: read self.gamma and self.beta in forward":
            layernorm_forward(x, 1.0, 0.0, axes),
    }
    if len(axes) > 1:
        last_only = f"you normalize over the last axis only; normalized_shape {norm!r} names the last {len(axes)} axes"
        mistakes[last_only] = layernorm_forward(x, gamma, beta, (x.ndim - 1,))
    if x.ndim - len(axes) > 1:
        mistakes["you normalize over every axis after the first; normalize only over the trailing normalized_shape "
                 "axes"] = layernorm_forward(x, gamma, beta, tuple(range(1, x.ndim)))
    return mistakes


# -- the checks ---------------------------------------------------------------------------------------

def test_init(LayerNorm):
    """gamma and beta of a LayerNorm built from a list, and two layers of one shape that do not share them."""
    layer = LayerNorm([2, 6], eps=1e-3)
    check_array("LayerNorm([2, 6]).beta", layer.beta, np.zeros((2, 6)), rtol=0, atol=0,
                hint="Accept any sequence of ints: tuple(normalized_shape).")
    a, b = LayerNorm(3), LayerNorm(3)
    a.gamma[0] = 7.0
    try:
        check_array("the gamma of a second LayerNorm(3)", b.gamma, np.ones(3), rtol=0, atol=0,
                    hint="Each layer needs its own arrays: create them in __init__ with np.ones / np.zeros.")
    finally:
        a.gamma[0] = 1.0  # arrays shared by every LayerNorm(3) must not carry this test's 7 into the next tests


def test_forward(LayerNorm):
    """out for (N, D), (N, T, D) and 4-D inputs, normalized_shape of one and two axes, gamma != 1,
    beta != 0 and samples whose scales run from 0.001 to 10 (where eps's place shows), and eps=0.1
    with a constant sample."""
    rng = np.random.default_rng(2044)
    for shape, norm in [((7, 5), 5), ((3, 4, 6), 6), ((3, 4, 6), (4, 6)), ((2, 3, 2, 5), 5)]:
        axes, pshape = _axes(shape, norm)
        x = rng.normal(1.0, 2.0, size=shape)
        x = x * np.logspace(-3, 1, shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))  # per-sample scales
        gamma, beta = rng.uniform(0.5, 2.0, pshape), rng.normal(0.0, 1.0, pshape)
        with case(f"x of shape {shape}, normalized_shape {norm!r}"):
            layer = LayerNorm(norm)
            layer.gamma, layer.beta = gamma.copy(), beta.copy()
            check_array("LayerNorm(normalized_shape).forward(x)", layer.forward(x.copy()),
                        layernorm_forward(x, gamma, beta, axes), rtol=1e-9, atol=1e-12,
                        mistakes=_forward_mistakes(x, gamma, beta, axes, norm),
                        hint=f"Normalize over the last {len(axes)} axis/axes {axes}, each sample with its own mean and "
                             "variance.")
    with case("x of shape (2, 3), LayerNorm(3, eps=0.1)"):
        layer = LayerNorm(3, eps=0.1)
        x = np.array([[0.0, 0.1, 0.2], [5.0, 5.0, 5.0]])
        check_array("LayerNorm(3, eps=0.1).forward(x)", layer.forward(x.copy()),
                    layernorm_forward(x, 1.0, 0.0, (1,), eps=0.1), rtol=1e-9, atol=1e-12,
                    hint="Use the eps given to __init__, inside the square root; a constant sample gives 0.")


def test_batch(LayerNorm):
    """A sample's output alone equals its output in the batch, forward leaves x unchanged, and a
    forward on another batch first changes nothing."""
    rng = np.random.default_rng(808)
    for shape, norm in [((8, 5), 5), ((4, 3, 6), 6), ((4, 3, 6), (3, 6))]:
        with case(f"x of shape {shape}, normalized_shape {norm!r}"):
            layer = LayerNorm(norm)
            layer.gamma = rng.uniform(0.5, 2.0, layer.gamma.shape)
            layer.beta = rng.normal(size=layer.beta.shape)
            x = rng.normal(2.0, 3.0, size=shape)
            x0 = x.copy()
            full = layer.forward(x)
            check_unchanged("x", x0, x, culprit="LayerNorm.forward")
            for i in (0, shape[0] - 1):
                check_array(f"the output of sample {i} computed alone (x[{i}:{i + 1}] of shape {x[i:i + 1].shape})",
                            layer.forward(x[i:i + 1]), full[i:i + 1], rtol=1e-9, atol=1e-12,
                            hint="A sample's output must not depend on the rest of the batch: no statistics over "
                                 "axis 0.")
            layer.forward(rng.normal(-5.0, 10.0, size=shape))  # another batch first
            check_array("forward(x) after a forward on another batch", layer.forward(x), full,
                        rtol=1e-9, atol=1e-12,
                        hint="Layer norm keeps no running statistics: forward(x) depends on x only.")


def test_backward(LayerNorm):
    """dx for (N, D) and (N, T, D) inputs with one and two normalized axes, gamma != 1 and a random
    dout, after a forward on an older batch (dout left unchanged): against the exact formula where
    forward is right, else against a right backward on top of the student's forward."""
    for desc, layer, out, x, gamma, beta, dout, axes in _forward_passes(
            LayerNorm, 4321, [((5, 6), 6), ((3, 4, 5), 5), ((2, 3, 4), (3, 4))], "backward"):
        dout0 = dout.copy()
        with case(desc):
            dx = layer.backward(dout)
            check_unchanged("dout", dout0, dout, culprit="LayerNorm.backward")
            expected = layernorm_backward(x, gamma, dout0, axes)[0]
            if _forward_right(out, x, gamma, beta, axes):
                check_array("dx", dx, expected, rtol=1e-9, atol=1e-11, mistakes=_dx_mistakes(x, gamma, dout0, axes),
                            hint=ADAPT, close=NEAR)
            else:
                _check_dx_on_own_forward(layer, out, dx, expected, x, gamma, beta, dout0, axes)


def _check_dx_on_own_forward(layer, out, dx, expected, x, gamma, beta, dout, axes):
    """dx, where forward's output is wrong: it passes as the exact dx (forward's cache may be right though its output is
    not), as the formula on forward's own x_hat and factor (_dx_on), or as the gradient of the student's forward."""
    if _agrees(dx, expected, rtol=1e-9, atol=1e-11):
        return
    x_hat = _x_hat_of(out, x, gamma, beta)
    own = None if x_hat is None else _dx_on(x_hat, x, gamma, dout, axes)
    if own is not None and _agrees(dx, own, rtol=1e-8, atol=1e-10):
        return
    numeric = reference_numerical_gradient(lambda a: layer.forward(a.copy()), x, dout)
    if own is None:
        check_array("dx", dx, numeric, rtol=1e-7, atol=1e-9, mistakes={"dx has the wrong sign": -numeric},
                    hint=OWN_FORWARD.format(what="dx", expected="the centered differences of your forward"))
    elif not _agrees(dx, numeric, rtol=1e-7, atol=1e-9):
        check_array("dx", dx, own, rtol=1e-8, atol=1e-10, mistakes={"dx has the wrong sign": -own},
                    hint=OWN_FORWARD.format(what="dx", expected="the formula on your forward's x_hat (or the centered "
                                                                 "differences of your forward)"))


def test_params(LayerNorm):
    """dgamma and dbeta for inputs of two, three and four axes (sums over every leading axis): against
    the exact values where forward is right, else against a right backward on top of the student's
    forward (dout * x_hat of its output, summed over the leading axes or, where forward normalized over
    fewer axes, over those it leaves)."""
    for desc, layer, out, x, gamma, beta, dout, axes in _forward_passes(
            LayerNorm, 4322, [((5, 6), 6), ((3, 4, 5), 5), ((2, 3, 4), (3, 4)), ((2, 2, 3, 4), 4)],
            "backward (dgamma and dbeta)"):
        with case(desc):
            layer.backward(dout)
            dgamma, dbeta = layer.dgamma, layer.dbeta
            _, edg, edb = layernorm_backward(x, gamma, dout, axes)
            swapped = "dgamma and dbeta are swapped"
            if _forward_right(out, x, gamma, beta, axes):
                check_array("dgamma", dgamma, edg, rtol=1e-9, atol=1e-11, hint=SUMS, mistakes={swapped: edb})
                check_array("dbeta", dbeta, edb, rtol=1e-9, atol=1e-11, hint=SUMS, mistakes={swapped: edg})
            else:
                _check_params_on_own_forward(out, dgamma, dbeta, edg, edb, x, gamma, beta, dout, axes)


def _leading_sums(values, axes):
    """values summed over the leading axes, then over the leading axes of a forward that normalized over only the
    last k < len(axes) axes (its backward sums over more): the sums a right backward may make on top of a forward."""
    return [values.sum(axis=tuple(range(values.ndim - k))) for k in range(len(axes), 0, -1)]


def _check_params_on_own_forward(out, dgamma, dbeta, edg, edb, x, gamma, beta, dout, axes):
    """dgamma and dbeta, where forward's output is wrong: dbeta as a sum of dout, dgamma as the exact value (forward's
    cache may be right though its output is not) or as a sum of dout * x_hat with the x_hat of forward's output."""
    x_hat = _x_hat_of(out, x, gamma, beta)
    own = [] if x_hat is None else _leading_sums(dout * x_hat, axes)
    swapped = {"dgamma and dbeta are swapped": edb}
    if not any(_agrees(dgamma, e, rtol=1e-8, atol=1e-10) for e in [edg] + own):
        if own:
            own_hint = OWN_FORWARD.format(what="dgamma", expected="dout * x_hat summed over the leading axes, with "
                                                                  "your forward's x_hat")
            check_array("dgamma", dgamma, own[0], rtol=1e-8, atol=1e-10, mistakes=swapped, hint=own_hint + " " + SUMS)
        check_array("dgamma", dgamma, edg, rtol=1e-9, atol=1e-11, hint=SUMS, mistakes=swapped)
    if not any(_agrees(dbeta, e, rtol=1e-9, atol=1e-11) for e in _leading_sums(dout, axes)):
        check_array("dbeta", dbeta, edb, rtol=1e-9, atol=1e-11, hint=SUMS,
                    mistakes={"dgamma and dbeta are swapped": edg})
