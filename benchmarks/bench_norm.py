"""Fused vs composed batch norm: forward + backward time and the bytes kept for backward.

    python benchmarks/bench_norm.py [--device cpu|cuda] [--repeats 20]

Shapes are LeNet-BN's three batch-norm inputs at batch 256, float32, training mode.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/common.py
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn.nn import reference  # noqa: E402
from common import median_ms, saved_nbytes  # noqa: E402

SHAPES = [(256, 6, 24, 24), (256, 16, 8, 8), (256, 120)]


def run(impl, x, w, b, rm, rv, upstream):
    x.grad = w.grad = b.grad = None
    y = impl(x, rm, rv, w, b, training=True)
    y.backward(upstream)
    return y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    tg.manual_seed(0)
    print(f"batch norm, training, float32, forward+backward, device={args.device}, "
          f"median of {args.repeats}")
    print(f"{'shape':>18} {'fused ms':>9} {'ref ms':>9} {'speedup':>8} "
          f"{'fused saved':>12} {'ref saved':>12} {'saved ratio':>11}")
    for shape in SHAPES:
        c = shape[1]
        x = tg.randn(*shape, device=args.device, requires_grad=True)
        w = tg.ones(c, device=args.device, requires_grad=True)
        b = tg.zeros(c, device=args.device, requires_grad=True)
        rm, rv = tg.zeros(c, device=args.device), tg.ones(c, device=args.device)
        upstream = tg.randn(*shape, device=args.device).array
        times, saved = {}, {}
        for name, impl in (("fused", F.batch_norm), ("ref", reference.batch_norm)):
            times[name] = median_ms(lambda: run(impl, x, w, b, rm, rv, upstream), args.device, args.repeats)
            saved[name] = saved_nbytes(impl(x, rm, rv, w, b, training=True))
        print(f"{str(shape):>18} {times['fused']:9.2f} {times['ref']:9.2f} "
              f"{times['ref'] / times['fused']:7.2f}x {saved['fused'] / 2**20:10.2f}MB "
              f"{saved['ref'] / 2**20:10.2f}MB {saved['fused'] / saved['ref']:11.2f}")
        assert np.isfinite(x.grad.numpy()).all()


if __name__ == "__main__":
    main()
