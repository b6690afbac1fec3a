"""Answers to B5 (inference mode, recording layers, the experiment, the histograms, visualize_covariate_shift) beside the reference solution."""
from answers import Answer

# the tasks build on each other, but each test takes the earlier tasks' answers and the batch norm from the
# references: a mistake costs its own task's test, and only that one
ONE_TASK_PER_MISTAKE = True
ONE_TEST_PER_MISTAKE = True

BN = "b5-batchnorm"
RECORD = "b5-record-layers"
TRAIN = "b5-train-and-record"
EXPERIMENT = "b5-experiment"
VISUALIZE = "b5-visualize"
RUNNING = "b5-running"
HISTOGRAMS = "b5-histograms"

_REFERENCE_BN = """
    def batchnorm_forward(x, gamma, beta, eps=1e-5):
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        x_hat = (x - mu) / np.sqrt(var + eps)
        return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


    def batchnorm_backward(dout, cache):
        x, x_hat, mu, var, gamma, eps = cache
        dx_hat = dout * gamma
        dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / np.sqrt(var + eps)
        return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    """


WRONG = [
    Answer("running variance of the biased batch variance (cs231n's choice)", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * var


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        """}, says="unbiased"),
    Answer("momentum weighs the new batch (PyTorch's momentum)", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            return ((1 - momentum) * running_mean + momentum * mu,
                    (1 - momentum) * running_var + momentum * m / (m - 1) * var)


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        """}, says="instead of the old value"),
    Answer("running statistics updated in place", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            running_mean *= momentum
            running_mean += (1 - momentum) * mu
            running_var *= momentum
            running_var += (1 - momentum) * m / (m - 1) * var
            return running_mean, running_var


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        """}, says="running_mean"),
    Answer("eps outside the square root at inference", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * m / (m - 1) * var


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
        """}, says="inside: sqrt(running_var + eps)"),
    Answer("inference normalizes with the batch's own statistics", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * m / (m - 1) * var


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta
        """}, says="running statistics"),
    Answer("histograms drawn as counts", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            pre = np.asarray(history["pre"])
            which = (0, len(pre) // 2, len(pre) - 1) if which is None else which
            out = []
            for r in which:
                h, _, _ = ax.hist(pre[r, layer].ravel(), bins=edges, histtype="step", color=color,
                                  label=f"epoch {history['epoch'][r]}")
                out.append(h)
            ax.set_xlabel("u")
            ax.set_ylabel("count")
            ax.legend()
            return np.array(out)
        """}, says="counts, not densities"),
    Answer("histograms of the activations h", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            post = np.asarray(history["post"])
            which = (0, len(post) // 2, len(post) - 1) if which is None else which
            out = []
            for r in which:
                h, _, _ = ax.hist(post[r, layer].ravel(), bins=edges, density=True, color=color,
                                  label=f"epoch {history['epoch'][r]}")
                out.append(h)
            ax.set_xlabel("h")
            ax.set_ylabel("density")
            ax.legend()
            return np.array(out)
        """}, says="outputs h"),
    Answer("histograms ignore `which`", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            pre = np.asarray(history["pre"])
            out = []
            for r in (0, len(pre) // 2, len(pre) - 1):
                h, _, _ = ax.hist(pre[r, layer].ravel(), bins=edges, density=True, color=color,
                                  label=f"epoch {history['epoch'][r]}")
                out.append(h)
            ax.set_xlabel("u")
            ax.set_ylabel("density")
            ax.legend()
            return np.array(out)
        """}, says="ignore `which`"),
    Answer("returns densities but draws counts", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            pre = np.asarray(history["pre"])
            which = (0, len(pre) // 2, len(pre) - 1) if which is None else which
            out = []
            for r in which:
                values = pre[r, layer].ravel()
                ax.hist(values, bins=edges, color=color, label=f"epoch {history['epoch'][r]}")
                out.append(np.histogram(values, bins=edges, density=True)[0])
            ax.set_xlabel("u")
            ax.set_ylabel("density")
            ax.legend()
            return np.array(out)
        """}, says="highest drawn value"),
    Answer("histograms without labels", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            pre = np.asarray(history["pre"])
            which = (0, len(pre) // 2, len(pre) - 1) if which is None else which
            return np.array([ax.hist(pre[r, layer].ravel(), bins=edges, density=True)[0] for r in which])
        """}, says="label each one with its epoch"),
    Answer("records after the non-linearity (h) as the pre-activation", {RECORD: """
        def record_layers(net, X):
            _, caches = net.forward(X)
            post = np.stack([c["h"] for c in caches])
            return post, post
        """}, says="after the non-linearity"),
    Answer("records u, after batch norm, as Ioffe & Szegedy plot", {RECORD: """
        def record_layers(net, X):
            _, caches = net.forward(X)
            return np.stack([c["u"] for c in caches]), np.stack([c["h"] for c in caches])
        """}, says="cannot show a drift"),
    Answer("pre and post swapped", {RECORD: """
        def record_layers(net, X):
            _, caches = net.forward(X)
            return np.stack([c["h"] for c in caches]), np.stack([c["z"] for c in caches])
        """}, says="after the non-linearity"),
    Answer("records only the first epoch (before training)", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            rng = np.random.default_rng(seed)
            pre, post = record_layers(net, data.X_test[:PROBE_SIZE])
            history = {"epoch": np.array([0]), "pre": pre[None], "post": post[None],
                       "test_acc": np.array([net.accuracy(data.X_test, data.y_test)])}
            for epoch in range(epochs):
                train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
            return history
        """}, says="after every record_every epochs"),
    Answer("records the first epoch's snapshot at every recording", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            rng = np.random.default_rng(seed)
            pre, post = record_layers(net, data.X_test[:PROBE_SIZE])
            history = {"epoch": [], "pre": [], "post": [], "test_acc": []}
            for epoch in range(epochs + 1):
                if epoch > 0:
                    train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
                if epoch % record_every == 0:
                    history["epoch"].append(epoch)
                    history["pre"].append(pre)
                    history["post"].append(post)
                    history["test_acc"].append(net.accuracy(data.X_test, data.y_test))
            return {k: np.array(v) for k, v in history.items()}
        """}, says="identical"),
    Answer("records before training the epoch (one epoch too early)", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            rng = np.random.default_rng(seed)
            history = {"epoch": [], "pre": [], "post": [], "test_acc": []}

            def record(epoch):
                pre, post = record_layers(net, data.X_test[:PROBE_SIZE])
                history["epoch"].append(epoch)
                history["pre"].append(pre)
                history["post"].append(post)
                history["test_acc"].append(net.accuracy(data.X_test, data.y_test))

            record(0)
            for epoch in range(1, epochs + 1):
                if epoch % record_every == 0:
                    record(epoch)
                train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
            return {k: np.array(v) for k, v in history.items()}
        """}, says="one epoch too early"),
    Answer("a new generator every epoch (the same mini-batch order each epoch)", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            history = {"epoch": [], "pre": [], "post": [], "test_acc": []}
            for epoch in range(epochs + 1):
                if epoch > 0:
                    rng = np.random.default_rng(seed)
                    train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
                if epoch % record_every == 0:
                    pre, post = record_layers(net, data.X_test[:PROBE_SIZE])
                    history["epoch"].append(epoch)
                    history["pre"].append(pre)
                    history["post"].append(post)
                    history["test_acc"].append(net.accuracy(data.X_test, data.y_test))
            return {k: np.array(v) for k, v in history.items()}
        """}, says="generator once"),
    Answer("training accuracy recorded as test accuracy", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            rng = np.random.default_rng(seed)
            history = {"epoch": [], "pre": [], "post": [], "test_acc": []}
            for epoch in range(epochs + 1):
                if epoch > 0:
                    train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
                if epoch % record_every == 0:
                    pre, post = record_layers(net, data.X_test[:PROBE_SIZE])
                    history["epoch"].append(epoch)
                    history["pre"].append(pre)
                    history["post"].append(post)
                    history["test_acc"].append(net.accuracy(data.X_train, data.y_train))
            return {k: np.array(v) for k, v in history.items()}
        """}, says="training set"),
    Answer("the 'BN' network is built without batch norm", {EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = (64,) + (HIDDEN,) * DEPTH + (10,)
            plain = MLP(sizes, activation, seed=seed, weight_scale=WEIGHT_SCALE)
            bn = MLP(sizes, activation, seed=seed, weight_scale=WEIGHT_SCALE)
            return train_and_record(plain, data, epochs, record_every), train_and_record(bn, data, epochs, record_every)
        """}, says="does not normalise"),
    Answer("the two networks start from different weights", {EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = (64,) + (HIDDEN,) * DEPTH + (10,)
            plain = MLP(sizes, activation, seed=seed, weight_scale=WEIGHT_SCALE)
            bn = MLP(sizes, activation, batchnorm=BN, seed=seed + 1,
                     weight_scale=WEIGHT_SCALE)
            return train_and_record(plain, data, epochs, record_every), train_and_record(bn, data, epochs, record_every)
        """}, says="same weights"),
    Answer("histories returned in the wrong order (bn, plain)", {EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = (64,) + (HIDDEN,) * DEPTH + (10,)
            plain = MLP(sizes, activation, seed=seed, weight_scale=WEIGHT_SCALE)
            bn = MLP(sizes, activation, batchnorm=BN, seed=seed,
                     weight_scale=WEIGHT_SCALE)
            return train_and_record(bn, data, epochs, record_every), train_and_record(plain, data, epochs, record_every)
        """}, says="does not normalise"),
    Answer("histograms of the first epoch only", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            counts = []
            for history in (history_plain, history_bn):
                pre = history["pre"]
                first = np.array([np.histogram(pre[0, l], bins=edges)[0] for l in range(pre.shape[1])])
                counts.append(np.repeat(first[None], pre.shape[0], axis=0))
            return CovariateShiftExplorer(history_plain["epoch"], edges, *counts)
        """}, says="does not change the bars"),
    Answer("histograms of the activations instead of the pre-activations", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            counts = []
            for history in (history_plain, history_bn):
                post = history["post"]
                counts.append(np.array([[np.histogram(post[r, l], bins=edges)[0] for l in range(post.shape[1])]
                                        for r in range(post.shape[0])]))
            return CovariateShiftExplorer(history_plain["epoch"], edges, *counts)
        """}, says="activations h"),
    Answer("the two networks' counts swapped", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            counts = []
            for history in (history_plain, history_bn):
                pre = history["pre"]
                counts.append(np.array([[np.histogram(pre[r, l], bins=edges)[0] for l in range(pre.shape[1])]
                                        for r in range(pre.shape[0])]))
            return CovariateShiftExplorer(history_plain["epoch"], edges, counts[1], counts[0])
        """}, says="other network"),
    Answer("counts indexed (layer, epoch) instead of (epoch, layer)", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            counts = []
            for history in (history_plain, history_bn):
                pre = history["pre"]
                counts.append(np.array([[np.histogram(pre[r, l], bins=edges)[0] for r in range(pre.shape[0])]
                                        for l in range(pre.shape[1])]))
            return CovariateShiftExplorer(history_plain["epoch"], edges, *counts)
        """}, says="should have shape (R, L, B)"),
    Answer("displays the explorer but returns nothing", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            counts = []
            for history in (history_plain, history_bn):
                pre = history["pre"]
                counts.append(np.array([[np.histogram(pre[r, l], bins=edges)[0] for l in range(pre.shape[1])]
                                        for r in range(pre.shape[0])]))
            display(CovariateShiftExplorer(history_plain["epoch"], edges, *counts))
        """}, says="forget the return"),
    Answer("run_experiment builds its networks with the notebook's ACTIVATION", {EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = (64,) + (HIDDEN,) * DEPTH + (10,)
            plain = MLP(sizes, ACTIVATION, seed=seed, weight_scale=WEIGHT_SCALE)
            bn = MLP(sizes, ACTIVATION, batchnorm=BN, seed=seed, weight_scale=WEIGHT_SCALE)
            return train_and_record(plain, data, epochs, record_every), train_and_record(bn, data, epochs, record_every)
        """}, says="not the activation run_experiment is given"),
    Answer("run_experiment builds its networks with the notebook's SEED", {EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = (64,) + (HIDDEN,) * DEPTH + (10,)
            plain = MLP(sizes, activation, seed=SEED, weight_scale=WEIGHT_SCALE)
            bn = MLP(sizes, activation, batchnorm=BN, seed=SEED, weight_scale=WEIGHT_SCALE)
            return train_and_record(plain, data, epochs, record_every), train_and_record(bn, data, epochs, record_every)
        """}, says="not the seed run_experiment is given"),
]

# Mistakes in the batch norm pasted from B1 and B2 (graded there): every test here normalizes with the reference batch
# norm, so they cost nothing in B5.
ELSEWHERE = [
    Answer("pasted batchnorm_forward with the unbiased variance (ddof=1)", {BN: _REFERENCE_BN.replace(
        "var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)")}),
    Answer("pasted batchnorm_forward with eps outside the square root", {BN: _REFERENCE_BN.replace(
        "x_hat = (x - mu) / np.sqrt(var + eps)", "x_hat = (x - mu) / (np.sqrt(var) + eps)")}),
    Answer("pasted batchnorm_backward without the term through the mean", {BN: _REFERENCE_BN.replace(
        "dx = (dx_hat - dx_hat.mean(axis=0) - x_hat", "dx = (dx_hat - x_hat")}),
    Answer("pasted batchnorm_forward that only scales and shifts (no normalisation)", {BN: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu, var = np.zeros(x.shape[1]), np.ones(x.shape[1]) - eps
            return gamma * x + beta, (x, x, mu, var, gamma, eps)


        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            return dout * gamma, (dout * x).sum(axis=0), dout.sum(axis=0)
        """}),
]

