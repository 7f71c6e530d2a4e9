"""The training loop shared by the example scripts: epochs with a progress bar, evaluation,
JSON logs, atomic checkpoints every epoch and on Ctrl-C, exact resume, and plots.

Resuming is exact: a checkpoint stores the model, the optimizer, the scheduler, the loader's
shuffling state as it was when the epoch began, how many batches of that epoch were done, the
running sums of the epoch's metrics and the random generator; a resumed run replays the same
permutation, skips the batches already done, and continues bit for bit like the uninterrupted run.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import backend

try:
    from tqdm import tqdm
except ImportError:  # the examples extra brings tqdm; without it, a plain line per epoch
    tqdm = None


def require_device(device: str) -> None:
    """Exit with one line (no traceback) when the device cannot be used."""
    try:
        backend.check_device(device)
    except (RuntimeError, ValueError) as err:
        sys.exit(f"error: {err}")


def evaluate(model, loader) -> float:
    """Accuracy of `model` on `loader`, in eval mode, without a graph."""
    model.eval()
    correct = 0
    with tg.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).array.sum()
    return float(correct) / loader.num_samples


class Trainer:
    """Trains `model` with `optimizer` (and an optional per-step `scheduler`) on `train_loader`,
    evaluating on `test_loader` after every epoch.

    Args:
        save (str, optional): checkpoint path, written atomically after every epoch and on Ctrl-C.
        log (str, optional): a JSON-lines file, one object per epoch.
        name (str, optional): a label for printed lines and plots.
    """

    def __init__(self, model, optimizer, train_loader, test_loader, scheduler=None,
                 save=None, log=None, name="", quiet=False):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.test_loader = train_loader, test_loader
        self.save_path, self.log_path, self.name, self.quiet = save, log, name, quiet
        self.history = []  # one dict per finished epoch
        self.epoch, self.batches_done = 0, 0
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.epoch_seconds = 0.0
        self.loader_state = train_loader.state_dict()

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else {},
            "epoch": self.epoch, "batches_done": self.batches_done,
            "sums": np.array([float(self.loss_sum), float(self.correct), self.seen, self.epoch_seconds]),
            # generator states hold 128-bit integers: JSON text keeps them exact
            "loader": json.dumps(self.loader_state), "rng": json.dumps(backend.get_rng_state()),
            "history": json.dumps(self.history),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batches_done = int(state["epoch"]), int(state["batches_done"])
        loss_sum, correct, seen, seconds = (float(v) for v in state["sums"])
        self.loss_sum, self.correct, self.seen = loss_sum, int(correct), int(seen)
        self.epoch_seconds = seconds
        self.loader_state = json.loads(str(state["loader"]))
        backend.set_rng_state(json.loads(str(state["rng"])))
        self.history = json.loads(str(state["history"]))

    def save(self) -> None:
        if self.save_path:
            tg.save(self.state_dict(), self.save_path)

    def resume(self, path: str) -> None:
        self.load_state_dict(tg.load(path))
        self.say(f"resumed from {path}: epoch {self.epoch + 1}, batch {self.batches_done}")

    # ------------------------------------------------------------ the loop
    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def fit(self, epochs: int) -> list:
        """Train until `epochs` epochs are done; returns the history. Ctrl-C saves and exits."""
        try:
            while self.epoch < epochs:
                self.train_epoch(epochs)
        except KeyboardInterrupt:
            self.save()
            where = f"; checkpoint saved to {self.save_path}" if self.save_path else ""
            self.say(f"\ninterrupted in epoch {self.epoch + 1} after {self.batches_done} batches{where}")
            raise SystemExit(130)
        return self.history

    def train_epoch(self, epochs: int) -> None:
        loader = self.train_loader
        loader.load_state_dict(self.loader_state)  # the permutation this epoch uses (also on resume)
        self.model.train()
        bar = None
        if tqdm is not None and not self.quiet:
            bar = tqdm(total=len(loader), initial=self.batches_done, leave=False, unit="batch",
                       desc=f"{self.name}epoch {self.epoch + 1}/{epochs}", file=sys.stdout)
        start = time.perf_counter() - self.epoch_seconds
        batches = iter(loader)
        for _ in range(self.batches_done):  # resuming mid-epoch: skip what was done
            next(batches)
        for images, labels in batches:
            loss, correct = self.step(images, labels)
            self.loss_sum += loss * len(labels)
            self.correct += correct
            self.seen += len(labels)
            self.batches_done += 1
            self.epoch_seconds = time.perf_counter() - start
            if bar is not None:
                bar.update(1)
                if self.batches_done % 10 == 0:
                    bar.set_postfix(loss=f"{float(self.loss_sum) / self.seen:.4f}")
        if bar is not None:
            bar.close()
        train_seconds = time.perf_counter() - start
        test_acc = evaluate(self.model, self.test_loader)
        record = {"epoch": self.epoch + 1, "train_loss": float(self.loss_sum) / self.seen,
                  "train_acc": float(self.correct) / self.seen, "test_acc": test_acc,
                  "seconds": round(train_seconds, 3), "examples_per_s": round(self.seen / train_seconds, 1)}
        self.history.append(record)
        self.say(f"{self.name}epoch {record['epoch']:2d}  loss {record['train_loss']:.4f}  "
                 f"train acc {record['train_acc']:.4f}  test acc {test_acc:.4f}  "
                 f"{train_seconds:6.1f} s  {record['examples_per_s']:8.0f} examples/s")
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        self.epoch += 1
        self.batches_done, self.loss_sum, self.correct, self.seen, self.epoch_seconds = 0, 0.0, 0, 0, 0.0
        self.loader_state = loader.state_dict()  # the generator after this epoch's permutation
        self.save()

    def step(self, images, labels):
        """One training step: forward, loss, backward, update.

        Returns the loss and the number of correct predictions as 0-d arrays that stay on the
        device: converting them to Python numbers here would make the CPU wait for the GPU every
        step. They are summed on the device and read only for printing.
        """
        logits = self.model(images)
        loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.scheduler:
            self.scheduler.step()
        return loss.array, (logits.argmax(1) == labels).array.sum()


def summary(history: list, name: str = "") -> str:
    best = max(history, key=lambda r: r["test_acc"])
    last = history[-1]
    speed = np.median([r["examples_per_s"] for r in history])
    return (f"{name}done: {len(history)} epochs, final train acc {last['train_acc']:.4f}, "
            f"final test acc {last['test_acc']:.4f}, best test acc {best['test_acc']:.4f} "
            f"(epoch {best['epoch']}), {sum(r['seconds'] for r in history):.1f} s training, "
            f"median {speed:.0f} examples/s")


def plot(runs: dict, path: str, title: str = "") -> None:
    """One PNG with train loss, train accuracy and test accuracy per epoch for each named run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for label, history in runs.items():
        epochs = [r["epoch"] for r in history]
        for ax, key in zip(axes, ("train_loss", "train_acc", "test_acc")):
            ax.plot(epochs, [r[key] for r in history], marker="o", label=label)
    for ax, key in zip(axes, ("train loss", "train accuracy", "test accuracy")):
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    plt.close(fig)
