"""B5 (internal covariate shift): the network, the data, the plots and the explorer widget.

The wrong- and right-answer suites of the notebook run in test_part_b.py. Here the reference solution
runs once (the full experiment, as a student sees it), and the tests check what it builds: the explorer's
slider and bars (outside a browser: set slider.value, read the bars), the three plots (saved as PNG under
artifacts/ to look at), and course.mlp's gradients.
"""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Imported here so that the notebooks' forked runs (test_part_b.py) start warm.
import course.data  # noqa: E402
import course.mlp  # noqa: E402
import course.viz  # noqa: E402
from course.gradcheck import numerical_gradient, rel_error  # noqa: E402

import nbrun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
NOTEBOOK = "part_b/b5_covariate_shift.ipynb"


def _bn_forward(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


def _bn_backward(dout, cache):
    x, x_hat, mu, var, gamma, eps = cache
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / np.sqrt(var + eps)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """The namespace of the source notebook run top to bottom with the reference solution (full run)."""
    nb = nbrun.load(NOTEBOOK)
    namespace = {"__name__": "__main__"}
    old_show, old_cwd = plt.show, os.getcwd()
    saved = os.environ.pop("NBGRADER_EXECUTION", None)
    plt.show = lambda *args, **kwargs: None        # keep the figures to save them
    os.chdir(tmp_path_factory.mktemp("b5"))
    try:
        for cell in nb.cells:
            if cell.cell_type == "code" and "display(" not in cell.source:
                exec(compile(cell.source, "<cell>", "exec"), namespace)
        namespace["figures"] = [plt.figure(n) for n in plt.get_fignums()]
    finally:
        plt.show = old_show
        os.chdir(old_cwd)
        if saved is not None:
            os.environ["NBGRADER_EXECUTION"] = saved
    yield namespace
    plt.close("all")


@pytest.fixture(scope="module")
def explorer(notebook):
    return notebook["visualize_covariate_shift"](notebook["history_plain"], notebook["history_bn"])


def _shares(history, r, layer, edges):
    counts = np.histogram(history["pre"][r, layer], bins=edges)[0].astype(float)
    return counts / counts.sum()


def test_slider_covers_the_recorded_epochs(notebook, explorer):
    epochs = [int(e) for e in notebook["history_plain"]["epoch"]]
    assert epochs == list(range(0, 31, 2))
    assert [value for _, value in explorer.slider.options] == epochs
    assert explorer.slider.value == 0


def test_moving_the_slider_changes_the_bar_heights_in_place(notebook, explorer):
    hp, hb, edges = notebook["history_plain"], notebook["history_bn"], notebook["EDGES"]
    figure, bars = explorer.figure, {k: list(v) for k, v in explorer.bars.items()}
    layer = explorer.layer_picker.value
    assert layer == 4, "the explorer opens on the last hidden layer, as Ioffe & Szegedy's Figure 1"
    images, heights = [], []
    for r, epoch in enumerate(hp["epoch"]):
        explorer.slider.value = int(epoch)
        for key, history in (("plain", hp), ("bn", hb)):
            np.testing.assert_allclose(explorer.heights(key), _shares(history, r, layer, edges), rtol=1e-12)
        heights.append(explorer.heights("plain"))
        images.append(explorer.image.value)
    # the same figure and the same bar artists, only their heights changed
    assert explorer.figure is figure
    assert all(a is b for key in bars for a, b in zip(bars[key], explorer.bars[key]))
    assert np.abs(heights[-1] - heights[0]).sum() > 0.05
    assert len(set(images)) == len(images), "every epoch renders a different image"


def test_layer_and_network_selectors_redraw(notebook, explorer):
    hp, edges = notebook["history_plain"], notebook["EDGES"]
    explorer.slider.value = 10
    explorer.layer_picker.value = 1
    np.testing.assert_allclose(explorer.heights("plain"), _shares(hp, 5, 1, edges), rtol=1e-12)
    explorer.network_picker.value = "bn"
    assert not any(bar.get_visible() for bar in explorer.bars["plain"])
    assert all(bar.get_visible() for bar in explorer.bars["bn"])
    explorer.network_picker.value = "both"
    assert all(bar.get_visible() for key in ("plain", "bn") for bar in explorer.bars[key])
    explorer.layer_picker.value = 4


def test_explorer_rejects_counts_of_the_wrong_shape():
    edges = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match=r"should have shape \(R, L, B\)"):
        course.viz.CovariateShiftExplorer([0, 1, 2], edges, np.ones((2, 3, 4)), np.ones((2, 3, 4)))


