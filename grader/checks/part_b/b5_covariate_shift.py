"""Hidden checks of B5 (internal covariate shift): inference mode, record_layers, train_and_record,
run_experiment, plot_histograms and visualize_covariate_shift.

Every network a check builds or trains normalizes with the reference batch norm (REFERENCE_BN, from
grader.checks.reference), never with the batchnorm_forward/backward pasted at the top of the
notebook (B1 and B2 grade those) nor with the student's Task 0: a mistake there costs nothing here.
A network handed to the student's code carries it as functions the kernel calls back. Where a task
calls an earlier one (train_and_record calls record_layers, run_experiment calls train_and_record),
the check puts the reference in its place, through the notebook's locked with_references: the
kernel calls the reference back, and it runs here.
"""
import copy

import numpy as np

from course.mlp import MLP, BatchNorm, train_epoch
from course.testing import check_array, check_unchanged, in_kernel
from course.viz import LABELS, layer_drift
from grader.checks import reference

REFERENCE_BN = BatchNorm(reference.batchnorm_forward, reference.batchnorm_backward,
                         inference=reference.batchnorm_inference, update_running=reference.update_running)
PYTORCH_MOMENTUM = "momentum weighs the new batch instead of the old value (PyTorch's momentum is 1 - rho)"
BIASED = ("the running variance averages the biased batch variance; the course's convention is the unbiased "
          "m / (m - 1) * var (Ioffe & Szegedy's Algorithm 2)")
# Test 3's reference run records this many test images: its drift ratios are those of the notebook's 200
# (within 10%), and its histories, which cross to the kernel and back, are a quarter of the size.
EXPERIMENT_PROBE = 50
# Test 3's run of 6 epochs: with BN, z drifts at least this many times less in layer 1 and in the layers above
# (the reference run: 1.6 and 4.1 to 7.9), which a network built without BN, or trained differently, does not reach.
DRIFT_RATIO = (1.3, 3.0)


# -- the references of Tasks 1 and 2, with the reference batch norm -----------------------------

def _reference_bn(net):
    """net, normalizing with REFERENCE_BN if it normalizes at all (a network from the kernel
    carries the student's batch norm, or handles to the reference's)."""
    if net.batchnorm is not None:
        net.batchnorm = REFERENCE_BN
    return net


def _layers(net, X, *keys):
    """For each key ("z", "u", "h"), every hidden layer's value for the batch X stacked: (L, N, H)."""
    caches = _reference_bn(net).forward(X)[1]
    return tuple(np.stack([cache[key] for cache in caches]) for key in keys)


def _reference_record(net, X):
    """The reference record_layers(net, X): (pre, post) = (z, h), with the reference batch norm."""
    return _layers(net, X, "z", "h")


def _train_and_record(net, data, epochs, record_every, seed, lr, batch_size, probe_size, *,
                      fresh_generator=False, train_acc=False):
    """The reference train_and_record (the history of Task 2), with the reference batch norm.
    fresh_generator: a new generator every epoch (a known mistake); train_acc: also "train_acc",
    the accuracy on the training set at each recording (to name another)."""
    net = _reference_bn(net)
    rng = np.random.default_rng(seed)
    history = {"epoch": [], "pre": [], "post": [], "test_acc": []} | ({"train_acc": []} if train_acc else {})
    for epoch in range(epochs + 1):
        if epoch > 0:
            if fresh_generator:
                rng = np.random.default_rng(seed)
            train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
        if epoch % record_every == 0:
            pre, post = _reference_record(net, data.X_test[:probe_size])
            history["epoch"].append(epoch)
            history["pre"].append(pre)
            history["post"].append(post)
            history["test_acc"].append(net.accuracy(data.X_test, data.y_test))
            if train_acc:
                history["train_acc"].append(net.accuracy(data.X_train, data.y_train))
    return {key: np.array(values) for key, values in history.items()}


# -- Task 0 -------------------------------------------------------------------------------------

