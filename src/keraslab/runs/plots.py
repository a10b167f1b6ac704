"""Matplotlib figures for reports.

Each function returns a `matplotlib.figure.Figure` made without pyplot: it never opens a window, needs no backend
choice and no closing (it is freed with its last reference), and it renders to PNG (keraslab.runs.report) or
inline in a notebook.
"""

from __future__ import annotations

import numpy as np


def _figure(figsize):
    from matplotlib.figure import Figure  # imported when a figure is drawn, not with this module

    return Figure(figsize=figsize)


def _whole_epochs(ax) -> None:
    """Epoch ticks at whole numbers only (no "2.5" epoch)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def curves(
    series: dict[str, list[float]], *, title: str, xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False
):
    """One line per named series, x = 1..len."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name, linewidth=1.5)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    _whole_epochs(ax)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def learning_curves(history, *, title: str):
    """Loss and accuracy, training and validation, side by side, from a history DataFrame (epoch, loss,
    val_loss, accuracy, val_accuracy; whichever are present)."""
    fig = _figure((10, 4))
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "training"), ("val_", "validation")):
            col = prefix + metric
            if col in history:
                ax.plot(history["epoch"], history[col], label=label, linewidth=1.5)
        ax.set(title=f"{title}: {metric}", xlabel="epoch", ylabel=metric)
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    return fig


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
    fig.tight_layout()
    return fig


def image_grid(images, true_labels, pred_labels, class_names, *, title: str, n: int = 16):
    """A grid of images titled with the prediction and, below it, the truth; wrong predictions in red."""
    n = min(n, len(images))
    cols = min(8, n)
    rows = int(np.ceil(n / cols))
    fig = _figure((1.9 * cols, 2.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ok = true_labels[k] == pred_labels[k]
        ax.set_title(
            f"{class_names[pred_labels[k]]}\ntrue: {class_names[true_labels[k]]}",
            fontsize=10,
            color="black" if ok else "red",
        )
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def bars(names, values, errors=None, *, title: str, ylabel: str):
    fig = _figure((max(5, 0.9 * len(names)), 4))
    ax = fig.subplots()
    ax.bar(range(len(names)), values, yerr=errors, capsize=4, color="#4c78a8")
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