def test_the_experiment_shows_what_figure_1_shows(notebook):
    """Task 3's claim, on z (which batch norm does not hold still by construction): with BN every layer drifts less."""
    hp, hb = notebook["history_plain"], notebook["history_bn"]
    ratio = course.viz.layer_drift(hp["pre"]) / course.viz.layer_drift(hb["pre"])
    assert (ratio[1:] >= 4).all() and ratio[0] >= 2.5, ratio
    assert hb["test_acc"][-1] >= hp["test_acc"][-1]
    assert hb["test_acc"][2] > hp["test_acc"][2] + 0.3, "with BN, accuracy rises sooner"
    # the last layer's unit 0 (Figure 1): its median moves much more without BN
    median_plain = np.median(hp["pre"][:, -1, :, 0], axis=1)
    median_bn = np.median(hb["pre"][:, -1, :, 0], axis=1)
    assert np.ptp(median_plain) > 3 * np.ptp(median_bn)


def test_u_of_the_bn_network_is_standardised_by_construction(notebook):
    """Why the notebook records z: in training mode, with BN, every unit's u has mean beta and std gamma on the probe."""
    ns = notebook
    net = course.mlp.MLP((64,) + (ns["HIDDEN"],) * ns["DEPTH"] + (10,), "sigmoid", batchnorm=ns["BN"], seed=ns["SEED"],
                         weight_scale=ns["WEIGHT_SCALE"])
    caches = net.forward(ns["DATA"].X_test[:ns["PROBE_SIZE"]])[1]
    for cache in caches:
        np.testing.assert_allclose(cache["u"].mean(axis=0), 0, atol=1e-10)
        np.testing.assert_allclose(cache["u"].std(axis=0), 1, rtol=1e-3)


def test_the_text_tells_the_story_the_run_shows(notebook):
    """The claims of "What you should see", the histogram, activation and saturation paragraphs and the mark scheme,
    on the notebook's own run."""
    hp, hb = notebook["history_plain"], notebook["history_bn"]
    # the last layer's unit 0: an almost flat band without BN at epoch 0 ("below 0.1") that widens; with BN it keeps its width
    assert notebook["width_plain"][0] < 0.1, notebook["width_plain"]
    assert notebook["width_plain"][-1] > 5 * notebook["width_plain"][0], notebook["width_plain"]
    assert 0.5 < notebook["width_bn"][-1] / notebook["width_bn"][0] < 1.5, notebook["width_bn"]
    # "it moves ... in the first epochs; once the network has learned, it hardly moves"
    early = notebook["early"]
    median_plain = np.median(hp["pre"][:, -1, :, 0], axis=1)
    assert np.ptp(median_plain[:early + 1]) > 5 * np.ptp(median_plain[early:]), median_plain
    assert hp["test_acc"][early] > 0.5, hp["test_acc"]
    # the spread shrinks from layer to layer without BN; with BN layers 2 to 5 have about the same spread
    spread_plain, spread_bn = notebook["spread0"]["plain"], notebook["spread0"]["bn"]
    assert (np.diff(spread_plain) < 0).all() and spread_plain[-1] < 0.1, spread_plain
    assert spread_bn[1:].max() < 1.2 * spread_bn[1:].min(), spread_bn
    # "the gradients reaching layer 1 are about a hundred times smaller than those at layer 5"; with BN similar
    grad_plain, grad_bn = notebook["grad0"]["plain"], notebook["grad0"]["bn"]
    assert 50 < grad_plain[-1] / grad_plain[0] < 200, grad_plain
    assert 0.5 < grad_bn[-1] / grad_bn[0] < 2, grad_bn
    # accuracy: chance for the first epochs without BN, high after the first epoch with BN (inference mode)
    assert hp["test_acc"][1] < 0.2 and hb["test_acc"][1] > 0.85, (hp["test_acc"], hb["test_acc"])
    # the pooled histograms show only part of the plain network's per-unit drift; with BN they lie on top of each other
    R, L = hp["pre"].shape[:2]
    pooled = course.viz.layer_drift(hp["pre"].reshape(R, L, -1, 1))
    assert (pooled[1:4] < 0.5 * course.viz.layer_drift(hp["pre"])[1:4]).all(), pooled
    assert (course.viz.layer_drift(hb["pre"].reshape(R, L, -1, 1)) < 0.15).all()
    # activations: every unit's h at nearly one value in the plain network's deep layers; with BN the same spread in every
    # layer at the start, and the last layer's h spreads out
    h_plain, h_bn = hp["post"].std(axis=2).mean(axis=-1), hb["post"].std(axis=2).mean(axis=-1)
    assert h_plain[0, -1] < 0.02 and (np.diff(h_plain[0]) < 0).all(), h_plain[0]
    assert h_bn[0].max() < 1.1 * h_bn[0].min() and h_bn[-1, -1] > 1.2 * h_bn[0, -1], h_bn
    # few saturated units, even without BN: "at most about a tenth in layer 1, a few percent deeper"
    end = course.viz.saturation(hp)[-1]
    assert end[0] < 0.12 and (end[1:] < 0.03).all(), end
    assert (course.viz.saturation(hb)[-1] < 0.01).all()
    # the rule read off h is the rule |u| > 4
    u = course.mlp.MLP((64, 30, 10), "sigmoid", seed=0, weight_scale=8.0).forward(notebook["DATA"].X_test)[1][0]["u"]
    counted = course.viz.saturation({"post": (1 / (1 + np.exp(-u)))[None, None]})
    np.testing.assert_allclose(counted, (np.abs(u) > 4).mean(), atol=1e-3)
    # "WEIGHT_SCALE = 8.0: about half of the plain network's sigmoid units saturate from the start"
    ns = notebook
    big = course.mlp.MLP((64,) + (ns["HIDDEN"],) * ns["DEPTH"] + (10,), "sigmoid", seed=ns["SEED"], weight_scale=8.0)
    pre, _ = ns["record_layers"](big, ns["DATA"].X_test[:ns["PROBE_SIZE"]])
    share = (np.abs(pre) > 4).mean(axis=(1, 2))
    assert (share > 0.35).all() and (share < 0.65).all(), share