def test_running(update_running, batchnorm_inference):
    """update_running for three batch sizes and momenta (new arrays, inputs unchanged), and
    batchnorm_inference for two eps and a single example."""
    rng = np.random.default_rng(2026)
    for m, momentum, d in ((2, 0.9, 3), (16, 0.5, 4), (50, 0.99, 2)):
        rm, rv = rng.normal(size=d), rng.uniform(0.5, 2.0, d)
        mu, var = rng.normal(size=d), rng.uniform(0.1, 3.0, d)
        before = [a.copy() for a in (rm, rv, mu, var)]
        new_mean, new_var = update_running(rm, rv, mu, var, m, momentum)
        for name, a, b in zip(("running_mean", "running_var", "mu", "var"), (rm, rv, mu, var), before):
            check_unchanged(name, b, a, culprit="update_running")
        expected_mean, expected_var = reference.update_running(rm, rv, mu, var, m, momentum)
        swapped_mean, swapped_var = reference.update_running(rm, rv, mu, var, m, 1 - momentum)
        what = f"(m = {m}, momentum = {momentum})"
        check_array(f"running_mean {what}", new_mean, expected_mean, rtol=1e-12,
                    mistakes={PYTORCH_MOMENTUM: swapped_mean})
        check_array(f"running_var {what}", new_var, expected_var, rtol=1e-12,
                    mistakes={BIASED: momentum * rv + (1 - momentum) * var,
                              "the correction is (m - 1) / m; the unbiased variance is m / (m - 1) * var":
                                  momentum * rv + (1 - momentum) * (m - 1) / m * var,
                              PYTORCH_MOMENTUM: swapped_var})
    x, gamma, beta = rng.normal(2.0, 3.0, size=(5, 3)), rng.uniform(0.5, 2.0, 3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.001, 0.01, 3)
    for eps in (1e-5, 1e-2):
        check_array(f"batchnorm_inference for x of shape {x.shape}, eps = {eps}",
                    batchnorm_inference(x, gamma, beta, rm, rv, eps=eps),
                    reference.batchnorm_inference(x, gamma, beta, rm, rv, eps), rtol=1e-10,
                    mistakes={"eps is added outside the square root; it belongs inside: sqrt(running_var + eps)":
                                  gamma * (x - rm) / (np.sqrt(rv) + eps) + beta,
                              "x is normalized with its own batch statistics; inference uses the running statistics":
                                  reference.batchnorm_forward(x, gamma, beta, eps)[0],
                              "gamma and beta are not applied after normalizing":
                                  reference.batchnorm_inference(x, 1.0, 0.0, rm, rv, eps)})
    check_array("batchnorm_inference for a single example (N = 1)", batchnorm_inference(x[:1], gamma, beta, rm, rv),
                reference.batchnorm_inference(x[:1], gamma, beta, rm, rv), rtol=1e-10)


# -- Task 1 -------------------------------------------------------------------------------------

def test_record_layers(record_layers):
    """pre and post of record_layers for sigmoid and tanh networks, with and without batch norm."""
    rng = np.random.default_rng(2025)
    for activation, bn in (("sigmoid", True), ("sigmoid", False), ("tanh", True), ("tanh", False)):
        net = MLP((7, 6, 6, 6, 4), activation, batchnorm=REFERENCE_BN if bn else None, seed=11, weight_scale=2.0)
        net.params["W1"] *= 3.0  # move layer 1's pre-activations away from zero
        X = rng.normal(1.0, 2.0, size=(9, 7))
        z, u, h = _layers(net, X, "z", "u", "h")
        what = f"a {activation} network {'with' if bn else 'without'} BN"
        pre, post = record_layers(net, X)
        after_bn = {"you recorded u = BN(z), after batch norm: in training mode it has mean beta and standard "
                    "deviation gamma in every unit on any batch, so it cannot show a drift; pre holds z = x W + b, "
                    "before the normalisation": u} if bn else {}
        check_array(f"pre for {what}", pre, z, rtol=1e-10, atol=1e-12,
                    mistakes={"you recorded the outputs h = f(u), after the non-linearity; pre should hold "
                              "z = x W + b": h} | after_bn,
                    hint="pre[l] is caches[l]['z'], layer l + 1's x W + b.")
        check_array(f"post for {what}", post, h, rtol=1e-10, atol=1e-12,
                    mistakes={"you recorded z in post; post should hold the outputs h = f(u)": z}
                    | ({"you recorded u = BN(z) in post; post should hold the outputs h = f(u)": u} if bn else {}),
                    hint="post[l] is caches[l]['h'], the output of layer l + 1's non-linearity.")


