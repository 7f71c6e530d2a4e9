"""Test helper, not a test: run examples/train_lenet.py in this process, pausing at one chosen
moment so that a test can send a real SIGINT exactly there (tests/test_examples.py does).

    python tests/interrupt_driver.py WHERE N [train_lenet.py options ...]

WHERE N:
  forward N   in training step N (counted from 1 over the whole run), inside the model's
              forward, just after the first BatchNorm updated its running statistics
  backward N  in step N, inside backward: after the gradients of the layers above the first
              activation, before those below it
  update N    in step N, inside optimizer.step: after the first half of the parameters moved
  eval N      inside the evaluation at the end of epoch N, in the model's forward
  save N      inside the N-th checkpoint write, after its first array was written

There it prints ``PAUSED WHERE N`` on stdout and waits, once, until the test's SIGINT has been
handled (at most 60 s), then goes on: the signal lands in the middle of that phase. With
``SIGNALS=2`` in the environment it waits for a second Ctrl-C, whose handler raises there. The
hooks compute exactly what the plain code does: an uninterrupted run through this driver ends
bit for bit like one without it.
"""
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "examples"))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

import tinygrad_bn as tg  # noqa: E402
import train_lenet  # noqa: E402
import training  # noqa: E402

WHERE, N = sys.argv[1], int(sys.argv[2])
SIGNALS = int(os.environ.get("SIGNALS", "1"))
count = {"step": 0, "eval": 0, "save": 0, "paused": False, "saving": False, "trainer": None}


def pause_here(where: str, n: int) -> None:
    if where == WHERE and n == N and not count["paused"]:
        count["paused"] = True
        print(f"PAUSED {WHERE} {N}", flush=True)
        interrupts, deadline = count["trainer"].interrupts, time.monotonic() + 60
        # the handler runs between two of these sleeps; after the second Ctrl-C it raises here
        while (SIGNALS == 2 or not interrupts.requested) and time.monotonic() < deadline:
            time.sleep(0.005)


class PauseInBackward(tg.Function):
    """The identity; its backward pauses (when it is the chosen moment) and passes the gradient on."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        pause_here("backward", count["step"])
        return grad


def hook(trainer) -> None:
    count["trainer"] = trainer
    model, optimizer = trainer.model, trainer.optimizer
    layers = list(model.children())
    first_bn = next(i for i, m in enumerate(layers) if isinstance(m, tg.nn.BatchNorm2d))
    bn, activation = layers[first_bn], layers[first_bn + 1]
    bn_forward, act_forward, update = bn.forward, activation.forward, optimizer._update_group

    def forward_then_pause(x):
        out = bn_forward(x)
        if bn.training:
            pause_here("forward", count["step"])
        else:
            pause_here("eval", count["eval"])
        return out

    def activation_pausing_in_backward(x):
        out = act_forward(x)
        if activation.training and WHERE == "backward" and count["step"] == N:
            out = PauseInBackward.apply(out)
        return out

    def update_in_two_halves(group, params):
        half = len(params) // 2
        update(group, params[:half])
        pause_here("update", count["step"])
        update(group, params[half:])

    bn.forward, activation.forward = forward_then_pause, activation_pausing_in_backward
    optimizer._update_group = update_in_two_halves


real_init, real_step, real_evaluate = training.Trainer.__init__, training.Trainer.step, training.evaluate
real_save, real_write_array = tg.save, np.lib.format.write_array


def init(self, *args, **kwargs):
    real_init(self, *args, **kwargs)
    hook(self)


def step(self, images, labels):
    count["step"] += 1
    return real_step(self, images, labels)


def evaluate(model, loader, boundary=None, group=None):
    count["eval"] += 1
    return real_evaluate(model, loader, boundary, group)


def save(obj, path):
    count["save"] += 1
    count["saving"] = True
    try:
        real_save(obj, path)
    finally:
        count["saving"] = False


def write_array(fp, array, **kwargs):
    real_write_array(fp, array, **kwargs)
    if count["saving"]:
        pause_here("save", count["save"])


training.Trainer.__init__, training.Trainer.step, training.evaluate = init, step, evaluate
tg.save, np.lib.format.write_array = save, write_array
training.tqdm = None  # keep stdout to whole lines

if __name__ == "__main__":
    train_lenet.main(sys.argv[3:])
