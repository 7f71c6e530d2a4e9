"""Forward and forward+backward time of LeNet's convolution and pooling layers (batch 256, float32),
and the design choices of tinygrad_bn.ops.conv.Conv2d measured against the alternatives.

    python benchmarks/bench_conv.py [--device cpu|cuda] [--batch-size 256] [--threads 2]

Layers: LeNet-5 as in the 1998 paper on 28×28 MNIST (conv 1→6 5×5 padding 2, max pool 2 on
6×28×28, conv 6→16 5×5 on 14×14, max pool 2 on 16×10×10) and tinygrad_bn.models.lenet (the same
without the padding). The first convolution's input needs no gradient, as a first layer's.

Convolution variants (the same product and math; only the memory layout and what is kept for
backward differ; see the module docstring of tinygrad_bn/ops/conv.py):
  library              picks the layout per layer: batch innermost when output rows are narrower
                       than conv.BATCH_INNER_BELOW pixels; saves the input, rebuilds the columns
  batch innermost      (C, Hp, Wp, N) input, (C, kH, kW, OH, OW, N) columns, forced
  batch outside        (C, N, Hp, Wp) input, (C, kH, kW, N, OH, OW) columns, forced
  library, cols saved  the library's layout, keeping the columns for backward (kH·kW x the input)
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
    p.add_argument("--threads", type=int, default=2, help="BLAS threads")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per block")
    p.add_argument("--blocks", type=int, default=3, help="alternating blocks per variant")
    return p.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn.ops import conv as C  # noqa: E402
from common import saved_nbytes, synchronize  # noqa: E402


class Conv2dSavedColumns(tg.Function):
    """The library's convolution keeping the columns for backward instead of rebuilding them
    from the input (groups=1, no dilation): one im2col less per step, kH·kW times the memory."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding=(0, 0)):
        xp = ctx.xp
        N, Cin, H, W = x.shape
        O, _, kh, kw = weight.shape
        out_size = (H + 2 * padding[0] - kh + 1, W + 2 * padding[1] - kw + 1)
        inner = C._batch_inner(out_size)
        cols = C.im2col(xp, C._from_nchw(xp, x, padding, inner), (kh, kw), (1, 1), (1, 1),
                        out_size, inner)
        cols = C._as_matrix(cols, Cin * kh * kw, inner)
        out = weight.reshape(O, -1) @ cols
        out += bias[:, None]
        ctx.save_for_backward(cols, weight)
        ctx.geometry = x.shape, padding, out_size, inner
        return C._to_nchw(xp, C._from_matrix(out, (O, *out_size, N), inner), inner)

    @staticmethod
    def backward(ctx, grad):
        cols, weight = ctx.saved_tensors
        (N, Cin, H, W), (ph, pw), out_size, inner = ctx.geometry
        xp = ctx.xp
        O, _, kh, kw = weight.shape
        g = C._empty(xp, (O, *out_size, N), grad.dtype, inner)
        g[...] = grad.transpose(1, 2, 3, 0)
        g = C._as_matrix(g, O, inner)
        dx = None
        if ctx.needs_input_grad[0]:
            dcols = C._from_matrix(weight.reshape(O, -1).T @ g, (Cin, kh, kw, *out_size, N), inner)
            dxt = C.col2im(xp, dcols, (Cin, H + 2 * ph, W + 2 * pw, N), (1, 1), (1, 1), inner)
            dx = C._to_nchw(xp, dxt[:, ph:ph + H, pw:pw + W], inner)
        return dx, (g @ cols.T).reshape(weight.shape), g.sum(axis=1)


def conv_with_layout(batch_inner_below):
    """C.conv2d with the layout rule's threshold set for the call (forward makes the choice and
    keeps it on the graph for backward)."""
    def conv(x, w, b, padding):
        saved, C.BATCH_INNER_BELOW = C.BATCH_INNER_BELOW, batch_inner_below
        try:
            return C.conv2d(x, w, b, padding=padding)
        finally:
            C.BATCH_INNER_BELOW = saved
    return conv


CONV_VARIANTS = {
    "library": lambda x, w, b, p: C.conv2d(x, w, b, padding=p),
    "batch innermost": conv_with_layout(10**9),
    "batch outside": conv_with_layout(0),
    "library, cols saved": lambda x, w, b, p: Conv2dSavedColumns.apply(x, w, b, padding=(p, p)),
}


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
    print(f"device {device}, batch {N}, float32, {ARGS.threads} BLAS threads; "
          f"best of {ARGS.blocks} alternating blocks x {ARGS.repeats} runs")
    for net, layers in nets.items():
        print(f"\n{net}")
        print(f"{'layer':28s} {'variant':22s} {'fwd ms':>7s} {'fwd+bwd ms':>10s} {'saved MB':>9s}")
        totals = {}
        for name, shape, params, needs_x, padding in layers:
            if padding is None:
                variants = {"": lambda x: C.max_pool2d(x, 2)}
            else:
                variants = {name: (lambda x, w, b, fn=fn, p=padding: fn(x, w, b, p))
                            for name, fn in CONV_VARIANTS.items()}
            timings = time_variants(variants, shape, params, needs_x, device)
            for variant, (fwd, both, saved) in timings.items():
                print(f"{name:28s} {variant:22s} {fwd:7.2f} {both:10.2f} {saved / 2**20:9.1f}")
                for key in ([variant] if variant else CONV_VARIANTS):
                    totals[key] = totals.get(key, 0.0) + both
        for variant, total in totals.items():
            print(f"{'total conv+pool':28s} {variant:22s} {'':7s} {total:10.2f}")


if __name__ == "__main__":
    main()
