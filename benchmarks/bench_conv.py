"""Forward and forward+backward time of LeNet's convolution and pooling layers (batch 256, float32),
with the library's batch-last im2col against the plain NCHW im2col layout.

    python benchmarks/bench_conv.py [--device cpu|cuda] [--batch-size 256] [--threads 2]

Layers (as in LeNet-5 on 28×28 MNIST): conv 1→6 5×5 padding 2 (its input needs no gradient, as
a first layer's), max pool 2 on 6×28×28, conv 6→16 5×5 on 14×14, max pool 2 on 16×10×10.

The two convolution layouts differ only in where the batch axis sits in the column matrix:
  batch-last  (C, kH, kW, OH, OW, N)  tinygrad_bn.ops.conv.Conv2d: long contiguous runs in
              im2col/col2im, a transpose back to NCHW after the product
  NCHW        (C, kH, kW, N, OH, OW)  ``Conv2dNCHW`` below: runs of only OW numbers in
              im2col/col2im, a cheap axis swap after the product
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
    p.add_argument("--repeats", type=int, default=30)
    return p.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn.ops import conv as C  # noqa: E402
from common import synchronize  # noqa: E402


def best_ms(fn, device, repeats, warmup=3):
    """The fastest of `repeats` runs, in ms: on a shared machine the minimum is the stable figure
    (other processes only ever add time)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


class Conv2dNCHW(tg.Function):
    """The same convolution with the columns in NCHW order, (C, kH, kW, N, OH, OW): the layout
    the library does NOT use, kept here to measure the choice (groups=1, no dilation)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0)):
        xp = ctx.xp
        N, Cin, H, W = x.shape
        O, _, kh, kw = weight.shape
        out_size = tuple(C.conv_output_size(n, k, s, p) for n, k, s, p in
                         zip((H, W), (kh, kw), stride, padding))
        xpad = _pad_channel_first(xp, x, padding)            # (C, N, Hp, Wp)
        cols = _im2col_nchw(xp, xpad, (kh, kw), stride, out_size)
        out = weight.reshape(O, -1) @ cols.reshape(Cin * kh * kw, -1)
        out += bias[:, None]
        ctx.save_for_backward(x, weight)
        ctx.geometry = stride, padding, out_size
        return xp.ascontiguousarray(out.reshape(O, N, *out_size).transpose(1, 0, 2, 3))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, out_size = ctx.geometry
        xp = ctx.xp
        N, Cin, H, W = x.shape
        O, _, kh, kw = weight.shape
        g = xp.ascontiguousarray(grad.transpose(1, 0, 2, 3)).reshape(O, -1)
        db = g.sum(axis=1)
        xpad = _pad_channel_first(xp, x, padding)
        cols = _im2col_nchw(xp, xpad, (kh, kw), stride, out_size).reshape(Cin * kh * kw, -1)
        dw = (g @ cols.T).reshape(weight.shape)
        dx = None
        if ctx.needs_input_grad[0]:
            dcols = (weight.reshape(O, -1).T @ g).reshape(Cin, kh, kw, N, *out_size)
            dxpad = xp.zeros(xpad.shape, dtype=grad.dtype)
            for i in range(kh):
                for j in range(kw):
                    rows, columns = C._tap(i, j, stride, (1, 1), out_size)
                    dxpad[:, :, rows, columns] += dcols[:, i, j]
            ph, pw = padding
            dx = xp.ascontiguousarray(dxpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3))
        return dx, dw, db


def _pad_channel_first(xp, x, padding):
    N, Cin, H, W = x.shape
    ph, pw = padding
    xpad = xp.zeros((Cin, N, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + W] = x.transpose(1, 0, 2, 3)
    return xpad


def _im2col_nchw(xp, xpad, kernel_size, stride, out_size):
    kh, kw = kernel_size
    cols = xp.empty((xpad.shape[0], kh, kw, xpad.shape[1], *out_size), dtype=xpad.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = C._tap(i, j, stride, (1, 1), out_size)
            cols[:, i, j] = xpad[:, :, rows, columns]
    return cols


def time_layer(fn, x_shape, params, needs_x_grad, device):
    """(forward ms, forward+backward ms) of fn(x, *params), best of ARGS.repeats."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal(x_shape).astype(np.float32), device=device,
                  requires_grad=needs_x_grad)
    params = [tg.tensor(p, device=device, requires_grad=True) for p in params]
    out = fn(x, *params)
    grad = tg.tensor(rng.standard_normal(out.shape).astype(np.float32), device=device)

    def forward():
        with tg.no_grad():
            fn(x, *params)

    def forward_backward():
        for t in (x, *params):
            t.grad = None
        fn(x, *params).backward(grad)

    return best_ms(forward, device, ARGS.repeats), best_ms(forward_backward, device, ARGS.repeats)


def main():
    N, device = ARGS.batch_size, ARGS.device
    rng = np.random.default_rng(1)

    def conv_params(o, c, k):
        return [(rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32),
                rng.standard_normal(o).astype(np.float32)]

    w1, w2 = conv_params(6, 1, 5), conv_params(16, 6, 5)
    layers = [
        ("conv 1->6 5x5 pad 2, 28x28", (N, 1, 28, 28), w1, False, 2),
        ("max_pool 2 on 6x28x28", (N, 6, 28, 28), [], True, None),
        ("conv 6->16 5x5, 14x14", (N, 6, 14, 14), w2, True, 0),
        ("max_pool 2 on 16x10x10", (N, 16, 10, 10), [], True, None),
    ]
    print(f"device {device}, batch {N}, float32, {ARGS.threads} BLAS threads; best of {ARGS.repeats} runs, ms")
    print(f"{'layer':30s} {'layout':11s} {'forward':>8s} {'fwd+bwd':>8s}")
    totals = {"batch-last": 0.0, "NCHW": 0.0}
    for name, shape, params, needs_x, padding in layers:
        if padding is None:
            fwd, both = time_layer(lambda x: C.max_pool2d(x, 2), shape, params, needs_x, device)
            print(f"{name:30s} {'':11s} {fwd:8.2f} {both:8.2f}")
            for k in totals:
                totals[k] += both
            continue
        variants = {
            "batch-last": lambda x, w, b, p=padding: C.conv2d(x, w, b, padding=p),
            "NCHW": lambda x, w, b, p=padding: Conv2dNCHW.apply(x, w, b, padding=(p, p)),
        }
        for layout, fn in variants.items():
            fwd, both = time_layer(fn, shape, params, needs_x, device)
            totals[layout] += both
            print(f"{name:30s} {layout:11s} {fwd:8.2f} {both:8.2f}")
    for layout, total in totals.items():
        print(f"{'total conv+pool fwd+bwd':30s} {layout:11s} {'':8s} {total:8.2f}")


if __name__ == "__main__":
    main()
