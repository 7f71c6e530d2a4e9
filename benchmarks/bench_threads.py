"""What a split op pays for its second thread: the hand-off, and how far an elementwise pass,
a copy and a small matrix product scale, ours (``tinygrad_bn.threads``) next to PyTorch's
intra-op threads on the same array.

    python benchmarks/bench_threads.py [--threads 2] [--repeats 200] [--no-torch]

The array is LeNet's first activation at batch 256 (256×6×24×24 float32, 3.5 MB). "hand-off"
is ``parallel_for`` with empty parts (the cost of waking the workers and waiting for them);
"round trip" is one task sent to a Python thread through a queue and its answer back, the floor
under any hand-off made with Python threads.
"""
import argparse
import os
import queue
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/common.py
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn import threads  # noqa: E402
from common import median_ms  # noqa: E402

SHAPE = (256, 6, 24, 24)


def round_trip_us(repeats):
    """Median µs for a task to reach a waiting Python thread and its answer to come back."""
    tasks, answers = queue.SimpleQueue(), queue.SimpleQueue()

    def worker():
        for item in iter(tasks.get, None):
            answers.put(item)
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    ms = median_ms(lambda: (tasks.put(1), answers.get()), repeats=repeats, warmup=20)
    tasks.put(None)
    thread.join()
    return ms * 1e3


def ours(n, x, out, a, b, repeats):
    """ms of each case on `n` threads of tinygrad_bn.threads, the work split by samples."""
    tg.set_num_threads(n)
    product = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    cases = {
        "hand-off (empty parts)": lambda: threads.parallel_for(x.shape[0], lambda i, j: None),
        "exp": lambda: threads.parallel_for(
            x.shape[0], lambda i, j: np.exp(x[i:j], out=out[i:j])),
        "copy": lambda: threads.parallel_for(
            x.shape[0], lambda i, j: np.copyto(out[i:j], x[i:j])),
        "matmul 256x256 @ 256x120": lambda: threads.parallel_for(
            a.shape[0], lambda i, j: np.matmul(a[i:j], b, out=product[i:j])),
    }
    return {name: median_ms(fn, repeats=repeats) for name, fn in cases.items()}


def torch_figures(n, x, a, b, repeats):
    """The same cases in PyTorch on `n` intra-op threads (None when PyTorch is not installed)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n)
    tx, ta, tb = torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(b)
    tout, tproduct = torch.empty_like(tx), torch.empty(a.shape[0], b.shape[1])
    return {"hand-off (empty parts)": None,
            "exp": median_ms(lambda: torch.exp(tx, out=tout), repeats=repeats),
            "copy": median_ms(lambda: tout.copy_(tx), repeats=repeats),
            "matmul 256x256 @ 256x120": median_ms(lambda: torch.mm(ta, tb, out=tproduct),
                                                  repeats=repeats)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="the split's thread count")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    args = parser.parse_args()
    if args.threads < 2:
        parser.error(f"--threads must be at least 2 to compare with 1, got {args.threads}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    out = np.empty_like(x)
    a = rng.standard_normal((256, 256), dtype=np.float32)
    b = rng.standard_normal((256, 120), dtype=np.float32)
    print(f"round trip to a Python thread through a queue: {round_trip_us(args.repeats):.0f} µs")
    before = tg.get_num_threads()
    try:
        mine = {n: ours(n, x, out, a, b, args.repeats) for n in (1, args.threads)}
    finally:
        tg.set_num_threads(before)
    theirs = {n: None if args.no_torch else torch_figures(n, x, a, b, args.repeats)
              for n in (1, args.threads)}
    n = args.threads
    print(f"{'median ms':>26} {'ours 1':>8} {f'ours {n}':>8} {'gain':>6} "
          f"{'torch 1':>8} {f'torch {n}':>8} {'gain':>6}")
    for name in mine[1]:
        row = f"{name:>26} {mine[1][name]:8.3f} {mine[n][name]:8.3f} "
        row += f"{mine[1][name] / mine[n][name]:5.2f}x" if name != "hand-off (empty parts)" else "     -"
        if theirs[1] is not None and theirs[1][name] is not None:
            row += (f" {theirs[1][name]:8.3f} {theirs[n][name]:8.3f} "
                    f"{theirs[1][name] / theirs[n][name]:5.2f}x")
        print(row)


if __name__ == "__main__":
    main()
