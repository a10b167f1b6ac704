"""Matplotlib figures for reports.

Each function returns a `matplotlib.figure.Figure` made without pyplot: it never opens a window, needs no backend
choice and no closing (it is freed with its last reference), and it renders to PNG (keraslab.run_folders.report) or
inline in a notebook.
"""

from __future__ import annotations

import numpy as np

from keraslab.phases import timed
from keraslab.training import history_frame


def _figure(figsize):
    from matplotlib.figure import Figure  # imported when a figure is drawn, not with this module

    return Figure(figsize=figsize)


def _finished(fig):
    """Every text of the figure shown as it is written: a class "$0_$50" or a column "$\\undefined$" comes from the
    user's data, and matplotlib would parse it as mathematics (and fail). Then the layout is tightened."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)
    fig.tight_layout()
    fig.keraslab_laid_out = True  # saved as it is: no second layout pass (keraslab.lessons.executor)
    return fig


def _whole_epochs(ax) -> None:
    """Epoch ticks at whole numbers only (no "2.5" epoch); a short curve (one epoch, a few) gets a tick per epoch and
    half an epoch of room each side, so that one epoch is a point over "1", not over fractional ticks."""
    from matplotlib.ticker import MaxNLocator

    xs = [float(x) for line in ax.lines for x in line.get_xdata()]
    if xs and max(xs) - min(xs) < 10:
        lo, hi = round(min(xs)), round(max(xs))
        ax.set_xticks(range(lo, hi + 1))
        ax.set_xlim(lo - 0.5, hi + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# a curve of this many points or fewer shows each point, so that one epoch is a marked point, not empty axes
MARK_POINTS = 20


def _marker(n: int) -> str | None:
    return "o" if n <= MARK_POINTS else None


@timed("figures")
def curves(
    series: dict[str, list[float]], *, title: str, xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False
):
    """One line per named series, x = 1..len. Each later series is drawn thinner and dashed over the ones before, so
    that curves which coincide (NumPy's and Keras's, the same computation) both stay visible."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    styles = ("-", "--", ":", "-.")
    for k, (name, values) in enumerate(series.items()):
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            label=name,
            linewidth=max(1.2, 4.0 - 1.4 * k),
            linestyle=styles[k % len(styles)],
            marker=_marker(len(values)),
            markersize=max(3.0, 7.0 - 2.0 * k),
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    _whole_epochs(ax)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)


