"""Matplotlib figures for reports.

Each function returns a `matplotlib.figure.Figure` made without pyplot: it never opens a window, needs no backend
choice and no closing (it is freed with its last reference), and it renders to PNG (keraslab.run_folders.report) or
inline in a notebook.
"""

from __future__ import annotations

import numpy as np

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
    return fig


def _whole_epochs(ax) -> None:
    """Epoch ticks at whole numbers only (no "2.5" epoch)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# a curve of this many points or fewer shows each point, so that one epoch is a marked point, not empty axes
MARK_POINTS = 20


def _marker(n: int) -> str | None:
    return "o" if n <= MARK_POINTS else None


def curves(
    series: dict[str, list[float]], *, title: str, xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False
):
    """One line per named series, x = 1..len."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name, linewidth=1.5, marker=_marker(len(values)))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    _whole_epochs(ax)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finished(fig)


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
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if cm[i, j] > limit else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _finished(fig)


def image_grid(images, true_labels, pred_labels, class_names, *, title: str, n: int = 16):
    """A grid of images titled with the prediction and, below it, the truth; wrong predictions in red. With
    pred_labels None, each image is titled with its label alone (a look at the data)."""
    n = min(n, len(images))
    cols = min(8, n)
    rows = int(np.ceil(n / cols))
    fig = _figure((1.9 * cols, (2.6 if pred_labels is not None else 2.2) * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        if img.ndim == 3 and img.shape[-1] == 1:  # grey images with a channel axis
            img = img[..., 0]
        ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None)
        if pred_labels is None:
            ax.set_title(str(class_names[true_labels[k]]), fontsize=10)
            continue
        ok = true_labels[k] == pred_labels[k]
        ax.set_title(
            f"{class_names[pred_labels[k]]}\ntrue: {class_names[true_labels[k]]}",
            fontsize=10,
            color="black" if ok else "red",
        )
    fig.suptitle(title)
    return _finished(fig)


def bars(names, values, errors=None, *, title: str, ylabel: str):
    fig = _figure((max(5, 0.9 * len(names)), 4))
    ax = fig.subplots()
    ax.bar(range(len(names)), values, yerr=errors, capsize=4, color="#4c78a8")
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    return _finished(fig)


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