# -- Task 2 -------------------------------------------------------------------------------------

def test_train_and_record(train_and_record, with_references, check_history, data, probe_size):
    """Every snapshot and accuracy of a 4-epoch run recorded every 2 epochs, with and without batch
    norm, against the reference run from the same start; the reference record_layers stands in for
    the student's (so a mistake in Task 1 costs Test 1 only)."""
    data = data._replace(X_train=data.X_train[:320], y_train=data.y_train[:320])  # 6 mini-batches an epoch: quick
    settings = dict(seed=7, lr=0.3, batch_size=50)
    for bn in (False, True):
        start = MLP((64, 12, 12, 12, 10), "sigmoid", batchnorm=REFERENCE_BN if bn else None, seed=21, weight_scale=2.0)
        h = in_kernel(with_references, {"record_layers": _reference_record}, train_and_record, copy.deepcopy(start),
                      data, epochs=4, record_every=2, **settings)
        check_history("history", h, [0, 2, 4], n_layers=3, n_probe=probe_size, n_units=12)
        for r in (1, 2):
            assert not np.array_equal(np.asarray(h["pre"][r]), np.asarray(h["pre"][0])), (
                f"history['pre'][{r}] (after epoch {2 * r}) is identical to history['pre'][0] (before training): "
                "call record_layers again at every recording, after training, instead of reusing the first snapshot.")
        # the reference run, recorded after every epoch (to name a recording one epoch too early)
        snaps = _train_and_record(copy.deepcopy(start), data, 4, 1, probe_size=probe_size, train_acc=True, **settings)
        matches = all(np.allclose(np.asarray(h["pre"][r], dtype=float), snaps["pre"][e], rtol=1e-8, atol=1e-10)
                      for r, e in enumerate((0, 2, 4)))
        fresh = snaps if matches else _train_and_record(copy.deepcopy(start), data, 4, 1, probe_size=probe_size,
                                                        fresh_generator=True, **settings)  # only to name a mistake
        what = "with BN" if bn else "without BN"
        for r, epoch in enumerate((0, 2, 4)):
            check_array(f"history['pre'][{r}] (after epoch {epoch}, {what})", h["pre"][r], snaps["pre"][epoch],
                        rtol=1e-8, atol=1e-10,
                        mistakes={"you recorded one epoch too early (before training that epoch instead of after)":
                                      snaps["pre"][max(epoch - 1, 0)],
                                  "you create a new generator every epoch, so every epoch sees the mini-batches in the "
                                  "same order; create the generator once, before the loop": fresh["pre"][epoch]},
                        hint="Record with record_layers(net, data.X_test[:PROBE_SIZE]) before training and after "
                             "every record_every epochs; train each epoch with train_epoch(net, data.X_train, "
                             "data.y_train, rng, batch_size=batch_size, lr=lr), using the arguments seed, lr and "
                             "batch_size you were given.")
            check_array(f"history['post'][{r}] (after epoch {epoch}, {what})", h["post"][r], snaps["post"][epoch],
                        rtol=1e-8, atol=1e-10, hint="post comes from the same record_layers(net, probe) call as pre.")
        check_array(f"history['test_acc'] ({what})", np.asarray(h["test_acc"], dtype=float), snaps["test_acc"][::2],
                    rtol=1e-12, atol=1e-12,
                    mistakes={"you measured the accuracy on the training set; test_acc is on data.X_test, data.y_test":
                              snaps["train_acc"][::2]},
                    hint="test_acc is net.accuracy(data.X_test, data.y_test), measured at each recording.")


# -- Task 3 -------------------------------------------------------------------------------------

def _start(sizes, activation, seed, weight_scale, bn, probe):
    """z of every hidden layer of a new network (the reference batch norm if bn) for the probe: (L, P, H)."""
    net = MLP(sizes, activation, batchnorm=REFERENCE_BN if bn else None, seed=seed, weight_scale=weight_scale)
    return _layers(net, probe, "z")[0]