@timed("figures")
def functions(x, series: dict[str, np.ndarray], *, title: str, xlabel: str, ylabel: str, ylim=None):
    """One line per named series over the same x (a loss as a function of the predicted value, say)."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(x, values, label=name, linewidth=1.5)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)


@timed("figures")
def learning_curves(history, *, title: str, validation: str = "validation"):
    """Loss and accuracy per epoch, training beside the `val_` curves, from a Keras History (or its table).

    `validation` names the `val_` curves: "validation" for rows held out of the training part; when the model was
    given the test part as validation_data, say so ("test part (monitored only)"): nothing may be chosen from it."""
    history = history_frame(history)
    fig = _figure((10, 4))
    fig.set_label(f"{title}: learning curves")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "training"), ("val_", validation)):
            col = prefix + metric
            if col in history:
                ax.plot(history["epoch"], history[col], label=label, linewidth=1.5, marker=_marker(len(history)))
        ax.set(title=f"{title}: {metric}", xlabel="epoch", ylabel=metric)
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    return _finished(fig)


@timed("figures")
def confusion_matrix(cm: np.ndarray, class_names, *, title: str):
    """A labelled confusion-matrix heatmap (rows: truth, columns: prediction) with counts in the cells."""
    n = len(class_names)
    fig = _figure((1.0 + 0.6 * n, 0.8 + 0.6 * n) if n > 4 else (4.5, 4))
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=class_names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    limit = cm.max() / 2 if cm.size else 0
    for i in range(n):
        for j in range(n):
            colour = "white" if cm[i, j] > limit else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _finished(fig)


@timed("figures")
def image_grid(images, true_labels, pred_labels, class_names, *, title: str, n: int = 16):
    """A grid of images titled with the prediction and, below it, the truth; wrong predictions in red. With
    pred_labels None, each image is titled with its label alone (a look at the data). Drawn as one picture (the
    images tiled on a white ground) with a title over each tile: one axes instead of n, five times faster to draw."""
    n = min(n, len(images))
    if n == 0:  # say so (a model with no mistakes to show), not an empty canvas
        fig = _figure((6, 1))
        fig.text(0.5, 0.5, f"{title}: none", ha="center", va="center", parse_math=False)
        return _finished(fig)
    cols = min(8, n)
    rows = int(np.ceil(n / cols))
    tiles = np.asarray(images[:n])
    if tiles.ndim == 4 and tiles.shape[-1] == 1:  # grey images with a channel axis
        tiles = tiles[..., 0]
    grey = tiles.ndim == 3
    h, w = tiles.shape[1:3]
    lines = 1 if pred_labels is None else 2
    gap, head = max(2, w // 6), int(h * (0.45 if lines == 1 else 0.75))  # room between tiles, and for the titles
    white = 0 if grey else (255 if tiles.dtype == np.uint8 else 1.0)  # grey maps are drawn reversed (gray_r)
    canvas = np.full((rows * (head + h), cols * (w + gap) - gap, *tiles.shape[3:]), white, dtype=tiles.dtype)
    width = 1.9 * cols  # inches; the picture's own height, and half an inch over it for the title
    picture = width * canvas.shape[0] / canvas.shape[1]
    fig = _figure((width, picture + 0.5))
    ax = fig.add_axes((0.0, 0.0, 1.0, picture / (picture + 0.5)))
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = r * (head + h) + head, c * (w + gap)
        canvas[top : top + h, left : left + w] = tiles[k]
        if pred_labels is None:
            label, colour = str(class_names[true_labels[k]]), "black"
        else:
            ok = true_labels[k] == pred_labels[k]
            label = f"{class_names[pred_labels[k]]}\ntrue: {class_names[true_labels[k]]}"
            colour = "black" if ok else "red"
        ax.text(left + w / 2, top - 1, label, ha="center", va="bottom", fontsize=10, color=colour, parse_math=False)
    ax.imshow(canvas, cmap="gray_r" if grey else None, interpolation="nearest")
    ax.axis("off")
    fig.suptitle(title, parse_math=False)
    fig.keraslab_laid_out = True
    return fig


@timed("figures")
def bars(names, values, errors=None, *, title: str, ylabel: str):
    fig = _figure((max(5, 0.9 * len(names)), 4))
    ax = fig.subplots()
    ax.bar(range(len(names)), values, yerr=errors, capsize=4, color="#4c78a8")
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    return _finished(fig)


@timed("figures")
def predicted_vs_actual(y_true, y_pred, *, title: str, unit: str = ""):
    """Each row a point (actual, predicted), and the diagonal where a perfect prediction would lie."""
    fig = _figure((5.5, 5))
    ax = fig.subplots()
    ax.scatter(y_true, y_pred, s=12, alpha=0.6)
    lo, hi = float(min(np.min(y_true), np.min(y_pred))), float(max(np.max(y_true), np.max(y_pred)))
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=1, linestyle="--", label="predicted = actual")
    ax.set(title=title, xlabel=f"actual{unit}", ylabel=f"predicted{unit}")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)


@timed("figures")
def reliability(y_true, series: dict[str, np.ndarray], *, title: str, n_bins: int = 10):
    """A reliability diagram: for each named series of probabilities (of the positive class, or of the class each
    row is given), the share of rows that were positive (or right) against the mean probability, in bins of equal
    size (scikit-learn's calibration_curve); the diagonal is where probabilities mean what they say."""
    from sklearn.calibration import calibration_curve

    fig = _figure((5.5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--", label="perfectly calibrated")
    for name, prob in series.items():
        frac, mean = calibration_curve(y_true, prob, n_bins=n_bins, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
    ax.set(title=title, xlabel="mean predicted probability", ylabel="share that happened", xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)
