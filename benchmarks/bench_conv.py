"""Forward and forward+backward time of LeNet's convolution and pooling layers (batch 256, float32):
the reference ops, each fast variant, and PyTorch's layers when PyTorch is importable.

    python benchmarks/bench_conv.py [--device cpu|cuda] [--batch-size 256] [--threads 2] [--no-torch]

Layers: LeNet-5 as in the 1998 paper on 28×28 MNIST (conv 1→6 5×5 padding 2, max pool 2 on
6×28×28, conv 6→16 5×5 on 14×14, max pool 2 on 16×10×10) and tinygrad_bn.models.lenet (the same
without the padding). The first convolution's input needs no gradient, as a first layer's.

Variants (the same math; see tinygrad_bn/ops/conv.py and tinygrad_bn/fast/):
  reference            ops/conv.py, ops/pool.py: NCHW im2col + one product; a max over the patch view
  fast                 what tinygrad_bn.dispatch picks (on the CPU: a fast/ variant)
  batch inner          fast/conv_batch_inner.py forced, whatever the output width
  per sample           fast/conv_per_sample.py forced, whatever the output width
  PyTorch              torch.nn.functional, same threads
"saved MB" is what the layer's graph keeps for backward (benchmarks/common.saved_nbytes).
"""
import argparse
import os
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (ours and PyTorch's)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per block")
    p.add_argument("--blocks", type=int, default=3, help="alternating blocks per variant")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    return p.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import dispatch  # noqa: E402
from tinygrad_bn.fast import conv_batch_inner  # noqa: E402
from common import saved_nbytes, synchronize  # noqa: E402

tg.set_num_threads(ARGS.threads)
torch = None
if not ARGS.no_torch:
    try:
        import torch
        torch.set_num_threads(ARGS.threads)
    except ImportError:
        pass


def reference(fn):
    def run(*args):
        with dispatch.reference_only():
            return fn(*args)
    return run


def forced(batch_inner_below, fn):
    """`fn` with the width rule that picks the conv variant set for the call (forward makes the
    choice, and the graph node keeps it for backward)."""
    def run(*args):
        saved, conv_batch_inner.BATCH_INNER_BELOW = conv_batch_inner.BATCH_INNER_BELOW, batch_inner_below
        try:
            return fn(*args)
        finally:
            conv_batch_inner.BATCH_INNER_BELOW = saved
    return run


def conv_variants(padding):
    conv = lambda x, w, b: F.conv2d(x, w, b, padding=padding)  # noqa: E731
    variants = {"reference": reference(conv), "fast": conv}
    if ARGS.device == "cpu":
        variants.update({"batch inner": forced(10**9, conv), "per sample": forced(0, conv)})
    return variants


def pool_variants():
    pool = lambda x: F.max_pool2d(x, 2)  # noqa: E731
    return {"reference": reference(pool), "fast": pool}


def torch_time(x_shape, params, needs_x_grad, padding):
    """(forward ms, forward+backward ms) of PyTorch's layer, best of the same runs."""
    dev = "cuda" if ARGS.device == "cuda" else "cpu"
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal(x_shape).astype(np.float32), device=dev,
                     requires_grad=needs_x_grad)
    ps = [torch.tensor(p, device=dev, requires_grad=True) for p in params]
    fn = (lambda: torch.nn.functional.max_pool2d(x, 2)) if padding is None else \
        (lambda: torch.nn.functional.conv2d(x, *ps, padding=padding))
    grad = torch.randn_like(fn())
    best = [float("inf"), float("inf")]
    for _ in range(ARGS.blocks):
        for run in range(ARGS.repeats + 1):
            sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
            sync()
            start = time.perf_counter()
            with torch.no_grad():
                fn()
            sync()
            middle = time.perf_counter()
            fn().backward(grad)
            sync()
            end = time.perf_counter()
            if run:
                best[0] = min(best[0], (middle - start) * 1e3)
                best[1] = min(best[1], (end - middle) * 1e3)
    return best


