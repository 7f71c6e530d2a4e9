"""The training loop shared by the example scripts, and the checks the scripts make before it.

What a run guarantees:

* Ctrl-C is STEP-ATOMIC. The first Ctrl-C (SIGINT) only sets a flag: the loop finishes the
  current step -- forward, backward, update, scheduler, counters -- or the current evaluation
  batch or checkpoint write, then saves at that boundary and exits with status 130. A second
  Ctrl-C exits at once WITHOUT writing: the checkpoint on disk stays the last complete one.
  Nothing is ever saved from the middle of a step, where batch norm has already updated its
  running statistics and the optimizer some of the parameters.
* Resuming is exact. A checkpoint stores the model, the optimizer, the scheduler, the loader's
  shuffling state as it was when the epoch began, how many batches of that epoch were done, the
  running sums of the epoch's metrics, the loss of every step so far (for the plots) and the
  random generator; a resumed run replays the same permutation, skips the batches already
  done, and continues bit for bit like the uninterrupted run. An interrupt during the
  evaluation saves the epoch's trained state; the resumed run evaluates it again.
* A checkpoint knows its run: it stores the run's settings (``config``), and the scripts refuse
  to resume it with different ones (see `compare_settings`).
* Divergence stops the run: a loss that is not finite (or parameters that are not, when about
  to save) ends training with a one-line error and exit status 1, and the last good checkpoint
  is kept. ``allow_nonfinite=True`` trains on regardless.

The scripts check their flags, paths and data before the first step (`check_output`,
`load_training_checkpoint`, ...) and report every problem as one line, ``error: ...``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import backend, nn
from tinygrad_bn.data import DatasetError, FashionMNIST
from tinygrad_bn.serialization import CheckpointError

try:
    from tqdm import tqdm
except ImportError:  # the examples extra brings tqdm; without it, a plain line per epoch
    tqdm = None

CHECKPOINT_KIND = "tinygrad_bn training checkpoint"
CHECKPOINT_VERSION = 3  # 3: per-step losses and the test loss
EXIT_INTERRUPTED = 130  # the shell's status for a process ended by SIGINT
OPTIMIZERS = {"sgd": tg.optim.SGD, "adam": tg.optim.Adam, "adamw": tg.optim.AdamW}  # --optimizer


# ================================================================ one-line errors
def fail(*problems: str) -> None:
    """Exit with status 1 and one line per problem, ``error: ...`` (no traceback)."""
    raise SystemExit("\n".join(f"error: {' '.join(str(p).split())}" for p in problems))


def require_device(device: str) -> None:
    """Exit with one line (no traceback) when the device cannot be used."""
    try:
        backend.check_device(device)
    except (RuntimeError, ValueError) as err:
        sys.exit(f"error: {err}")


def load_data(args) -> tuple:
    """Fashion-MNIST as ((train images, labels), (test images, labels)), the training set cut to
    ``--subset``; exits with one line when the files are missing or fail verification."""
    try:
        train = FashionMNIST(root=args.data_dir, train=True, verify=not args.no_verify)
        test = FashionMNIST(root=args.data_dir, train=False, verify=not args.no_verify)
    except DatasetError as err:
        fail(str(err).replace("pass verify=False", "pass --no-verify"))
    problems = check_number("--subset", args.subset, 1, len(train))
    if problems:
        fail(*problems)
    n = args.subset or len(train)
    return (train.images[:n], train.labels[:n]), (test.images, test.labels)


def check_number(flag: str, value, low=None, high=None, low_open=False) -> list:
    """[] when `value` is None or within ``[low, high]`` (``(low, high]`` with `low_open`), else
    one problem naming the flag and the value."""
    if value is None:
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{flag} {value}: must be a finite number"]
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if not (too_low or too_high):
        return []
    if low is not None and high is not None:
        rule = f"between {low:g} and {high:g}"
    elif low is not None:
        rule = f"{'>' if low_open else '>='} {low:g}"
    else:
        rule = f"<= {high:g}"
    return [f"{flag} {value}: must be {rule}"]


def check_output(flag: str, path: str | None, append: bool = False) -> list:
    """[] when `path` can be written (a file in an existing, writable folder), else one problem.

    Checked by creating (and removing) a probe file in the folder: permission bits do not stop
    root, but a read-only file system, a missing folder or a path below a plain file do. With
    `append` (a log), an existing file is also opened for appending (which changes nothing)."""
    if path is None:
        return []
    if os.path.isdir(path):
        return [f"{flag} {path}: is a folder; give a file name"]
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return [f"{flag} {path}: folder {folder} does not exist"]
    try:
        fd, probe = tempfile.mkstemp(prefix=".tinygrad_bn-probe-", dir=folder)
        os.close(fd)
        os.remove(probe)
        if append and os.path.exists(path):  # an existing log must accept appending
            with open(path, "a"):
                pass
    except OSError as err:
        return [f"{flag} {path}: cannot write there ({err.strerror or err})"]
    return []


def check_distinct(**paths) -> list:
    """One problem for each pair of output flags that name the same file."""
    seen, problems = {}, []
    for flag, path in paths.items():
        if path is None:
            continue
        real = os.path.realpath(path)
        if real in seen:
            problems.append(f"--{seen[real]} and --{flag} name the same file {path}")
        seen[real] = flag
    return problems


def check_plotting(path) -> list:
    if path is None:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return [f"--plot {path}: needs matplotlib (pip install -e '.[examples]')"]
    return []


def data_fingerprint(*arrays) -> str:
    """A short hash of the training and test arrays: a checkpoint is resumed on the same data."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(backend.to_numpy(array))
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]