RIGHT = [
    Answer("histograms with np.histogram and ax.stairs", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            R = len(history["epoch"])
            rows = []
            for r in (which if which is not None else [0, R // 2, R - 1]):
                d, _ = np.histogram(np.ravel(history["pre"][r][layer]), bins=edges, density=True)
                ax.stairs(d, edges, color=color, label="epoch " + str(history["epoch"][r]))
                rows.append(d)
            ax.set(xlabel="$u$", ylabel="density")
            ax.legend()
            return np.vstack(rows)
        """}),
    Answer("histograms as filled bars", {HISTOGRAMS: """
        def plot_histograms(ax, history, layer, edges=EDGES, which=None, color=None):
            pre = history["pre"]
            if which is None:
                which = [0, len(pre) // 2, len(pre) - 1]
            out = np.zeros((len(which), len(edges) - 1))
            for k, r in enumerate(which):
                out[k], _, _ = ax.hist(np.asarray(pre[r, layer]).flatten(), edges, density=True, alpha=0.4, color=color,
                                       label=f"epoch {int(history['epoch'][r])}")
            ax.set_xlabel("u")
            ax.set_ylabel("density")
            ax.legend()
            return out
        """}),
    Answer("running statistics written with the unbiased variance first", {RUNNING: """
        def update_running(running_mean, running_var, mu, var, m, momentum=0.9):
            unbiased = var * m / (m - 1)
            return (momentum * running_mean + (1.0 - momentum) * mu,
                    running_var + (1.0 - momentum) * (unbiased - running_var))


        def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
            x_hat = (x - running_mean) / np.sqrt(running_var + eps)
            return gamma * x_hat + beta
        """}),
    Answer("record_layers with a loop into preallocated arrays", {RECORD: """
        def record_layers(net, X):
            _, caches = net.forward(X)
            L, (N, H) = len(caches), caches[0]["z"].shape
            pre, post = np.empty((L, N, H)), np.empty((L, N, H))
            for l, cache in enumerate(caches):
                pre[l] = cache["z"]
                post[l] = cache["h"]
            return pre, post
        """}),
    Answer("record_layers that recomputes z from each layer's input and h from u", {RECORD: """
        def record_layers(net, X):
            _, caches = net.forward(X)
            pre = np.array([c["x"] @ net.params[f"W{l + 1}"] + net.params[f"b{l + 1}"] for l, c in enumerate(caches)])
            u = np.array([c["u"] for c in caches])
            post = 1 / (1 + np.exp(-u)) if net.activation == "sigmoid" else np.tanh(u)
            return pre, post
        """}),
    Answer("train_and_record with a while loop, recording after training", {TRAIN: """
        def train_and_record(net, data, epochs=EPOCHS, record_every=RECORD_EVERY, seed=DATA_SEED, lr=LR,
                             batch_size=BATCH_SIZE):
            rng = np.random.default_rng(seed)
            probe = data.X_test[:PROBE_SIZE]
            epochs_done, snapshots = 0, []
            while True:
                pre, post = record_layers(net, probe)
                snapshots.append((epochs_done, pre, post, net.accuracy(data.X_test, data.y_test)))
                if epochs_done == epochs:
                    break
                for _ in range(record_every):
                    train_epoch(net, data.X_train, data.y_train, rng, batch_size=batch_size, lr=lr)
                epochs_done += record_every
            epoch, pre, post, acc = zip(*snapshots)
            return {"epoch": np.array(epoch), "pre": np.stack(pre), "post": np.stack(post), "test_acc": np.array(acc)}
        """}),
    Answer("run_experiment that trains the BN network first, with the reference batch norm", {BN: _REFERENCE_BN,
                                                                                             EXPERIMENT: """
        def run_experiment(data=DATA, epochs=EPOCHS, record_every=RECORD_EVERY, activation=ACTIVATION, seed=SEED):
            sizes = [data.X_train.shape[1]] + [HIDDEN] * DEPTH + [10]
            history_bn = train_and_record(
                MLP(sizes, activation, batchnorm=BN, seed=seed,
                    weight_scale=WEIGHT_SCALE), data, epochs, record_every)
            history_plain = train_and_record(MLP(sizes, activation, None, seed, WEIGHT_SCALE), data, epochs, record_every)
            return history_plain, history_bn
        """}),
    Answer("batch norm with keepdims statistics and a cs231n-style backward", {BN: """
        def batchnorm_forward(x, gamma, beta, eps=1e-5):
            mu = x.mean(axis=0)
            xc = x - mu
            var = (xc ** 2).mean(axis=0)
            x_hat = xc / np.sqrt(var + eps)
            return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


        def batchnorm_backward(dout, cache):
            x, x_hat, mu, var, gamma, eps = cache
            N = x.shape[0]
            std = np.sqrt(var + eps)
            dx_hat = dout * gamma
            dvar = np.sum(dx_hat * (x - mu) * -0.5 * std ** -3, axis=0)
            dmu = np.sum(-dx_hat / std, axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
            dx = dx_hat / std + dvar * 2 * (x - mu) / N + dmu / N
            return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
        """}),
    Answer("counts with np.digitize and np.bincount", {VISUALIZE: """
        def visualize_covariate_shift(history_plain=None, history_bn=None, edges=EDGES):
            if history_plain is None or history_bn is None:
                history_plain, history_bn = run_experiment()
            B = len(edges) - 1

            def counts(pre):
                R, L = pre.shape[:2]
                out = np.zeros((R, L, B), dtype=int)
                for r in range(R):
                    for l in range(L):
                        values = pre[r, l].ravel()
                        values = values[(values >= edges[0]) & (values <= edges[-1])]
                        bins = np.clip(np.digitize(values, edges) - 1, 0, B - 1)
                        out[r, l] = np.bincount(bins, minlength=B)
                return out

            return CovariateShiftExplorer(history_plain["epoch"], edges, counts(history_plain["pre"]),
                                          counts(history_bn["pre"]))
        """}),
]