def time_variants(variants, x_shape, params, needs_x_grad, device):
    """{name: (forward ms, forward+backward ms, bytes saved for backward)} of each fn(x, *params).

    The variants are timed in alternating blocks (A's runs, B's runs, A's runs, ...) so that all
    see the same machine conditions, each block in its own steady state (interleaving single
    calls instead lets each variant inherit the caches and free memory of the one before).
    Each figure is the best run: on a shared machine, other processes only ever add time.
    """
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal(x_shape).astype(np.float32), device=device,
                  requires_grad=needs_x_grad)
    params = [tg.tensor(p, device=device, requires_grad=True) for p in params]
    out = next(iter(variants.values()))(x, *params)
    grad = tg.tensor(rng.standard_normal(out.shape).astype(np.float32), device=device)
    best = {name: [float("inf"), float("inf"), saved_nbytes(fn(x, *params))]
            for name, fn in variants.items()}
    for _ in range(ARGS.blocks):
        for name, fn in variants.items():
            for run in range(ARGS.repeats + 1):  # the first run of a block warms up
                synchronize(device)
                start = time.perf_counter()
                with tg.no_grad():
                    fn(x, *params)
                synchronize(device)
                middle = time.perf_counter()
                for t in (x, *params):
                    t.grad = None
                fn(x, *params).backward(grad)
                synchronize(device)
                end = time.perf_counter()
                if run:
                    best[name][0] = min(best[name][0], (middle - start) * 1e3)
                    best[name][1] = min(best[name][1], (end - middle) * 1e3)
    return best


def main():
    N, device = ARGS.batch_size, ARGS.device
    rng = np.random.default_rng(1)

    def conv_params(o, c, k):
        return [(rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32),
                rng.standard_normal(o).astype(np.float32)]

    w1, w2 = conv_params(6, 1, 5), conv_params(16, 6, 5)
    nets = {
        "LeNet-5 (conv1 padded to keep 28x28)": [
            ("conv 1->6 5x5 pad 2, 28x28", (N, 1, 28, 28), w1, False, 2),
            ("max_pool 2 on 6x28x28", (N, 6, 28, 28), [], True, None),
            ("conv 6->16 5x5, 14x14", (N, 6, 14, 14), w2, True, 0),
            ("max_pool 2 on 16x10x10", (N, 16, 10, 10), [], True, None)],
        "tinygrad_bn.models.lenet (no padding)": [
            ("conv 1->6 5x5, 28x28", (N, 1, 28, 28), w1, False, 0),
            ("max_pool 2 on 6x24x24", (N, 6, 24, 24), [], True, None),
            ("conv 6->16 5x5, 12x12", (N, 6, 12, 12), w2, True, 0),
            ("max_pool 2 on 16x8x8", (N, 16, 8, 8), [], True, None)],
    }
    print(f"device={device}, batch {N}, float32, {ARGS.threads} threads; "
          f"best of {ARGS.blocks} alternating blocks x {ARGS.repeats} runs")
    for net, layers in nets.items():
        print(f"\n{net}")
        print(f"{'layer':28s} {'variant':12s} {'fwd ms':>7s} {'fwd+bwd ms':>10s} {'saved MB':>9s}")
        totals = {}
        for name, shape, params, needs_x, padding in layers:
            variants = pool_variants() if padding is None else conv_variants(padding)
            timings = time_variants(variants, shape, params, needs_x, device)
            if torch is not None:
                timings["PyTorch"] = (*torch_time(shape, params, needs_x, padding), None)
            for variant, (fwd, both, saved) in timings.items():
                saved = "" if saved is None else f"{saved / 2**20:9.1f}"
                print(f"{name:28s} {variant:12s} {fwd:7.2f} {both:10.2f} {saved:>9s}")
                key = variant if variant in ("reference", "fast", "PyTorch") else None
                if key:
                    totals[key] = totals.get(key, 0.0) + both
        for variant, total in totals.items():
            print(f"{'total conv+pool':28s} {variant:12s} {'':7s} {total:10.2f}")


if __name__ == "__main__":
    main()
