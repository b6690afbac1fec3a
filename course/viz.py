"""Plots, progress bars and the interactive explorer of the course, in one colour scheme.

"Without BN" is always blue and "with BN" always orange: use COLORS and LABELS for any new plot.

The plots of Exercise B5 read a *history*, the record of one training run (see B5):
- history["epoch"]: int array (R,), the epochs after which the network was recorded (0 = before training)
- history["pre"]: float array (R, L, P, H), every hidden layer's z = x W + b for the P probe examples
  (R recordings, L hidden layers of H units): what the layer computes from its input, before batch
  norm when it has one (without, z is also the input to the non-linearity)
- history["post"]: float array (R, L, P, H), the non-linearity's outputs h, the next layer's input
- history["test_acc"]: float array (R,), test accuracy at each recording (inference mode, running statistics)
"""
import io
import os
import time

import ipywidgets as widgets  # CovariateShiftExplorer is a widget; matplotlib is imported where a plot is made
import numpy as np

from course.palette import COLORS, LABELS  # noqa: F401  (course.viz.COLORS is the course's palette)

# Where a unit counts as saturated (its gradient f'(u) has all but vanished), read off its output h:
SIGMOID_SATURATED = 4.0    # sigmoid inputs |u| > 4, where sigmoid'(u) < 0.018: outputs h below 0.018 or above 0.982
TANH_SATURATED = 0.97      # tanh outputs |h| > 0.97, where tanh'(u) < 0.06