# ================================================================ checkpoints of a run
def load_training_checkpoint(path: str) -> dict:
    """The checkpoint at `path`, or a one-line exit when it is missing or not a training checkpoint."""
    if not os.path.exists(path):
        fail(f"--resume {path}: no such file")
    try:
        state = tg.load(path)
    except (CheckpointError, OSError) as err:
        fail(f"--resume {path}: {err.strerror if isinstance(err, OSError) and err.strerror else err}")
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        if isinstance(state, dict) and state and all(isinstance(v, np.ndarray) for v in state.values()):
            what = ("it holds only a state_dict (arrays named like model weights); load it with "
                    "model.load_state_dict(tg.load(path))")
        else:
            what = "it was not written by these examples' --save"
        fail(f"--resume {path}: not a training checkpoint: {what}")
    if state.get("version") != CHECKPOINT_VERSION:
        fail(f"--resume {path}: a training checkpoint of format {state.get('version')!r}; this "
             f"version reads format {CHECKPOINT_VERSION}: start a new run")
    return state


def compare_settings(path: str, saved: dict, current: dict, overridable=()) -> list:
    """Compare a checkpoint's run settings with this run's.

    Settings in `overridable` may differ (the caller applies them); any other difference makes
    the resume exit with one line listing every difference. Returns the overrides as
    ``(key, checkpoint value, new value)``."""
    keys = list(dict.fromkeys(list(saved) + list(current)))
    differ = [(k, saved.get(k), current.get(k)) for k in keys if saved.get(k) != current.get(k)]
    refused = [d for d in differ if d[0] not in overridable]
    if refused:
        listed = ", ".join(f"{k} {new!r} (checkpoint: {old!r})" for k, old, new in refused)
        fail(f"--resume {path}: the checkpoint was written by a different run; these settings "
             f"differ: {listed}. Resume with the checkpoint's settings, or start a new run")
    return [d for d in differ if d[0] in overridable]


# ================================================================ Ctrl-C
class AbortNow(KeyboardInterrupt):
    """A second Ctrl-C: leave at once, saving nothing."""


