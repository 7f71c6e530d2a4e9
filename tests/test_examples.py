"""End-to-end: the LeNet example on small generated IDX files.

* It trains and writes its log, checkpoint and plot, and prints the model's summary.
* Ctrl-C is step-atomic, tested with REAL signals: a subprocess (tests/interrupt_driver.py) is
  paused inside the forward, the backward, the optimizer's update, the evaluation or a
  checkpoint write and sent SIGINT there; it saves at the next boundary, and resuming ends
  array for array where the uninterrupted run ends. A second Ctrl-C leaves at once and writes
  nothing.
* Checkpoints know their run: a resume with other settings is refused, listing them.
* Every flag and output path is checked before the first step; errors are one line.
* A loss that is not finite stops the run and keeps the last good checkpoint.
"""
import gzip
import json
import os
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import standin
import tinygrad_bn as tg
from tinygrad_bn import backend
from tinygrad_bn.data import DataLoader
from tinygrad_bn.models import lenet

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
sys.path.insert(0, os.path.join(REPO, "examples"))
import train_lenet  # noqa: E402
import train_mlp  # noqa: E402
import training  # noqa: E402

DRIVER = os.path.join(TESTS, "interrupt_driver.py")
ADAM_COSINE = ["--schedule", "cosine", "--optimizer", "adam", "--lr", "0.01"]


def write_idx(path, array):
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


