"""Forward and forward+backward time of LeNet's convolution and pooling layers (batch 256, float32),
and the design choices of tinygrad_bn.ops.conv.Conv2d measured against the alternatives.

    python benchmarks/bench_conv.py [--device cpu|cuda] [--batch-size 256] [--threads 2]

Layers: LeNet-5 as in the 1998 paper on 28×28 MNIST (conv 1→6 5×5 padding 2, max pool 2 on
6×28×28, conv 6→16 5×5 on 14×14, max pool 2 on 16×10×10) and tinygrad_bn.models.lenet (the same
without the padding). The first convolution's input needs no gradient, as a first layer's.

Convolution variants (the product and the math are the same, only the memory layout and what
is kept for backward differ):
  batch-last (library)    padded input (C, Hp, Wp, N), columns (C, kH, kW, OH, OW, N): long
                          contiguous runs in im2col/col2im, but full transposes of the output and
                          of its gradient; saves the input and rebuilds the columns in backward
  batch-last, cols saved  the same, keeping the columns for backward (kH·kW times the input)
  NCHW, cols saved        columns (C, kH, kW, N, OH, OW): the product comes out (O, N, OH, OW),
                          one cheap axis swap from NCHW, but im2col/col2im copy runs of only OW
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
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0)):
        xp = ctx.xp
        N, _, H, W = x.shape
        O, _, kh, kw = weight.shape
        out_size = _out_size((H, W), (kh, kw), stride, padding)
        cols = C.im2col(xp, C._pad_batch_last(xp, x, padding), (kh, kw), stride, (1, 1), out_size)
        cols = cols.reshape(-1, out_size[0] * out_size[1] * N)
        out = weight.reshape(O, -1) @ cols
        out += bias[:, None]
        ctx.save_for_backward(cols, weight)
        ctx.geometry = x.shape, stride, padding, out_size
        return C._batch_first(xp, out.reshape(O, *out_size, N))

    @staticmethod
    def backward(ctx, grad):
        cols, weight = ctx.saved_tensors
        (N, Cin, H, W), stride, padding, out_size = ctx.geometry
        xp = ctx.xp
        O, _, kh, kw = weight.shape
        g = xp.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(O, -1)
        dx = None
        if ctx.needs_input_grad[0]:
            (ph, pw), dcols = padding, weight.reshape(O, -1).T @ g
            dxt = C.col2im(xp, dcols.reshape(Cin, kh, kw, *out_size, N),
                           (Cin, H + 2 * ph, W + 2 * pw, N), stride, (1, 1))
            dx = C._batch_first(xp, dxt[:, ph:ph + H, pw:pw + W])
        return dx, (g @ cols.T).reshape(weight.shape), g.sum(axis=1)


class Conv2dNCHW(tg.Function):
    """The same convolution with the batch outside the pixels: columns (C, kH, kW, N, OH, OW),
    built from the NCHW input directly; saves the columns (groups=1, no dilation)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0)):
        xp = ctx.xp
        N, Cin, H, W = x.shape
        O, _, kh, kw = weight.shape
        out_size = _out_size((H, W), (kh, kw), stride, padding)
        (ph, pw), kernel = padding, (kh, kw)
        xpad = xp.zeros((N, Cin, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + H, pw:pw + W] = x
        cols = xp.empty((Cin, kh, kw, N, *out_size), dtype=x.dtype)
        for i, j, rows, columns in _taps(kernel, stride, out_size):
            cols[:, i, j] = xpad[:, :, rows, columns].swapaxes(0, 1)
        cols = cols.reshape(Cin * kh * kw, -1)
        out = weight.reshape(O, -1) @ cols
        out += bias[:, None]
        ctx.save_for_backward(cols, weight)
        ctx.geometry = x.shape, stride, padding, out_size
        return xp.ascontiguousarray(out.reshape(O, N, *out_size).swapaxes(0, 1))

    @staticmethod
    def backward(ctx, grad):
        cols, weight = ctx.saved_tensors
        (N, Cin, H, W), stride, padding, out_size = ctx.geometry
        xp = ctx.xp
        O, _, kh, kw = weight.shape
        g = xp.ascontiguousarray(grad.swapaxes(0, 1)).reshape(O, -1)
        dx = None
        if ctx.needs_input_grad[0]:
            (ph, pw), kernel = padding, (kh, kw)
            dcols = (weight.reshape(O, -1).T @ g).reshape(Cin, kh, kw, N, *out_size)
            dxpad = xp.zeros((N, Cin, H + 2 * ph, W + 2 * pw), dtype=grad.dtype)
            for i, j, rows, columns in _taps(kernel, stride, out_size):
                dxpad[:, :, rows, columns] += dcols[:, i, j].swapaxes(0, 1)
            dx = dxpad[:, :, ph:ph + H, pw:pw + W]
        return dx, (g @ cols.T).reshape(weight.shape), g.sum(axis=1)


def _out_size(size, kernel, stride, padding):
    return tuple(C.conv_output_size(n, k, s, p) for n, k, s, p in zip(size, kernel, stride, padding))


def _taps(kernel, stride, out_size):
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield (i, j, *C._tap(i, j, stride, (1, 1), out_size))


LIBRARY = "batch-last (library)"


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
                variants = {
                    LIBRARY: lambda x, w, b, p=padding: C.conv2d(x, w, b, padding=p),
                    "batch-last, cols saved": lambda x, w, b, p=padding: Conv2dSavedColumns.apply(
                        x, w, b, padding=(p, p)),
                    "NCHW, cols saved": lambda x, w, b, p=padding: Conv2dNCHW.apply(
                        x, w, b, padding=(p, p)),
                }
            timings = time_variants(variants, shape, params, needs_x, device)
            for variant, (fwd, both, saved) in timings.items():
                print(f"{name:28s} {variant:22s} {fwd:7.2f} {both:10.2f} {saved / 2**20:9.1f}")
                for key in ([variant] if variant else [LIBRARY, "batch-last, cols saved",
                                                       "NCHW, cols saved"]):
                    totals[key] = totals.get(key, 0.0) + both
        for variant, total in totals.items():
            print(f"{'total conv+pool':28s} {variant:22s} {'':7s} {total:10.2f}")


if __name__ == "__main__":
    main()
