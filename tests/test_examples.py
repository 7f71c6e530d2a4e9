"""End-to-end: the LeNet example trains on small generated IDX files, writes its log, checkpoint
and plot, and a run interrupted (between or inside an epoch) and resumed ends exactly where the
uninterrupted run ends."""
import gzip
import json
import os
import struct
import sys

import numpy as np
import pytest

import tinygrad_bn as tg

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)
import train_lenet  # noqa: E402
import training  # noqa: E402


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


def run(data_dir, *extra):
    return train_lenet.main(["--data-dir", data_dir, "--batch-size", "32", *extra])


def test_lenet_bn_learns_and_writes_log_checkpoint_plot(data_dir, tmp_path):
    log, ckpt, png = tmp_path / "log.jsonl", tmp_path / "ckpt.npz", tmp_path / "curves.png"
    histories = run(data_dir, "--epochs", "3", "--log", str(log), "--save", str(ckpt), "--plot", str(png))
    (history,) = histories.values()
    losses = [r["train_loss"] for r in history]
    assert losses[-1] < 0.6 * losses[0]  # 30 steps on a learnable task: the loss falls
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert set(records[0]) == {"epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_s"}
    state = tg.load(str(ckpt))
    assert int(state["epoch"]) == 3 and "0.weight" in state["model"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_bn_runs_both_models(data_dir, tmp_path):
    histories = run(data_dir, "--epochs", "1", "--compare-bn", "--plot", str(tmp_path / "cmp.png"))
    assert sorted(histories) == ["LeNet (lr 0.9)", "LeNet-BN (lr 1)"]


def final_state(path):
    return tg.load(str(path))["model"]


def assert_same_model(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("options", [[], ["--schedule", "cosine", "--optimizer", "adam", "--lr", "0.01"]],
                         ids=["sgd", "adam-cosine"])
@pytest.mark.parametrize("stop_at,epochs_done,batches_done", [(11, 1, 0), (14, 1, 3)],
                         ids=["between-epochs", "mid-epoch"])
def test_ctrl_c_saves_and_resume_matches_uninterrupted(data_dir, tmp_path, monkeypatch, options,
                                                       stop_at, epochs_done, batches_done):
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    run(data_dir, "--epochs", "2", "--save", str(full), *options)

    real_step, calls = training.Trainer.step, []

    def interrupted_step(self, images, labels):
        calls.append(1)
        if len(calls) == stop_at:  # 10 batches per epoch
            raise KeyboardInterrupt
        return real_step(self, images, labels)

    monkeypatch.setattr(training.Trainer, "step", interrupted_step)
    with pytest.raises(SystemExit) as exit_info:
        run(data_dir, "--epochs", "2", "--save", str(part), *options)
    assert exit_info.value.code == 130
    saved = tg.load(str(part))
    assert (int(saved["epoch"]), int(saved["batches_done"])) == (epochs_done, batches_done)
    monkeypatch.setattr(training.Trainer, "step", real_step)
    run(data_dir, "--epochs", "2", "--save", str(part), "--resume", str(part), *options)
    assert_same_model(final_state(full), final_state(part))


def test_cuda_without_gpu_is_one_line(data_dir, capsys):
    if tg.cuda_is_available():
        pytest.skip("a GPU is available")
    with pytest.raises(SystemExit) as exit_info:
        run(data_dir, "--device", "cuda")
    assert str(exit_info.value.code).startswith("error: device 'cuda' is not available")