def learnable_images(n, seed):
    """Class k lights up a 7x7 block at one of 10 places, on a noisy background."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 4)
        images[i, 7 * r:7 * r + 7, 7 * c:7 * c + 7] += 180
    return images.clip(0, 255), labels


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion")
    for prefix, n, seed in (("train", 320, 0), ("t10k", 64, 1)):
        images, labels = learnable_images(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return str(folder)


def args(data_dir, *extra):
    # our own small IDX files are not the official release: --no-verify
    return ["--data-dir", data_dir, "--no-verify", "--batch-size", "32", *extra]


def run(data_dir, *extra):
    return train_lenet.main(args(data_dir, *extra))


def cli_error(data_dir, *extra) -> str:
    """The one-line error of a run that must stop before its first step."""
    calls = []
    real_step = training.Trainer.step
    training.Trainer.step = lambda self, *a: calls.append(1) or real_step(self, *a)
    try:
        with pytest.raises(SystemExit) as info:
            run(data_dir, *extra)
    finally:
        training.Trainer.step = real_step
    message = str(info.value.code)
    assert message.startswith("error: ") and calls == [], message
    return message


def test_lenet_bn_learns_and_writes_log_checkpoint_plot(data_dir, tmp_path, capsys):
    log, ckpt, png = tmp_path / "log.jsonl", tmp_path / "ckpt.npz", tmp_path / "curves.png"
    histories = run(data_dir, "--epochs", "3", "--log", str(log), "--save", str(ckpt), "--plot", str(png))
    out = capsys.readouterr().out
    (history,) = histories.values()
    losses = [r["train_loss"] for r in history]
    assert losses[-1] < 0.6 * losses[0]  # 30 steps on a learnable task: the loss falls
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert list(records[0]) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                                "examples_per_s"]
    assert records[-1]["test_loss"] < 0.6 * records[0]["test_loss"]
    assert f"test loss {records[0]['test_loss']:.4f} acc {records[0]['test_acc']:.4f}" in out
    state = tg.load(str(ckpt))
    assert int(state["epoch"]) == 3 and "0.weight" in state["model"]
    assert state["config"]["activation"] == "sigmoid" and state["config"]["subset"] == 320
    # the loss of each of the 3 x 10 steps, as float32; with full batches their mean is the epoch's
    steps = state["batch_losses"]
    assert steps.dtype == np.float32 and steps.shape == (30,)
    np.testing.assert_allclose(steps.reshape(3, 10).mean(1), losses, rtol=1e-5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "curves.png", "log.jsonl"]  # no temp files
    # the model's summary, once, before training
    assert out.count("Total params: 44,878") == 1 and out.index("Total params") < out.index("epoch  1")


def test_compare_bn_runs_both_models_and_plots_both(data_dir, tmp_path, capsys, monkeypatch):
    plotted = {}
    monkeypatch.setattr(train_lenet, "plot", lambda runs, path, title: plotted.update(runs=runs, title=title))
    histories = run(data_dir, "--epochs", "1", "--compare-bn", "--plot", str(tmp_path / "cmp.png"))
    assert sorted(histories) == ["LeNet (lr 0.9)", "LeNet-BN (lr 1)"]
    out = capsys.readouterr().out
    assert "Total params: 44,878" in out and "Total params: 44,426" in out  # each model's summary
    assert list(plotted["runs"]) == ["LeNet-BN (lr 1)", "LeNet (lr 0.9)"]
    for label, curves in plotted["runs"].items():
        assert curves["history"] == histories[label]
        assert [len(steps) for steps in curves["batch_losses"]] == [10]
    assert plotted["title"] == ("LeNet-BN vs LeNet on Fashion-MNIST\nsigmoid, SGD lr 1 vs 0.9, "
                                "schedule none, batch 32, 1 epoch, 320 training images, seed 0")


def test_compare_bn_plot_is_written(data_dir, tmp_path):
    png = tmp_path / "cmp.png"
    run(data_dir, "--epochs", "2", "--subset", "64", "--compare-bn", "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and os.listdir(tmp_path) == ["cmp.png"]


def test_a_resumed_run_plots_every_step_since_the_start(data_dir, tmp_path, capsys, monkeypatch):
    ckpt = tmp_path / "ckpt.npz"
    run(data_dir, "--epochs", "1", "--save", str(ckpt))
    first = tg.load(str(ckpt))["batch_losses"]
    capsys.readouterr()
    plotted = {}
    monkeypatch.setattr(train_lenet, "plot", lambda runs, path, title: plotted.update(runs=runs, title=title))
    run(data_dir, "--resume", str(ckpt), "--epochs", "2", "--plot", str(tmp_path / "p.png"))
    assert "Total params" not in capsys.readouterr().out  # printed by the run that began it
    ((label, curves),) = plotted["runs"].items()
    assert [r["epoch"] for r in curves["history"]] == [1, 2]
    assert [len(steps) for steps in curves["batch_losses"]] == [10, 10]
    np.testing.assert_array_equal(curves["batch_losses"][0], first)
    assert "schedule none" in plotted["title"] and "2 epochs" in plotted["title"]


# ================================================================ Ctrl-C with real signals
def assert_same(a, b, where="checkpoint"):
    """Recursive exact equality, arrays element by element (timings excepted)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def comparable(path):
    """A checkpoint without its wall-clock parts (epoch seconds, speeds)."""
    state = tg.load(str(path))
    state["sums"] = state["sums"][:3]
    state["history"] = [{k: v for k, v in r.items() if k not in ("seconds", "examples_per_s")}
                        for r in json.loads(state["history"])]
    return state


@pytest.fixture(scope="module")
def uninterrupted(data_dir, tmp_path_factory):
    """The final checkpoint of the uninterrupted 2-epoch run, per set of options."""
    folder, done = tmp_path_factory.mktemp("uninterrupted"), {}

    def final(options):
        key = " ".join(options)
        if key not in done:
            path = folder / f"full{len(done)}.npz"
            run(data_dir, *SHORT, "--save", str(path), *options)
            done[key] = comparable(path)
        return done[key]
    return final