class Interrupts:
    """While active (``with Interrupts() as flag:``), Ctrl-C sets ``flag.requested`` instead of
    raising; a second Ctrl-C raises `AbortNow`. Outside the main thread (where Python delivers no
    signals) it does nothing. The previous handler comes back on exit."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise AbortNow()
        self.requested = True
        # os.write, not print: a handler may run while the main code is inside print()
        os.write(2, b"\nCtrl-C: finishing this step, then saving and stopping "
                    b"(Ctrl-C again: stop at once, without saving)\n")


class _Stop(Exception):
    """Raised at a boundary after the first Ctrl-C."""


class Diverged(Exception):
    """The loss (or a parameter) is not finite."""


# ================================================================ the loop
def evaluate(model, loader, boundary=None, group=None) -> tuple:
    """Mean cross-entropy loss and accuracy of `model` on `loader`, in eval mode, without a
    graph, as two floats. Both are summed on the device and read once, at the end. `boundary()`
    is called after each batch (it may raise to stop). With a distributed `group`, each process
    has its part of the test set and the sums are added up over the processes."""
    model.eval()
    loss_sum, correct = 0.0, 0
    with tg.no_grad():
        for images, labels in loader:
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").array
            correct += (logits.argmax(1) == labels).array.sum()
            if boundary is not None:
                boundary()
    loss_sum, correct, count = _sum_over(group, [float(loss_sum), float(correct), loader.num_samples])
    return loss_sum / count, correct / count


def _sum_over(group, values) -> list:
    """`values` (floats) added up over the processes of `group` (as they are without one)."""
    if group is None:
        return list(values)
    totals = np.array(values, dtype=np.float64)
    group.allreduce_(totals)
    return totals.tolist()


class Trainer:
    """Trains `model` with `optimizer` (and an optional per-step `scheduler`) on `train_loader`,
    evaluating on `test_loader` after every epoch. See the module docstring for the guarantees.

    Args:
        save (str, optional): checkpoint path, written atomically after every epoch and on Ctrl-C.
        group (optional): a distributed process group (``distributed._default_group()``) when
            K processes train one model together: each process trains on its shard, metrics
            are summed over the processes, Ctrl-C stops them all at the same step, and rank 0
            alone prints, logs and saves (the bare model's weights: ``model.module``).
        log (str, optional): a JSON-lines file, one object per epoch.
        name (str, optional): a label for printed lines and plots.
        config (dict, optional): the run's settings, stored in every checkpoint.
        allow_nonfinite (bool, optional): keep training (and saving) when the loss is not finite.
    """

    def __init__(self, model, optimizer, train_loader, test_loader, scheduler=None,
                 save=None, log=None, name="", quiet=False, config=None, allow_nonfinite=False,
                 group=None):
        self.group, self.rank = group, (group.rank if group is not None else 0)
        if self.rank != 0:  # one process speaks and writes for all
            save, log, quiet = None, None, True
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        # saved bare: a DistributedDataParallel wrapper's inner model (not any `.module` attribute)
        self.weights = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        self.train_loader, self.test_loader = train_loader, test_loader
        self.save_path, self.log_path, self.name, self.quiet = save, log, name, quiet
        self.config = dict(config or {})
        self.allow_nonfinite = allow_nonfinite
        self.history = []  # one dict per finished epoch
        self.batch_losses = []  # one float32 array per finished epoch: the loss of each step
        self.step_losses = []  # this epoch's step losses so far, 0-d arrays on the device
        self.epoch, self.batches_done = 0, 0
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.epoch_seconds = 0.0
        self._epoch_start = None  # the clock when this epoch's training (re)started
        self.loader_state = train_loader.state_dict()
        self.interrupts = Interrupts()
        self.unsaved = False  # something changed since the last checkpoint
        # reading the loss syncs with a GPU: there, check it every 10 steps (and before saving)
        self.device = backend.device_of(next(iter(model.parameters())).array)
        self.check_every = 1 if self.device == "cpu" else 10

    # ------------------------------------------------------------ checkpoints
    def elapsed(self) -> float:
        """Seconds of training in the current epoch so far. The clock is read after the device
        has finished the work queued on it: GPU calls return before their kernels run."""
        if self._epoch_start is None:
            return self.epoch_seconds
        backend.synchronize(self.device)
        return time.perf_counter() - self._epoch_start

    def state_dict(self) -> dict:
        return {
            "kind": CHECKPOINT_KIND, "version": CHECKPOINT_VERSION, "config": self.config,
            "model": self.weights.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else {},
            "epoch": self.epoch, "batches_done": self.batches_done,
            "sums": np.array([float(self.loss_sum), float(self.correct), self.seen, self.elapsed()]),
            # generator states hold 128-bit integers: JSON text keeps them exact
            "loader": json.dumps(self.loader_state), "rng": json.dumps(backend.get_rng_state()),
            "history": json.dumps(self.history),
            "batch_losses": np.concatenate([*self.batch_losses, self.losses_this_epoch()]),
        }

    def load_state_dict(self, state: dict) -> None:
        # everything that can fail on its own is read before the model and optimizer change
        epoch, batches_done = int(state["epoch"]), int(state["batches_done"])
        loss_sum, correct, seen, seconds = (float(v) for v in state["sums"])
        loader_state, rng = json.loads(str(state["loader"])), json.loads(str(state["rng"]))
        history = json.loads(str(state["history"]))
        per_epoch = len(self.train_loader)
        if not 0 <= batches_done <= per_epoch:
            raise ValueError(f"batches_done {batches_done} is not within the {per_epoch} batches of an epoch")
        losses = np.asarray(state["batch_losses"], dtype=np.float32)
        if losses.shape != (epoch * per_epoch + batches_done,):
            raise ValueError(f"batch_losses holds {losses.size} losses; {epoch} epochs of {per_epoch} "
                             f"batches and {batches_done} more make {epoch * per_epoch + batches_done}")
        self.weights.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batches_done = epoch, batches_done
        if self.rank != 0:  # distributed: the saved sums are the totals of every process
            loss_sum, correct, seen = 0.0, 0, 0
        self.loss_sum, self.correct, self.seen = loss_sum, int(correct), int(seen)
        self.epoch_seconds = seconds
        self.loader_state = loader_state
        backend.set_rng_state(rng)
        self.history = history
        self.batch_losses = [losses[i * per_epoch:(i + 1) * per_epoch] for i in range(epoch)]
        xp = backend.get_array_module(self.device)  # the unfinished epoch's go back onto the device
        self.step_losses = list(xp.asarray(losses[epoch * per_epoch:]))
        if not self.config:  # the caller's settings (already compared with the file's) win
            self.config = dict(state.get("config") or {})

    def save(self) -> None:
        """Write a checkpoint (at a boundary only), unless the state has gone non-finite.
        Distributed, every process calls it (it adds up the epoch's sums) and rank 0 writes."""
        writes = bool(self.save_path)
        if self.group is not None:  # does rank 0 save? (the others never do)
            writes = self.group.allreduce_sum(np.array([int(writes)]))[0] > 0
        if not writes:
            return
        self.check_finite(parameters=True)  # (a collective when distributed: every process)
        local = self.loss_sum, self.correct, self.seen
        if self.group is not None:  # the checkpoint holds the totals over the processes
            totals = _sum_over(self.group, [float(self.loss_sum), float(self.correct), self.seen])
            self.loss_sum, self.correct, self.seen = totals[0], int(totals[1]), int(totals[2])
        try:
            if self.save_path:
                tg.save(self.state_dict(), self.save_path)
        finally:
            self.loss_sum, self.correct, self.seen = local
        self.unsaved = False

    def resume(self, state_or_path, source: str | None = None) -> None:
        """Continue from a checkpoint: its path, or its loaded state (`source` names it)."""
        if isinstance(state_or_path, (str, os.PathLike)):
            state_or_path, source = tg.load(state_or_path), os.fspath(state_or_path)
        self.load_state_dict(state_or_path)
        self.say(f"resumed{f' from {source}' if source else ''}: epoch {self.epoch + 1}, "
                 f"batch {self.batches_done}")

    # ------------------------------------------------------------ the loop
    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def boundary(self) -> None:
        """A point between steps: stop here if Ctrl-C was pressed (distributed: on any process,
        so that all of them stop at the same step)."""
        requested = self.interrupts.requested
        if self.group is not None:
            requested = self.group.allreduce_sum(np.array([int(requested)]))[0] > 0
        if requested:
            raise _Stop()

    def check_finite(self, parameters: bool = False) -> None:
        if self.allow_nonfinite:
            return
        loss_sum = _sum_over(self.group, [float(self.loss_sum)])[0]  # all processes stop together
        if self.seen and not math.isfinite(loss_sum):
            raise Diverged(f"the loss is not finite ({loss_sum}) in epoch {self.epoch + 1} "
                           f"by batch {self.batches_done}")
        if parameters:
            for name, tensor in self.weights.state_dict().items():
                if tensor.dtype.kind == "f" and not np.isfinite(tensor).all():
                    raise Diverged(f"{name} is not finite after epoch {self.epoch}")

    def fit(self, epochs: int) -> list:
        """Train until `epochs` epochs are done; returns the history.

        Ctrl-C saves at the next boundary and exits with status 130 (a second Ctrl-C exits at
        once without saving); divergence exits with status 1, keeping the last checkpoint."""
        with self.interrupts:  # everything below, the final save included, is under it
            try:
                try:
                    while self.epoch < epochs:
                        self.train_epoch(epochs)
                except _Stop:
                    self._save_and_stop()
            except AbortNow:
                kept = f"; {self.save_path} holds the last complete checkpoint" if self.save_path else ""
                self.say(f"\nstopped at once by a second Ctrl-C: nothing saved{kept}")
                raise SystemExit(EXIT_INTERRUPTED) from None
            except Diverged as err:
                kept = (f"; {self.save_path} keeps the last good checkpoint" if self.save_path
                        and os.path.exists(self.save_path) else "")
                raise SystemExit(f"error: training diverged: {err}{kept} (lower --lr, or pass "
                                 "--allow-nonfinite to train on)") from None
        return self.history

    def _save_and_stop(self) -> None:
        saved = ""
        if self.unsaved:
            self.save()  # (distributed, every process takes part; rank 0 writes)
        if self.save_path:
            saved = f"; checkpoint saved to {self.save_path} (continue with --resume {self.save_path})"
        self.say(f"\ninterrupted in epoch {self.epoch + 1} after {self.batches_done} batches{saved}")
        raise SystemExit(EXIT_INTERRUPTED)

    def train_epoch(self, epochs: int) -> None:
        loader = self.train_loader
        loader.load_state_dict(self.loader_state)  # the permutation this epoch uses (also on resume)
        if hasattr(loader.sampler, "set_epoch"):  # distributed: this epoch's shard of a new shuffle
            loader.sampler.set_epoch(self.epoch)
        self.model.train()
        bar = None
        if tqdm is not None and not self.quiet:
            bar = tqdm(total=len(loader), initial=self.batches_done, leave=False, unit="batch",
                       desc=f"{self.name}epoch {self.epoch + 1}/{epochs}", file=sys.stdout)
        backend.synchronize(self.device)  # start the clock on an idle device
        self._epoch_start = time.perf_counter() - self.epoch_seconds
        batches = iter(loader)
        for _ in range(self.batches_done):  # resuming mid-epoch: skip what was done
            next(batches)
        try:
            for images, labels in batches:
                loss, correct = self.step(images, labels)
                self.step_losses.append(loss)  # kept on the device: read once, at the epoch's end
                self.loss_sum += loss * len(labels)
                self.correct += correct
                self.seen += len(labels)
                self.batches_done += 1
                self.unsaved = True
                if self.batches_done % self.check_every == 0:
                    self.check_finite()
                if bar is not None:
                    bar.update(1)
                    if self.batches_done % 10 == 0:
                        bar.set_postfix(loss=f"{float(self.loss_sum) / self.seen:.4f}")
                self.boundary()  # the step is complete: a Ctrl-C during it stops here
            self.check_finite()
            train_seconds = self.elapsed()
            self._epoch_start = None
            test_loss, test_acc = evaluate(self.weights, self.test_loader, self.boundary, self.group)
        finally:
            if bar is not None:
                bar.close()
        loss_sum, correct, seen = _sum_over(self.group,
                                            [float(self.loss_sum), float(self.correct), self.seen])
        record = {"epoch": self.epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                  "test_loss": test_loss, "test_acc": test_acc,
                  "seconds": round(train_seconds, 3), "examples_per_s": round(seen / train_seconds, 1)}
        self.history.append(record)
        self.batch_losses.append(self.losses_this_epoch())
        self.step_losses = []
        self.say(f"{self.name}epoch {record['epoch']:2d}  train loss {record['train_loss']:.4f} "
                 f"acc {record['train_acc']:.4f}  test loss {test_loss:.4f} acc {test_acc:.4f}  "
                 f"{train_seconds:6.1f} s  {record['examples_per_s']:8.0f} examples/s")
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        self.epoch += 1
        self.batches_done, self.loss_sum, self.correct, self.seen, self.epoch_seconds = 0, 0.0, 0, 0, 0.0
        self.loader_state = loader.state_dict()  # the generator after this epoch's permutation
        self.unsaved = True
        self.save()
        self.boundary()  # a Ctrl-C during the save stops here, the checkpoint complete

    def losses_this_epoch(self) -> np.ndarray:
        """The loss of each step of this epoch so far, as float32 on the host: the 0-d device
        arrays are stacked there and copied in one transfer (called at the epoch's end and when
        saving, where the loop reads the device anyway)."""
        if not self.step_losses:
            return np.zeros(0, np.float32)
        xp = backend.get_array_module(self.device)
        return backend.to_numpy(xp.stack(self.step_losses)).astype(np.float32)

    def step(self, images, labels):
        """One training step: forward, loss, backward, update.

        Returns the loss and the number of correct predictions as 0-d arrays that stay on the
        device: converting them to Python numbers here would make the CPU wait for the GPU every
        step. They are summed on the device and read only for printing and the finiteness check;
        the losses are also kept, each step's, and copied to the host at the epoch's end.
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
    if not history:
        return f"{name}no epoch finished"
    best = max(history, key=lambda r: r["test_acc"])
    last = history[-1]
    speed = np.median([r["examples_per_s"] for r in history])
    epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
    return (f"{name}done: {epochs}, final train acc {last['train_acc']:.4f}, "
            f"final test acc {last['test_acc']:.4f}, best test acc {best['test_acc']:.4f} "
            f"(epoch {best['epoch']}), {sum(r['seconds'] for r in history):.1f} s training, "
            f"median {speed:.0f} examples/s")