def test_experiment(run_experiment, with_references, check_history, data, *, sizes, seed, weight_scale, defaults):
    """run_experiment for 6 epochs with a sigmoid network, the reference train_and_record in place of
    the student's: the two runs start from the networks asked for, and with BN the layers drift less
    and the test accuracy ends at least as high; then, untrained, with tanh and another seed: the
    networks are built with the activation and seed given.

    sizes, seed, weight_scale: the notebook's (64, HIDDEN, ..., 10), SEED and WEIGHT_SCALE; defaults: those
    of train_and_record (epochs, record_every, seed, lr, batch_size). The reference records EXPERIMENT_PROBE
    test images, not the notebook's PROBE_SIZE: the histories cross to the kernel and back."""
    def reference_train_and_record(net, data, epochs=defaults["epochs"], record_every=defaults["record_every"],
                                   seed=defaults["seed"], lr=defaults["lr"], batch_size=defaults["batch_size"]):
        return _train_and_record(net, data, epochs, record_every, seed, lr, batch_size, EXPERIMENT_PROBE)

    def run(**kwargs):
        return in_kernel(with_references, {"train_and_record": reference_train_and_record}, run_experiment, data,
                         **kwargs)

    probe, depth, hidden = data.X_test[:EXPERIMENT_PROBE], len(sizes) - 2, sizes[1]
    hp, hb = run(epochs=6, record_every=2, activation="sigmoid", seed=seed)
    check_history("history_plain", hp, [0, 2, 4, 6], depth, len(probe), hidden)
    check_history("history_bn", hb, [0, 2, 4, 6], depth, len(probe), hidden)
    first_bn = _start(sizes, "sigmoid", seed, weight_scale, True, probe)
    first_plain = _start(sizes, "sigmoid", seed, weight_scale, False, probe)
    check_array("history_bn['pre'][0], the 'with BN' network before training", hb["pre"][0], first_bn,
                rtol=1e-7, atol=1e-9,
                mistakes={"Your 'with BN' network does not normalise: build it with batchnorm=BN": first_plain},
                hint="The 'with BN' run did not start from the same weights as the network the test builds: use the "
                     "same sizes, seed=seed, weight_scale=WEIGHT_SCALE and batchnorm=BN.")
    check_array("history_plain['pre'][0], the plain network before training", hp["pre"][0], first_plain,
                rtol=1e-7, atol=1e-9,
                mistakes={"The histories are returned in the wrong order, or the plain network normalises too: "
                          "return (history_plain, history_bn)": first_bn},
                hint="The plain run did not start from the same weights as the network the test builds: use the "
                     "same sizes, seed=seed, weight_scale=WEIGHT_SCALE and batchnorm=None.")
    drift_plain, drift_bn = layer_drift(hp["pre"]), layer_drift(hb["pre"])
    ratio = drift_plain / np.maximum(drift_bn, 1e-12)
    for layer, r in enumerate(ratio):
        need = DRIFT_RATIO[0] if layer == 0 else DRIFT_RATIO[1]
        assert r >= need, (
            f"With BN, layer {layer + 1}'s z drifts only {r:.2f} times less than without BN; "
            f"expected at least {need:g} times less (drift per layer without BN: {drift_plain}, with BN: {drift_bn}). "
            "Do both networks train with train_and_record(net, data, epochs, record_every), its other settings left at "
            "their defaults?")
    assert hb["test_acc"][-1] >= hp["test_acc"][-1], (
        f"After 6 epochs the network with BN reaches {hb['test_acc'][-1]:.1%} test accuracy, below the "
        f"{hp['test_acc'][-1]:.1%} of the network without BN; with the same start and the same mini-batches it should "
        "do at least as well. Check that both networks are trained by train_and_record(net, data, epochs, "
        "record_every) with the same settings.")
    other = seed + 1
    runs = run(epochs=0, record_every=1, activation="tanh", seed=other)
    for (name, bn), history in zip((("history_plain", False), ("history_bn", True)), runs):
        check_history(f"{name} of run_experiment(epochs=0, activation='tanh', seed={other})", history, [0], depth,
                      len(probe), hidden)
        check_array(f"{name}['pre'][0] of run_experiment(epochs=0, activation='tanh', seed={other})", history["pre"][0],
                    _start(sizes, "tanh", other, weight_scale, bn, probe), rtol=1e-7, atol=1e-9,
                    mistakes={"the network is built with the notebook's ACTIVATION, not the activation run_experiment "
                              "is given": _start(sizes, "sigmoid", other, weight_scale, bn, probe),
                              "the network is built with the notebook's SEED, not the seed run_experiment is given":
                                  _start(sizes, "tanh", seed, weight_scale, bn, probe)},
                    hint="Build both networks with MLP(sizes, activation, ..., seed=seed, ...): the arguments of "
                         "run_experiment, not the notebook's constants.")