def test_the_extra_runs_pull_drift_and_speed_apart(notebook):
    """The two runs of "Does less drift mean faster training?", as the mark scheme reads them."""
    tanh, small = notebook["runs_tanh"], notebook["runs_small_weights"]
    # tanh: the two networks' z drifts about as much, and both train fast
    ratio = course.viz.layer_drift(tanh["plain"]["pre"]) / course.viz.layer_drift(tanh["bn"]["pre"])
    assert (ratio > 0.8).all() and (ratio < 2).all(), ratio
    assert (tanh["plain"]["test_acc"][1] > 0.9) and tanh["bn"]["test_acc"][1] > 0.9
    assert abs(tanh["plain"]["test_acc"][-1] - tanh["bn"]["test_acc"][-1]) < 0.03
    # WEIGHT_SCALE = 1: the plain network's first layers drift less than with BN, and it never leaves chance
    plain, bn = course.viz.layer_drift(small["plain"]["pre"]), course.viz.layer_drift(small["bn"]["pre"])
    assert (plain[:2] < 0.2 * bn[:2]).all(), (plain, bn)
    assert small["plain"]["test_acc"].max() < 0.15 and small["bn"]["test_acc"][-1] > 0.9


def test_accuracy_uses_running_statistics(notebook):
    """B5 evaluates in inference mode: one image's prediction does not depend on the others evaluated with it."""
    ns = notebook
    net = course.mlp.MLP((64, 20, 20, 10), "sigmoid", batchnorm=ns["BN"], seed=0, weight_scale=2.0)
    course.mlp.train_epoch(net, ns["DATA"].X_train, ns["DATA"].y_train, np.random.default_rng(0), 32, 0.5)
    X = ns["DATA"].X_test
    np.testing.assert_allclose(net.scores(X[:1]), net.scores(X)[:1], rtol=1e-12)
    mean, var = net.running[0]
    assert not np.allclose(mean, 0) and not np.allclose(var, 1), "running statistics were updated while training"
    plain = course.mlp.MLP((64, 20, 10), batchnorm=(_bn_forward, _bn_backward))
    with pytest.raises(ValueError, match="running statistics"):
        plain.accuracy(X, ns["DATA"].y_test)