def grading():
    """True while nbgrader executes a notebook (autograde or validate): use a reduced run then."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config and not grading()


def progress(iterable, description="", total=None):
    """Iterate over `iterable` and show how far it got.

    In a notebook: a progress bar that fills up as you go. Elsewhere (a script, a grading run):
    one line of text at the end, with the time taken.

    Inputs:
    - iterable: what to loop over, e.g. range(epochs)
    - description: a short label, e.g. "with BN"
    - total: the number of items, if len(iterable) does not tell

    Yields the items of iterable.
    """
    total = len(iterable) if total is None else total
    start = time.perf_counter()
    bar = None
    if _in_notebook():
        from IPython.display import display

        bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description=description,
                                  style={"description_width": "initial"})
        label = widgets.Label(f"0 / {total}")
        display(widgets.HBox([bar, label]))
    done = 0
    for item in iterable:
        yield item
        done += 1
        if bar is not None:
            bar.value = done
            label.value = f"{done} / {total}  ({time.perf_counter() - start:.1f} s)"
    if bar is None:
        print(f"{description}: {done} / {total} done in {time.perf_counter() - start:.1f} s")
    else:
        bar.bar_style = "success"


def layer_drift(pre):
    """How far each layer's z (history["pre"]) moves away from where it started.

    For every unit, the mean and the standard deviation over the probe examples are computed at
    each recording; a unit's drift is the largest |mean - mean at the first recording| +
    |std - std at the first recording| over the recordings, and a layer's drift is the average
    over its units.

    Inputs:
    - pre: float array (R, L, P, H), as history["pre"]

    Returns a float array (L,), one drift per layer (0 when nothing moved).
    """
    pre = np.asarray(pre, dtype=np.float64)
    mean, std = pre.mean(axis=2), pre.std(axis=2)                # (R, L, H)
    moved = np.abs(mean - mean[0]) + np.abs(std - std[0])
    return moved.max(axis=0).mean(axis=-1)


def band_widths(pre, low=15, high=85):
    """How spread out each unit's z (history["pre"]) is over the probe examples.

    Inputs:
    - pre: float array (R, L, P, H), as history["pre"]
    - low, high: the percentiles that bound the band (default: 15th to 85th, as in Ioffe & Szegedy's Figure 1)

    Returns a float array (R, L, H): the high-th minus the low-th percentile over the P examples, per recording,
    layer and unit. A width near 0 means the unit gives almost the same z for every example; for a standard
    normal input the 15-85% width is 2.07.
    """
    pre = np.asarray(pre, dtype=np.float64)
    lo, hi = np.percentile(pre, [low, high], axis=2)
    return hi - lo


def saturation(history, activation="sigmoid"):
    """Share of saturated units per recording and layer.

    Read off the outputs h (history["post"]), which are the same with and without batch norm: sigmoid, outputs
    below sigmoid(-4) or above sigmoid(4) (inputs |u| > 4); tanh, outputs with |h| > 0.97.

    Inputs:
    - history: a history dict (see the module's docstring)
    - activation: "sigmoid" or "tanh"

    Returns a float array (R, L) of shares in [0, 1].
    """
    if activation == "sigmoid":
        low, h = 1.0 / (1.0 + np.exp(SIGMOID_SATURATED)), np.asarray(history["post"])   # sigmoid(-4) = 0.018
        return ((h < low) | (h > 1.0 - low)).mean(axis=(2, 3))
    if activation == "tanh":
        return (np.abs(history["post"]) > TANH_SATURATED).mean(axis=(2, 3))
    raise ValueError(f"activation must be 'sigmoid' or 'tanh'; got {activation!r}")


def _figure(width, height):
    # A pyplot figure: a notebook shows it at the end of the cell (or at plt.show()).
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height), layout="constrained")


def _histories(history_plain, history_bn):
    return (("plain", history_plain), ("bn", history_bn))


def plot_percentiles(history_plain, history_bn, layer=-1, unit=0, percentiles=(15, 50, 85)):
    """A scaled-down re-creation of Ioffe & Szegedy's Figure 1: test accuracy, and one unit's z over training.

    Left: test accuracy over training for both networks. Middle and right: the 15th, 50th and
    85th percentiles (over the probe examples) of one unit's z = x W + b (before batch norm, in the
    network that has it), without and with batch norm, on a shared vertical axis.

    Inputs:
    - history_plain, history_bn: history dicts of the two runs
    - layer: index of the hidden layer (default: the last)
    - unit: index of the unit in that layer
    - percentiles: the three percentiles to draw (low, middle, high)

    Returns the matplotlib Figure.
    """
    fig = _figure(11, 3.2)
    ax_acc, *ax_u = fig.subplots(1, 3, sharey=False)
    ax_u[1].sharey(ax_u[0])
    n_layers = history_plain["pre"].shape[1]
    number = (layer % n_layers) + 1
    for key, history in _histories(history_plain, history_bn):
        epochs = history["epoch"]
        ax_acc.plot(epochs, 100 * np.asarray(history["test_acc"]), "o-", ms=3, color=COLORS[key],
                    label=LABELS[key])
    ax_acc.set(title="Test accuracy", xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100))
    ax_acc.legend(loc="lower right")
    for ax, (key, history) in zip(ax_u, _histories(history_plain, history_bn)):
        epochs = history["epoch"]
        values = np.percentile(history["pre"][:, layer, :, unit], percentiles, axis=1)  # (3, R)
        ax.fill_between(epochs, values[0], values[2], color=COLORS[key], alpha=0.25,
                        label=f"{percentiles[0]}th to {percentiles[2]}th percentile")
        ax.plot(epochs, values[1], color=COLORS[key], label=f"{percentiles[1]}th percentile (median)")
        for v in (values[0], values[2]):
            ax.plot(epochs, v, color=COLORS[key], lw=0.8)
        ax.set(title=f"{LABELS[key]}: layer {number}, unit {unit}", xlabel="epoch",
               ylabel="$z = xW + b$ of the unit")
        ax.legend(loc="best", fontsize="small")
    fig.suptitle("One unit's z over training, and the test accuracy: does the network that drifts less learn sooner?")
    return fig


def plot_saturation(history_plain, history_bn, activation="sigmoid"):
    """Share of saturated units in each layer over training, without and with BN side by side.

    Inputs:
    - history_plain, history_bn: history dicts of the two runs
    - activation: "sigmoid" (|u| > 4 counts as saturated, read off h) or "tanh" (|h| > 0.97)

    Returns the matplotlib Figure.
    """
    fig = _figure(10, 3.2)
    axes = fig.subplots(1, 2, sharey=True)
    rule = "|u| > 4" if activation == "sigmoid" else "|h| > 0.97"
    for ax, (key, history) in zip(axes, _histories(history_plain, history_bn)):
        shares = 100 * saturation(history, activation)           # (R, L)
        n_layers = shares.shape[1]
        for layer in range(n_layers):
            shade = 0.3 + 0.7 * layer / max(n_layers - 1, 1)
            ax.plot(history["epoch"], shares[:, layer], color=COLORS[key], alpha=shade,
                    label=f"layer {layer + 1}")
        ax.set(title=f"{LABELS[key]}", xlabel="epoch", ylabel=f"saturated units, {rule} (%)")
        ax.legend(fontsize="small", ncols=2)
    axes[0].set_ylim(bottom=0)
    fig.suptitle(f"Saturated {activation} units per layer (where the gradient all but vanishes)")
    return fig


class CovariateShiftExplorer(widgets.VBox):
    """A widget to scrub through training: a slider over the recorded epochs, a layer selector and
    a with/without-BN selector redraw one histogram of a layer's z (before batch norm).

    The histogram counts are computed once, beforehand; moving a control only changes the heights
    of the existing bars and re-renders the figure, so dragging the slider stays smooth.

    Inputs:
    - epochs: int array (R,), the recorded epochs (history["epoch"])
    - edges: float array (B + 1,), the bin edges the counts were made with
    - counts_plain, counts_bn: arrays (R, L, B): counts[r, l, b] is how many of layer l's values
      of z fell into bin b at recording r, without and with BN
    - layer: the layer shown first (default: the last hidden layer)

    The explorer is an ipywidgets VBox: display it, or make it the last expression of a cell.

    Attributes:
    - slider, layer_picker, network_picker: the controls; set .value to move them from code
    - figure: the matplotlib Figure drawn on; bars: {"plain": bars, "bn": bars}
    Raises ValueError if the counts do not have shape (R, L, B) for the given epochs and edges.
    """

    NETWORKS = (("both", "both"), ("without BN", "plain"), ("with BN", "bn"))

    def __init__(self, epochs, edges, counts_plain, counts_bn, layer=-1):
        self.epochs = [int(e) for e in np.asarray(epochs).ravel()]
        self.edges = np.asarray(edges, dtype=np.float64)
        shape = (len(self.epochs), None, len(self.edges) - 1)
        self.shares = {}
        for key, counts in (("plain", counts_plain), ("bn", counts_bn)):
            counts = np.asarray(counts, dtype=np.float64)
            if counts.ndim != 3 or counts.shape[0] != shape[0] or counts.shape[2] != shape[2]:
                raise ValueError(
                    f"counts_{key} should have shape (R, L, B) = ({shape[0]}, number of layers, "
                    f"{shape[2]}) for {shape[0]} recorded epochs and {shape[2]} bins; "
                    f"got {counts.shape}")
            total = counts.sum(axis=-1, keepdims=True)
            self.shares[key] = counts / np.where(total > 0, total, 1.0)
        if self.shares["plain"].shape != self.shares["bn"].shape:
            raise ValueError("counts_plain and counts_bn should have the same shape; got "
                             f"{self.shares['plain'].shape} and {self.shares['bn'].shape}")
        n_layers = self.shares["plain"].shape[1]

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # A fixed layout (no layout engine) and a fixed background: moving the slider only redraws
        # the bars on top of a saved copy of the axes (blitting), which keeps a step to a few ms.
        self.figure = Figure(figsize=(8.5, 3.2), dpi=80)
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.08, right=0.74, bottom=0.16, top=0.9)
        self.ax = self.figure.subplots()
        left, width = self.edges[:-1], np.diff(self.edges)
        self.bars, self.start = {}, {}
        for key in ("plain", "bn"):
            self.bars[key] = self.ax.bar(left, np.zeros(len(left)), width, align="edge",
                                         color=COLORS[key], alpha=0.5, label=LABELS[key],
                                         animated=True)
            self.start[key] = self.ax.stairs(np.zeros(len(left)), self.edges, color=COLORS[key],
                                             lw=1.2, ls="--",
                                             label=f"{LABELS[key]}, epoch {self.epochs[0]}")
        self.label = self.ax.text(0.02, 0.95, "", transform=self.ax.transAxes, va="top",
                                  animated=True)
        self.ax.set(xlabel="$z = xW + b$ (before batch norm)", ylabel="share of values")
        self.ax.set_xlim(self.edges[0], self.edges[-1])
        self._background = None

        self.slider = widgets.SelectionSlider(options=[(str(e), e) for e in self.epochs],
                                              value=self.epochs[0], description="epoch",
                                              continuous_update=True)
        self.layer_picker = widgets.Dropdown(options=[(f"layer {l + 1}", l) for l in range(n_layers)],
                                             value=layer % n_layers, description="layer")
        self.network_picker = widgets.ToggleButtons(options=self.NETWORKS, value="both")
        self.image = widgets.Image(format="png")
        for control in (self.slider, self.layer_picker, self.network_picker):
            control.observe(self._on_change, names="value")
        self._ylim_layer = None
        super().__init__([self.slider, widgets.HBox([self.layer_picker, self.network_picker]),
                          self.image])
        self.redraw()

    def _on_change(self, change):
        self.redraw()

    def heights(self, key):
        """The drawn bar heights of "plain" or "bn", float array (B,)."""
        return np.array([bar.get_height() for bar in self.bars[key]])

    def redraw(self):
        """Update the bars to the controls' values and re-render the image.

        A new layer or network redraws the whole figure; a new epoch only the bars.
        """
        layer = self.layer_picker.value
        shown = ("plain", "bn") if self.network_picker.value == "both" else (self.network_picker.value,)
        canvas = self.figure.canvas
        if self._background is None or self._background[0] != (layer, shown):
            for key in ("plain", "bn"):
                self.start[key].set_data(self.shares[key][0, layer])
                self.start[key].set_visible(key in shown)
                for bar in self.bars[key]:
                    bar.set_visible(key in shown)
            # a fixed scale per layer, so that what changes from epoch to epoch shows
            top = max(self.shares[k][:, layer].max() for k in shown)
            self.ax.set_ylim(0, 1.05 * top if top > 0 else 1.0)
            self.ax.set_title(f"Layer {layer + 1}: how its z is spread over units and probe images")
            handles = [h for key in shown for h in (self.bars[key], self.start[key])]
            self.ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                           fontsize="small")
            canvas.draw()   # everything except the animated bars and label
            self._background = ((layer, shown), canvas.copy_from_bbox(self.figure.bbox))
        else:
            canvas.restore_region(self._background[1])
        r = self.epochs.index(self.slider.value)
        for key in shown:
            for bar, h in zip(self.bars[key], self.shares[key][r, layer]):
                bar.set_height(h)
                self.ax.draw_artist(bar)
        self.label.set_text(f"epoch {self.slider.value}")
        self.ax.draw_artist(self.label)
        from PIL import Image  # already loaded by matplotlib: costs nothing here

        buffer = io.BytesIO()
        Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
                         ).save(buffer, format="png", compress_level=1)
        self.image.value = buffer.getvalue()