# -- Task 4 -------------------------------------------------------------------------------------

def test_histograms(check_histograms):
    """plot_histograms on a made-up history of 5 recordings of 3 layers: a given `which` out of order,
    the default one, and a single recording. check_histograms is the test cell's own check (it calls
    plot_histograms on a fresh Axes in the kernel and compares what it returns and draws)."""
    rng = np.random.default_rng(77)
    pre = np.stack([rng.normal(0.6 * r, 1.0 + 0.4 * r, size=(3, 50, 4)) for r in range(5)])
    fake = {"epoch": np.array([0, 2, 4, 6, 8]), "pre": pre, "post": 1.0 / (1.0 + np.exp(-pre)),
            "test_acc": np.linspace(0.1, 0.9, 5)}
    edges = np.linspace(-6, 10, 33)
    check_histograms("plot_histograms(ax, history, layer=1, which=(4, 1, 2))", fake, 1, edges, (4, 1, 2))
    check_histograms("plot_histograms(ax, history, layer=0) (default which)", fake, 0, edges, None, color="tab:orange")
    check_histograms("plot_histograms(ax, history, layer=2, which=[3])", fake, 2, edges, [3])


# -- Task 5 -------------------------------------------------------------------------------------

def test_visualize(visualize_covariate_shift, is_explorer):
    """The explorer's bars, for every epoch, both layers and both networks of two made-up histories,
    against the shares of np.histogram."""
    rng = np.random.default_rng(99)
    epochs = np.array([0, 3, 6])

    def fake_history(shift, spread):
        pre = np.stack([rng.normal(shift * r, 1.0 + spread * r, size=(2, 40, 3)) for r in range(3)])
        pre = np.clip(pre, -9.9, 9.9)
        return {"epoch": epochs.copy(), "pre": pre, "post": 1.0 / (1.0 + np.exp(-pre)),
                "test_acc": np.array([0.1, 0.5, 0.9])}

    hp, hb = fake_history(1.5, 0.5), fake_history(0.0, 0.0)
    edges = np.linspace(-10, 10, 41)
    ui = visualize_covariate_shift(hp, hb, edges=edges)
    assert in_kernel(is_explorer, ui), (
        f"visualize_covariate_shift should return CovariateShiftExplorer(...); got {type(ui).__name__}.")

    def share(values):
        counts = np.histogram(values, bins=edges)[0].astype(float)
        return counts / counts.sum()

    for layer in (1, 0):
        ui.layer_picker.value = layer
        for r, epoch in enumerate(epochs):
            ui.slider.value = int(epoch)
            for key, h in (("plain", hp), ("bn", hb)):
                other = hb if key == "plain" else hp
                check_array(f"histogram drawn ({LABELS[key]}, layer {layer + 1}, epoch {epoch})", ui.heights(key),
                            share(h["pre"][r, layer]), rtol=1e-9, atol=1e-12,
                            mistakes={"the counts come from the activations h (history['post']), not from z "
                                      "(history['pre'])": share(h["post"][r, layer]),
                                      "every epoch shows the first epoch's histogram: the slider does not change the "
                                      "bars": share(h["pre"][0, layer]),
                                      "the counts of the other network are shown": share(other["pre"][r, layer])},
                            hint="counts[r, l] = np.histogram(history['pre'][r, l], bins=edges)[0], for each network.")
