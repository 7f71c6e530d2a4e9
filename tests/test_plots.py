"""The training plots (examples/plots.py) on made-up histories: what the figure holds, read
through matplotlib's objects (lines, labels, ticks, limits, title), not pixels; and that the PNG
is written atomically. tests/test_examples.py runs `--plot` end to end."""
import os
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def made_up_run(epochs, steps, seed=0, final_acc=0.85):
    """A run's curves as the Trainer keeps them: falling losses, rising accuracies."""
    rng = np.random.default_rng(seed)
    batch_losses, history = [], []
    for e in range(epochs):
        t = (e + np.arange(1, steps + 1) / steps) / epochs
        losses = (2.3 * np.exp(-2 * t) + 0.1 * rng.random(steps)).astype(np.float32)
        batch_losses.append(losses)
        acc = final_acc * (e + 1) / epochs
        history.append({"epoch": e + 1, "train_loss": float(losses.mean()), "train_acc": acc,
                        "test_loss": float(losses.mean()) + 0.1, "test_acc": acc - 0.05,
                        "seconds": 1.0, "examples_per_s": 1000.0})
    return {"history": history, "batch_losses": batch_losses}


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def assert_integer_epoch_ticks(ax, last_epoch):
    low, high = ax.get_xlim()
    ticks = [t for t in ax.xaxis.get_majorticklocs() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert low == 0 and last_epoch <= high < last_epoch + 0.5
    assert ax.get_xlabel() == "epoch"


def test_one_epoch_is_a_curve_of_steps_not_one_dot():
    fig = plots.figure({"run": made_up_run(1, 20)}, title="LeNet-BN: SGD lr 1, schedule cosine")
    loss_ax, acc_ax = fig.axes[:2]
    lines = lines_by_label(loss_ax)
    steps = lines["run: training loss, each step"]
    x, y = steps.get_data()
    assert len(x) == 20 and x[0] == pytest.approx(1 / 20) and x[-1] == pytest.approx(1.0)
    assert np.all(np.diff(x) > 0) and steps.get_linewidth() < 1
    # the epoch's mean and the test loss: markers at the end of the epoch
    for label, marker in (("run: training loss, epoch mean", "o"), ("run: test loss", "s")):
        assert list(lines[label].get_xdata()) == [1] and lines[label].get_marker() == marker
    for ax in (loss_ax, acc_ax):
        assert_integer_epoch_ticks(ax, 1)
    assert "SGD" in fig.get_suptitle() and "cosine" in fig.get_suptitle()


def test_several_epochs_loss_panel_and_accuracy_on_one_axis():
    run = made_up_run(4, 10)
    fig = plots.figure({"LeNet-BN": run})
    loss_ax, acc_ax = fig.axes[:2]
    losses = lines_by_label(loss_ax)
    x, y = losses["LeNet-BN: training loss, each step"].get_data()
    assert len(x) == 40 and x[-1] == pytest.approx(4.0)
    np.testing.assert_allclose(y, np.concatenate(run["batch_losses"]))
    np.testing.assert_allclose(losses["LeNet-BN: test loss"].get_ydata(),
                               [r["test_loss"] for r in run["history"]])
    assert loss_ax.get_ylim()[0] == 0
    # training and test accuracy share one axis, scaled to the data and within [0, 1]
    accuracies = lines_by_label(acc_ax)
    train = accuracies["LeNet-BN: training accuracy, epoch mean"]
    test = accuracies["LeNet-BN: test accuracy"]
    assert list(train.get_xdata()) == [1, 2, 3, 4] and train.get_linestyle() == "-"
    assert test.get_linestyle() == "--"
    values = np.concatenate([train.get_ydata(), test.get_ydata()])
    low, high = acc_ax.get_ylim()
    assert 0 <= low <= values.min() and values.max() <= high <= 1
    assert high - low < 0.9  # zoomed in on the data, not the whole [0, 1]
    for ax in (loss_ax, acc_ax):
        assert_integer_epoch_ticks(ax, 4)
    # the legend names each metric once (one run: in its colour)
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training loss, each step", "training loss, epoch mean", "test loss"]


def test_compare_two_runs_one_colour_per_run_one_style_per_metric():
    runs = {"LeNet-BN (lr 1)": made_up_run(3, 8, seed=0),
            "LeNet (lr 0.9)": made_up_run(3, 8, seed=1, final_acc=0.3)}
    fig = plots.figure(runs, title="LeNet-BN vs LeNet: SGD lr 1 vs 0.9, schedule none")
    loss_ax, acc_ax = fig.axes[:2]
    for ax, count in ((loss_ax, 3), (acc_ax, 2)):
        colours = {}
        for line in ax.get_lines():
            run = line.get_label().split(": ")[0]
            colours.setdefault(run, set()).add(line.get_color())
        assert set(colours) == set(runs) and all(len(c) == 1 for c in colours.values())
        assert colours["LeNet-BN (lr 1)"] != colours["LeNet (lr 0.9)"]
        assert len(ax.get_lines()) == 2 * count
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend[-2:] == list(runs)  # the runs' colours, after the metrics' styles
    # the accuracy axis covers both runs
    low, high = acc_ax.get_ylim()
    assert low <= 0.3 / 3 - 0.05 and high >= 0.85


def test_nonfinite_losses_leave_gaps(tmp_path):
    run = made_up_run(2, 5)
    run["batch_losses"][1][2:] = np.inf
    run["history"][1].update(train_loss=float("nan"), test_loss=float("inf"), test_acc=float("nan"))
    path = tmp_path / "nan.png"
    plots.plot({"diverged": run}, str(path))
    assert path.read_bytes()[:8] == PNG
    loss_ax = plots.figure({"diverged": run}).axes[0]
    assert np.isfinite(loss_ax.get_ylim()).all()


def test_history_without_step_losses():
    run = made_up_run(2, 5)
    del run["batch_losses"]
    loss_ax = plots.figure({"from a log": run}).axes[0]
    assert len(lines_by_label(loss_ax)["from a log: training loss, each step"].get_xdata()) == 0


def test_plot_writes_a_png_atomically(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    plots.plot({"a": made_up_run(2, 5), "b": made_up_run(2, 5, seed=1)}, str(path), title="t")
    assert path.read_bytes()[:8] == PNG and os.listdir(tmp_path) == ["curves.png"]
    before = path.read_bytes()

    def broken(self, name, **kwargs):
        with open(name, "wb") as f:
            f.write(b"half a PNG")
        raise OSError("disk full")
    monkeypatch.setattr("matplotlib.figure.Figure.savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plots.plot({"a": made_up_run(1, 5)}, str(path))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["curves.png"]


def test_a_long_title_is_wrapped_to_the_figure():
    title = "LeNet-BN on Fashion-MNIST\n" + ", ".join(f"setting {i} value {i}" for i in range(12))
    lines = plots.figure({"run": made_up_run(1, 5)}, title=title).get_suptitle().splitlines()
    assert lines[0] == "LeNet-BN on Fashion-MNIST" and len(lines) == 3
    assert max(len(line) for line in lines) <= 130