def interrupted_run(data_dir, where, n, extra, second_ctrl_c=False):
    """Run the driver paused at (where, n); send SIGINT there (twice with `second_ctrl_c`, the
    second once the first was handled). Returns (exit status, stdout, stderr)."""
    child = subprocess.Popen([sys.executable, DRIVER, where, str(n), *args(data_dir, *extra)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                             env={**os.environ, "SIGNALS": "2" if second_ctrl_c else "1"})
    try:
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("PAUSED"):
                break
        else:
            pytest.fail(f"the driver never paused at {where} {n}:\n{''.join(lines)}{child.stderr.read()}")
        child.send_signal(signal.SIGINT)
        if second_ctrl_c:
            for line in child.stderr:
                if line.startswith("Ctrl-C: finishing this step"):
                    break
            child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, "".join(lines) + out, err


# (where, n, options, (epoch, batches_done) saved); --subset 160: 5 batches an epoch, 2 epochs
SHORT = ["--epochs", "2", "--subset", "160"]
INTERRUPT_POINTS = [
    ("forward", 7, [], (1, 2)),                  # BN's running stats already updated
    ("backward", 8, ADAM_COSINE, (1, 3)),        # half the gradients computed
    ("update", 3, [], (0, 3)),                   # half the parameters updated (SGD)
    ("update", 9, ADAM_COSINE, (1, 4)),          # half the parameters updated (Adam moments)
    ("eval", 1, [], (0, 5)),                     # epoch 1 trained, its evaluation under way
    ("save", 1, ADAM_COSINE, (1, 0)),            # inside the checkpoint write after epoch 1
]


@pytest.mark.parametrize("where, n, options, position", INTERRUPT_POINTS,
                         ids=[f"{w}-{n}" for w, n, _, _ in INTERRUPT_POINTS])
def test_real_ctrl_c_anywhere_then_resume_matches_uninterrupted(data_dir, tmp_path, uninterrupted,
                                                                where, n, options, position):
    part = tmp_path / "part.npz"
    status, out, err = interrupted_run(data_dir, where, n, [*SHORT, "--save", str(part), *options])
    assert status == training.EXIT_INTERRUPTED, err
    assert "Traceback" not in err and f"checkpoint saved to {part}" in out
    saved = tg.load(str(part))
    # the step (or evaluation batch, or write) under way was finished, then the loop stopped
    assert (saved["epoch"], saved["batches_done"]) == position
    assert [name for name in os.listdir(tmp_path)] == ["part.npz"]  # no temp files
    run(data_dir, *SHORT, "--save", str(part), "--resume", str(part), *options)
    assert_same(uninterrupted(options), comparable(part))  # the per-step losses too
    assert comparable(part)["batch_losses"].shape == (10,)


def test_second_ctrl_c_exits_at_once_without_saving(data_dir, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    status, out, err = interrupted_run(data_dir, "update", 4, [*SHORT, "--save", str(ckpt)],
                                       second_ctrl_c=True)
    assert status == training.EXIT_INTERRUPTED and "nothing saved" in out
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []                # the first epoch had not ended: no checkpoint


def test_second_ctrl_c_during_a_save_keeps_the_previous_checkpoint(data_dir, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    run(data_dir, "--epochs", "1", "--subset", "160", "--save", str(ckpt))
    before = ckpt.read_bytes()
    status, out, err = interrupted_run(data_dir, "save", 1, [*SHORT, "--save", str(ckpt), "--resume",
                                                             str(ckpt)], second_ctrl_c=True)
    assert status == training.EXIT_INTERRUPTED and "nothing saved" in out, err
    assert ckpt.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


# ================================================================ resuming: the same run only
@pytest.fixture(scope="module")
def one_epoch(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("one_epoch") / "ckpt.npz"
    run(data_dir, "--epochs", "1", "--save", str(path))
    return path


@pytest.mark.parametrize("extra, words", [
    (["--activation", "relu"], "activation 'relu' (checkpoint: 'sigmoid')"),
    (["--batch-size", "64"], "batch_size 64 (checkpoint: 32)"),
    (["--subset", "160"], "subset 160 (checkpoint: 320)"),
    (["--optimizer", "adam"], "optimizer 'adam' (checkpoint: 'sgd')"),
    (["--schedule", "cosine"], "schedule 'cosine' (checkpoint: 'none')"),
    (["--seed", "1"], "seed 1 (checkpoint: 0)"),
    (["--no-bn"], "model 'lenet' (checkpoint: 'lenet-bn')"),
])
def test_resume_with_other_settings_is_refused_listing_them(data_dir, one_epoch, extra, words):
    message = cli_error(data_dir, "--resume", str(one_epoch), *extra)
    assert "the checkpoint was written by a different run" in message and words in message
    assert "\n" not in message


def test_resume_with_two_differences_lists_both(data_dir, one_epoch):
    message = cli_error(data_dir, "--resume", str(one_epoch), "--activation", "relu", "--seed", "3")
    assert "activation 'relu'" in message and "seed 3" in message


def test_resume_on_other_data_is_refused(data_dir, one_epoch, tmp_path):
    for prefix, n, seed in (("train", 320, 5), ("t10k", 64, 1)):
        images, labels = learnable_images(n, seed)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    message = cli_error(str(tmp_path), "--resume", str(one_epoch))
    assert "data '" in message


def test_resume_honours_and_prints_safe_overrides(data_dir, one_epoch, tmp_path, capsys):
    ckpt = tmp_path / "more.npz"
    ckpt.write_bytes(one_epoch.read_bytes())
    histories = run(data_dir, "--resume", str(ckpt), "--save", str(ckpt), "--epochs", "2", "--lr", "0.5")
    out = capsys.readouterr().out
    assert "resuming with epochs 2 instead of the checkpoint's 1" in out
    assert "resuming with lr 0.5 instead of the checkpoint's 1.0" in out
    assert list(histories) == ["LeNet-BN (lr 0.5)"] and len(histories["LeNet-BN (lr 0.5)"]) == 2
    state = tg.load(str(ckpt))
    assert state["epoch"] == 2 and state["optimizer"]["param_groups"][0]["lr"] == 0.5
    assert state["config"]["lr"] == 0.5 and state["config"]["epochs"] == 2
    # without the flags, a resume takes the checkpoint's epochs and lr: nothing is left to do
    assert len(run(data_dir, "--resume", str(ckpt))["LeNet-BN (lr 0.5)"]) == 2
    message = cli_error(data_dir, "--resume", str(ckpt), "--epochs", "1")
    assert "already trained 2 epochs" in message


def test_resume_of_a_cosine_run_refuses_new_epochs_or_lr(data_dir, tmp_path):
    ckpt = tmp_path / "cos.npz"
    run(data_dir, "--epochs", "1", "--save", str(ckpt), "--schedule", "cosine")
    assert "epochs 2 (checkpoint: 1)" in cli_error(data_dir, "--resume", str(ckpt), "--schedule", "cosine",
                                                   "--epochs", "2")
    assert "lr 0.1 (checkpoint: 1.0)" in cli_error(data_dir, "--resume", str(ckpt), "--schedule", "cosine",
                                                   "--lr", "0.1")


def test_resume_of_an_inconsistent_or_older_checkpoint_is_one_line(data_dir, one_epoch, tmp_path):
    state = tg.load(str(one_epoch))
    state["batch_losses"] = state["batch_losses"][:7]
    tg.save(state, tmp_path / "short.npz")
    message = cli_error(data_dir, "--resume", str(tmp_path / "short.npz"))
    assert "cannot load it: batch_losses holds 7 losses; 1 epochs of 10 batches and 0 more make 10" in message
    state = tg.load(str(one_epoch))
    state["version"] = 2
    tg.save(state, tmp_path / "v2.npz")
    assert "a training checkpoint of format 2; this version reads format 3" in \
        cli_error(data_dir, "--resume", str(tmp_path / "v2.npz"))


def test_resume_of_what_is_not_a_training_checkpoint_is_one_line(data_dir, one_epoch, tmp_path):
    assert cli_error(data_dir, "--resume", str(tmp_path / "missing.npz")) == \
        f"error: --resume {tmp_path / 'missing.npz'}: no such file"
    weights = tmp_path / "weights.npz"
    tg.save(tg.load(str(one_epoch))["model"], weights)               # a state_dict only
    message = cli_error(data_dir, "--resume", str(weights))
    assert "not a training checkpoint" in message and "model.load_state_dict" in message
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 100)
    assert "not a tinygrad_bn checkpoint" in cli_error(data_dir, "--resume", str(junk))
    tg.save({"epoch": 3}, tmp_path / "other.npz")
    assert "not a training checkpoint" in cli_error(data_dir, "--resume", str(tmp_path / "other.npz"))


# ================================================================ checked before the first step
@pytest.mark.parametrize("extra, words", [
    (["--epochs", "0"], "--epochs 0: must be >= 1"),
    (["--subset", "0"], "--subset 0: must be >= 1"),
    (["--subset", "-5"], "--subset -5: must be >= 1"),
    (["--subset", "100000000"], "--subset 100000000: must be between 1 and 320"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
    (["--lr", "0"], "--lr 0.0: must be > 0"),
    (["--lr", "-1"], "--lr -1.0: must be > 0"),
    (["--lr", "nan"], "--lr nan: must be a finite number"),
    (["--seed", "-1"], "--seed -1: must be >= 0"),
    (["--compare-bn", "--save", "x.npz"], "--compare-bn trains two models: it cannot be combined with"),
    (["--compare-bn", "--resume", "x.npz"], "cannot be combined with --resume"),
    (["--compare-bn", "--no-bn"], "cannot be combined with --no-bn"),
    (["--plain-lr", "0.5"], "--plain-lr is the lr of the plain LeNet in --compare-bn"),
    (["--data-dir", "/nonexistent/fashion"], "data folder /nonexistent/fashion does not exist"),
])
def test_bad_flags_are_one_line_errors_before_training(data_dir, extra, words):
    message = cli_error(data_dir, *extra)
    assert words in message and "\n" not in message, message


def test_unofficial_data_is_refused_unless_no_verify(data_dir):
    with pytest.raises(SystemExit) as info:
        train_lenet.main(["--data-dir", data_dir, "--epochs", "1"])  # without --no-verify
    message = str(info.value.code)
    assert message.startswith("error: ") and "wrong size for fashion-mnist train-images" in message
    assert "pass --no-verify to read IDX files that are not the official release" in message


def test_bad_output_paths_are_refused_before_training(data_dir, tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain_file").write_bytes(b"")
    for flag in ("--save", "--log", "--plot"):
        message = cli_error(data_dir, flag, str(tmp_path / "folder"))
        assert f"{flag} {tmp_path / 'folder'}: is a folder" in message
        missing = tmp_path / "missing" / "dir" / "x"
        assert f"folder {missing.parent} does not exist" in cli_error(data_dir, flag, str(missing))
        # below a plain file: no one, root included, can write there
        assert "does not exist" in cli_error(data_dir, flag, str(tmp_path / "plain_file" / "x"))
    same = str(tmp_path / "same")
    assert "--save and --log name the same file" in cli_error(data_dir, "--save", same, "--log", same)
    # several problems: one line each, all of them
    message = cli_error(data_dir, "--epochs", "0", "--batch-size", "0", "--log", str(tmp_path / "folder"))
    assert message.splitlines() == ["error: --epochs 0: must be >= 1", "error: --batch-size 0: must be >= 1",
                                    f"error: --log {tmp_path / 'folder'}: is a folder; give a file name"]
    assert sorted(os.listdir(tmp_path)) == ["folder", "plain_file"]   # nothing written


def test_adam_gets_its_own_default_lr(data_dir):
    histories = run(data_dir, "--epochs", "1", "--optimizer", "adam")
    assert list(histories) == ["LeNet-BN (lr 0.001)"]


# ================================================================ divergence
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to nan
def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    ckpt = tmp_path / "ckpt.npz"
    run(data_dir, "--epochs", "1", "--activation", "relu", "--save", str(ckpt))
    good = ckpt.read_bytes()
    with pytest.raises(SystemExit) as info:
        run(data_dir, "--resume", str(ckpt), "--save", str(ckpt), "--activation", "relu",
            "--epochs", "3", "--lr", "1e6")
    message = str(info.value.code)
    assert message.startswith("error: training diverged: the loss is not finite (nan) in epoch 2")
    assert f"{ckpt} keeps the last good checkpoint" in message and "--allow-nonfinite" in message
    assert ckpt.read_bytes() == good and os.listdir(tmp_path) == ["ckpt.npz"]
    # asked for explicitly, training goes on
    histories = run(data_dir, "--epochs", "1", "--lr", "1e6", "--activation", "relu", "--allow-nonfinite")
    assert np.isnan(list(histories.values())[0][0]["train_loss"])


def test_mlp_example_trains_and_checks_its_flags(data_dir, tmp_path):
    base = ["--data-dir", data_dir, "--no-verify", "--batch-size", "32", "--hidden", "20,20"]
    png = tmp_path / "mlp.png"
    histories = train_mlp.main([*base, "--epochs", "1", "--optimizer", "adam", "--plot", str(png)])
    assert list(histories) == ["batchnorm"] and len(histories["batchnorm"]) == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for extra, words in ((["--hidden", "20,0"], "--hidden 20,0: expected positive widths"),
                         (["--epochs", "0"], "--epochs 0: must be >= 1"),
                         (["--subset", "999"], "--subset 999: must be between 1 and 320"),
                         (["--log", str(tmp_path)], "is a folder")):
        with pytest.raises(SystemExit) as info:
            train_mlp.main([*base, *extra])
        assert str(info.value.code).startswith("error: ") and words in str(info.value.code)


# ================================================================ the Trainer on each device
def small_trainer(device, n, save=None):
    """LeNet-BN on `device`, n learnable images in batches of 32 (64 to test on), quiet."""
    tg.manual_seed(0)
    model = lenet().to(device)
    images, labels = learnable_images(n, 0)
    test_images, test_labels = learnable_images(64, 1)
    train = DataLoader((images.astype(np.uint8), labels), 32, shuffle=True, seed=0, device=device)
    test = DataLoader((test_images.astype(np.uint8), test_labels), 32, device=device)
    trainer = training.Trainer(model, tg.optim.SGD(model.parameters(), lr=0.5), train, test, save=save,
                               quiet=True)
    trainer.check_every = 10 ** 9  # the finiteness check reads the loss: here, only at the epoch's end
    return trainer


def trainer_syncs(device, trainer, epochs):
    """How often `trainer.fit(epochs)` made the host wait for the device OUTSIDE its steps (the
    library's ops inside a step are not the Trainer's business); None on the CPU or a real GPU."""
    if device == "cpu" or backend.get_array_module("cuda") is not standin.cupy:
        trainer.fit(epochs)
        return None
    in_steps, real_step = [], trainer.step

    def counted_step(images, labels):
        with standin.count() as counts:
            result = real_step(images, labels)
        in_steps.append(counts.syncs)
        return result
    trainer.step = counted_step
    with standin.count() as counts:
        trainer.fit(epochs)
    return counts.syncs - sum(in_steps)


def test_trainer_reads_the_device_per_epoch_not_per_step(device):
    """Each step's loss stays on the device until the epoch ends: around its steps, an epoch of
    10 steps makes the host wait exactly as often as one of 5 (on the stand-in for CuPy, which
    counts)."""
    short, long = small_trainer(device, 160), small_trainer(device, 320)
    assert trainer_syncs(device, short, 1) == trainer_syncs(device, long, 1)
    assert [len(steps) for steps in long.batch_losses] == [10]
    assert long.history[0]["train_loss"] == pytest.approx(long.batch_losses[0].mean(), rel=1e-5)
    assert 0 < long.history[0]["test_loss"] < 5 and long.batch_losses[0].dtype == np.float32


def test_trainer_resumes_the_step_losses_of_an_unfinished_epoch(device, tmp_path):
    full = small_trainer(device, 160)
    full.fit(2)
    ckpt = tmp_path / "ckpt.npz"
    part = small_trainer(device, 160, save=str(ckpt))

    def stop_after_seven_steps():  # as a Ctrl-C would: epoch 2, after its second step
        if (part.epoch, part.batches_done) == (1, 2):
            raise training._Stop()
    part.boundary = stop_after_seven_steps
    with pytest.raises(SystemExit):
        part.fit(2)
    assert tg.load(str(ckpt))["batch_losses"].shape == (7,)
    resumed = small_trainer(device, 160)
    resumed.resume(str(ckpt))
    resumed.fit(2)
    assert len(resumed.batch_losses) == 2
    for a, b in zip(resumed.batch_losses, full.batch_losses):
        np.testing.assert_array_equal(a, b)


def test_cuda_without_gpu_is_one_line(data_dir, capsys):
    if tg.cuda_is_available():
        pytest.skip("a GPU is available")
    with pytest.raises(SystemExit) as exit_info:
        run(data_dir, "--device", "cuda")
    assert str(exit_info.value.code).startswith("error: device 'cuda' is not available")


# ---------------------------------------------------------------- the benchmarks run (CPU)
@pytest.mark.parametrize("script, extra, shown", [
    ("bench_conv.py", ["--no-torch", "--repeats", "1", "--blocks", "1", "--batch-size", "4"], "per sample"),
    ("bench_norm.py", ["--repeats", "1"], "speedup"),
    ("bench_threads.py", ["--no-torch", "--repeats", "3"], "hand-off"),
    ("bench_lenet.py", ["--no-torch", "--steps", "1", "--blocks", "1", "--warmup", "1", "--no-memory"],
     "median step"),
])
def test_benchmarks_run_on_the_cpu(script, extra, shown):
    """Each benchmark runs to the end (their figures are for people; here only that they work)."""
    out = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", script), *extra],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert shown in out.stdout, out.stdout


@pytest.mark.parametrize("script, flags, message", [
    ("bench_threads.py", ["--threads", "1"], "--threads must be at least 2 to compare with 1, got 1"),
    ("bench_threads.py", ["--repeats", "0"], "--repeats must be at least 1, got 0"),
    ("bench_lenet.py", ["--steps", "0"], "--steps must be at least 1, got 0"),
    ("bench_lenet.py", ["--batch-size", "-4"], "--batch-size must be at least 1, got -4"),
])
def test_benchmarks_refuse_bad_counts_in_one_line(script, flags, message):
    out = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", script), *flags],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert message in out.stderr


# ---------------------------------------------------------------- found in review
def test_the_checkpoint_to_resume_is_never_an_output_but_save(data_dir, one_epoch, tmp_path):
    before = one_epoch.read_bytes()
    for flag in ("--plot", "--log"):
        message = cli_error(data_dir, "--resume", str(one_epoch), flag, str(one_epoch))
        assert f"--resume and {flag} name the same file" in message
    assert one_epoch.read_bytes() == before  # the checkpoint is untouched


def test_trainer_unwraps_only_distributed_data_parallel(tmp_path):
    """A learner's model may have a `.module` attribute of its own: the trainer saves and
    evaluates the whole model, not that attribute."""
    class Tempered(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.module = tg.nn.Sequential(tg.nn.Flatten(), tg.nn.Linear(4, 3))
            self.temperature = tg.nn.Parameter(tg.ones(1))

        def forward(self, x):
            return self.module(x) / self.temperature

    data = (np.zeros((8, 2, 2), np.uint8), np.arange(8) % 3)
    model = Tempered()
    trainer = training.Trainer(model, tg.optim.SGD(model.parameters(), lr=0.1),
                               DataLoader(data, 4), DataLoader(data, 4), save=str(tmp_path / "t.npz"),
                               quiet=True)
    trainer.fit(1)
    assert "temperature" in tg.load(str(tmp_path / "t.npz"))["model"]
