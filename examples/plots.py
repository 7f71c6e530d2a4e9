"""The training curves of one or more runs, as one PNG: what ``--plot`` of the example scripts writes.

Two panels share the x axis, in whole epochs:

* loss: the loss of every training step (a thin line; step i of an epoch of n steps sits at
  ``epoch - 1 + (i + 1) / n``, so even a one-epoch run shows a curve), the epoch's mean training
  loss (circles, at the end of each epoch) and the test loss (squares, dashed);
* accuracy: training and test accuracy on ONE axis, so the generalisation gap (how much better
  the model does on the images it trained on than on new ones) reads off directly.

Each run has its own colour; each metric its own line style and marker. The title is the caller's:
the run's settings.
"""
from __future__ import annotations

import os
import textwrap

import numpy as np

# how each metric is drawn; the colour says which run
STYLES = {
    "step": dict(linestyle="-", linewidth=0.6, alpha=0.4),
    "train": dict(linestyle="-", linewidth=1.6, marker="o", markersize=5),
    "test": dict(linestyle="--", linewidth=1.6, marker="s", markersize=5),
}
LOSS_LEGEND = {"step": "training loss, each step", "train": "training loss, epoch mean",
               "test": "test loss"}
ACCURACY_LEGEND = {"train": "training accuracy, epoch mean", "test": "test accuracy"}


def step_curve(batch_losses) -> tuple:
    """x (in epochs) and y of every step's loss; `batch_losses` holds one array per epoch."""
    epochs = [(e, np.asarray(losses, dtype=float)) for e, losses in enumerate(batch_losses) if len(losses)]
    if not epochs:
        return np.zeros(0), np.zeros(0)
    x = np.concatenate([e + np.arange(1, len(losses) + 1) / len(losses) for e, losses in epochs])
    return x, finite(np.concatenate([losses for _, losses in epochs]))


def finite(values) -> np.ndarray:
    """`values` as floats with inf turned into nan: matplotlib leaves a gap at a nan, but an inf
    (a run that diverged with --allow-nonfinite) would break the axis limits."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), values, np.nan)


def plot(runs: dict, path: str, title: str = "") -> None:
    """Write the training curves of `runs` (see `figure`) to the PNG `path`, atomically: a
    temporary file beside it, renamed into place (removed on any error)."""
    fig = figure(runs, title)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def figure(runs: dict, title: str = ""):
    """The figure of the training curves of `runs`: loss on the left, accuracy on the right.

    Args:
        runs (dict): label -> ``{"history": [...], "batch_losses": [...]}``: the Trainer's history
            (one dict per epoch with ``epoch, train_loss, train_acc, test_loss, test_acc``) and,
            optionally, its ``batch_losses`` (one array per epoch: the loss of each step).
        title (str, optional): the figure's title, e.g. the run's settings; lines longer than
            the figure is wide are wrapped.

    Returns:
        matplotlib.figure.Figure: made without pyplot (no window, no global state); its
        ``savefig`` writes it.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2, sharex=True)
    accuracies, last_epoch = [], 1
    for i, (label, run) in enumerate(runs.items()):
        colour, history = f"C{i}", run["history"]
        epochs = [r["epoch"] for r in history]
        last_epoch = max([last_epoch, *epochs])
        x, y = step_curve(run.get("batch_losses", ()))
        loss_ax.plot(x, y, color=colour, label=f"{label}: {LOSS_LEGEND['step']}", **STYLES["step"])
        for key in ("train", "test"):
            loss_ax.plot(epochs, finite([r[f"{key}_loss"] for r in history]), color=colour,
                         label=f"{label}: {LOSS_LEGEND[key]}", **STYLES[key])
            accuracy = finite([r[f"{key}_acc"] for r in history])
            acc_ax.plot(epochs, accuracy, color=colour, label=f"{label}: {ACCURACY_LEGEND[key]}",
                        **STYLES[key])
            accuracies.append(accuracy)

    loss_ax.set_title("loss (cross-entropy)")
    loss_ax.set_ylim(bottom=0)
    acc_ax.set_title("accuracy: training and test on one axis")
    accuracies = np.concatenate(accuracies) if accuracies else np.zeros(0)
    if np.isfinite(accuracies).any():  # scaled to the data, within [0, 1]
        low, high = np.nanmin(accuracies), np.nanmax(accuracies)
        margin = max(0.02, 0.08 * (high - low))
        acc_ax.set_ylim(max(0.0, low - margin), min(1.0, high + margin))
    for ax, names in ((loss_ax, LOSS_LEGEND), (acc_ax, ACCURACY_LEGEND)):
        ax.set_xlabel("epoch")
        ax.set_xlim(0, last_epoch * 1.04)  # from the start of training; room for the last markers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        legend(ax, names, list(runs))
    if title:
        fig.suptitle("\n".join(textwrap.fill(line, 130) for line in title.splitlines()))
    return fig


def legend(ax, names: dict, labels: list) -> None:
    """One legend: a line per metric (in the run's colour when there is one run, else in grey),
    then, for several runs, a colour per run."""
    from matplotlib.lines import Line2D

    colour = "C0" if len(labels) == 1 else "0.35"
    handles = [Line2D([], [], color=colour, label=name, **{**STYLES[key], "alpha": 1.0})
               for key, name in names.items()]
    if len(labels) > 1:
        handles += [Line2D([], [], color=f"C{i}", linewidth=5, label=label) for i, label in enumerate(labels)]
    ax.legend(handles=handles, fontsize="small")