def test_plots_are_saved_as_png(notebook, explorer):
    """The four plots and two frames of the explorer, under artifacts/ to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    figures = notebook["figures"]
    titles = [fig.get_suptitle() for fig in figures]
    assert len(figures) == 4, titles
    names = ("b5_percentiles.png", "b5_histograms.png", "b5_activations.png", "b5_saturation.png")
    for fig, name in zip(figures, names):
        assert all(ax.get_title() for ax in fig.axes), f"{name}: every panel has a title"
        assert all(ax.get_ylabel() for ax in fig.axes if ax.get_subplotspec().is_first_col()), f"{name}: y labels"
        assert all(ax.get_xlabel() for ax in fig.axes if ax.get_subplotspec().is_last_row()), f"{name}: x labels"
        fig.savefig(ARTIFACTS / name, dpi=90)
    for epoch in (0, 30):
        explorer.slider.value = epoch
        (ARTIFACTS / f"b5_explorer_epoch{epoch}.png").write_bytes(explorer.image.value)
    for name in names + ("b5_explorer_epoch0.png", "b5_explorer_epoch30.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000, name


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("batchnorm", [None, (_bn_forward, _bn_backward)], ids=["plain", "bn"])
def test_mlp_backward_matches_numerical_gradients(activation, batchnorm):
    rng = np.random.default_rng(0)
    net = course.mlp.MLP((5, 4, 4, 3), activation, batchnorm=batchnorm, seed=1, weight_scale=2.0)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    _, grads = net.loss(X, y)
    assert set(grads) == set(net.params)
    for name, param in net.params.items():
        numerical = numerical_gradient(lambda: np.array(net.loss(X, y)[0]), param, np.array(1.0))
        # b of a batch-normalized layer has no effect: both gradients are 0 up to round-off
        assert rel_error(grads[name], numerical) < 1e-6 or np.abs(grads[name] - numerical).max() < 1e-9, name


def test_same_seed_same_start_with_or_without_bn():
    plain = course.mlp.MLP((6, 5, 5, 2), seed=3)
    bn = course.mlp.MLP((6, 5, 5, 2), batchnorm=(_bn_forward, _bn_backward), seed=3)
    for name, value in plain.params.items():
        np.testing.assert_array_equal(value, bn.params[name])
    assert set(bn.params) - set(plain.params) == {"gamma1", "beta1", "gamma2", "beta2"}
    with pytest.raises(ValueError, match="activation"):
        course.mlp.MLP((6, 5, 2), activation="softplus")
    with pytest.raises(ValueError, match="batchnorm"):
        course.mlp.MLP((6, 5, 2), batchnorm=_bn_forward)


def test_digits_are_standardised_and_split():
    data = course.data.digits()
    assert data.X_train.shape == (1437, 64) and data.X_test.shape == (360, 64)
    assert np.abs(data.X_train.mean(axis=0)).max() < 1e-12
    assert set(np.unique(data.y_test)) == set(range(10))
    with pytest.raises(ValueError):
        course.data.digits(test_fraction=1.5)


def test_progress_prints_one_line_outside_a_notebook(capsys):
    assert list(course.viz.progress(range(3), "with BN")) == [0, 1, 2]
    out = capsys.readouterr().out
    assert out.startswith("with BN: 3 / 3 done in") and out.count("\n") == 1


def test_course_holds_no_batch_norm():
    """course/ ships to students: the network calls their batch norm, it has none of its own."""
    for path in (ROOT / "course").glob("*.py"):
        text = path.read_text()
        assert "def batchnorm" not in text and "sqrt(var" not in text, path.name


def test_ghost_batches_normalize_each_group_and_backpropagate():
    rng = np.random.default_rng(1)
    net = course.mlp.MLP((5, 4, 3), "relu", batchnorm=(_bn_forward, _bn_backward), seed=2)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    _, caches = net.forward(X, ghost=3)
    u = caches[0]["u"]
    np.testing.assert_allclose(u[:3].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(u[3:].mean(axis=0), 0, atol=1e-12)
    _, grads = net.loss(X, y, ghost=3)
    for name, param in net.params.items():
        numerical = numerical_gradient(lambda: np.array(net.loss(X, y, ghost=3)[0]), param, np.array(1.0))
        assert rel_error(grads[name], numerical) < 1e-6 or np.abs(grads[name] - numerical).max() < 1e-9, name
