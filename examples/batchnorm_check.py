"""The check this project is built around, printed the way the classic assignment prints it.

For a random (N, D) and (N, C, H, W) batch in float64 and a RANDOM upstream gradient dout, the
relative error of the fused batch norm's dx, dgamma, dbeta against (a) central differences and
(b) the autograd of the composed reference; the same for layer norm; then the same two checks
for the SECOND derivatives (the hand-derived double backward of ops/norm_grad.py); then the
fused-vs-composed forward+backward speedup in float32.

    python examples/batchnorm_check.py

Errors around 1e-8 or below (float64) mean the backward is right; around 1e-2 means a term is
missing. A `sum()` upstream gradient would hide such bugs: see README.md.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import relative_error  # noqa: E402
from tinygrad_bn.nn import reference  # noqa: E402


def numeric_gradient(f, x, dout, h=1e-5):
    """Central differences of Σ f()·dout with respect to the array x (perturbed in place)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = (f() * dout).sum()
        x[i] = old - h
        minus = (f() * dout).sum()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check(name, fused, composed, shape, param_shape, rng):
    x = tg.tensor(rng.standard_normal(shape) * 3 + 5, requires_grad=True)  # not centred, not unit
    gamma = tg.tensor(rng.standard_normal(param_shape), requires_grad=True)
    beta = tg.tensor(rng.standard_normal(param_shape), requires_grad=True)
    dout = rng.standard_normal(shape)

    def grads(fn):
        for t in (x, gamma, beta):
            t.grad = None
        fn(x, gamma, beta).backward(dout)
        return [t.grad.numpy() for t in (x, gamma, beta)]

    analytic, autograd = grads(fused), grads(composed)

    def forward():
        with tg.no_grad():
            return fused(x, gamma, beta).numpy()
    numeric = [numeric_gradient(forward, t.array, dout) for t in (x, gamma, beta)]
    print(f"\n{name}, input {shape}, float64, random upstream gradient")
    print(f"  {'':8}{'vs central differences':>26}{'vs composed autograd':>24}")
    for label, a, n, c in zip(("dx", "dgamma", "dbeta"), analytic, numeric, autograd):
        print(f"  {label:8}{relative_error(a, n):26.2e}{relative_error(a, c):24.2e}")


def check_second_order(name, fused, composed, shape, param_shape, rng):
    """Second derivatives of L = <f(x, γ, β), dout> projected on random directions U of the first
    derivatives: the gradient of S = Σ <∂L/∂input, U> with respect to x, γ and dout."""
    x = tg.tensor(rng.standard_normal(shape) * 3 + 5, requires_grad=True)
    gamma = tg.tensor(rng.standard_normal(param_shape), requires_grad=True)
    beta = tg.tensor(rng.standard_normal(param_shape), requires_grad=True)
    dout = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    U = [rng.standard_normal(t.shape) for t in (x, gamma, beta)]

    def projected_first(fn, create_graph):
        grads = tg.autograd.grad(fn(x, gamma, beta), [x, gamma, beta], dout, create_graph=create_graph)
        return sum((g * tg.tensor(u)).sum() for g, u in zip(grads, U))

    def second(fn):
        return [t.numpy() for t in tg.autograd.grad(projected_first(fn, True), [x, gamma, dout])]

    analytic, composed_ = second(fused), second(composed)

    def S():
        return projected_first(fused, False).numpy()
    numeric = [numeric_gradient(S, t.array, np.ones(())) for t in (x, gamma, dout)]
    print(f"\n{name}, second derivatives (of <f, dout> along random U)")
    print(f"  {'':10}{'vs central differences':>24}{'vs composed autograd':>24}")
    for label, a, n, c in zip(("d2/dx", "d2/dgamma", "d2/ddout"), analytic, numeric, composed_):
        print(f"  {label:10}{relative_error(a, n):24.2e}{relative_error(a, c):24.2e}")


def speed(name, fused, composed, shape, param_shape, repeats=20):
    x = tg.randn(*shape, requires_grad=True)
    gamma, beta = tg.ones(*param_shape, requires_grad=True), tg.zeros(*param_shape, requires_grad=True)
    dout = tg.randn(*shape).array
    times = {}
    for label, fn in (("fused", fused), ("composed", composed)):
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(x, gamma, beta).backward(dout)
            samples.append(time.perf_counter() - start)
        times[label] = np.median(samples) * 1e3
    print(f"  {name} {shape} float32 forward+backward: fused {times['fused']:.2f} ms, "
          f"composed {times['composed']:.2f} ms, speedup {times['composed'] / times['fused']:.1f}x")


def main():
    rng = np.random.default_rng(0)
    tg.manual_seed(0)

    def bn(impl):
        return lambda x, g, b: impl(x, None, None, g, b, training=True)

    def ln(impl, normalized):
        return lambda x, g, b: impl(x, normalized, g, b)

    check("batch norm (N, D)", bn(F.batch_norm), bn(reference.batch_norm), (4, 5), (5,), rng)
    check("batch norm (N, C, H, W)", bn(F.batch_norm), bn(reference.batch_norm), (3, 2, 3, 2), (2,), rng)
    check("layer norm (N, D)", ln(F.layer_norm, 5), ln(reference.layer_norm, 5), (4, 5), (5,), rng)
    check_second_order("batch norm (N, D)", bn(F.batch_norm), bn(reference.batch_norm), (4, 5), (5,), rng)
    check_second_order("batch norm (N, C, H, W)", bn(F.batch_norm), bn(reference.batch_norm),
                       (3, 2, 3, 2), (2,), rng)
    check_second_order("layer norm (N, D)", ln(F.layer_norm, 5), ln(reference.layer_norm, 5),
                       (4, 5), (5,), rng)
    print("\nspeed")
    speed("batch norm", bn(F.batch_norm), bn(reference.batch_norm), (256, 6, 24, 24), (6,))
    speed("batch norm", bn(F.batch_norm), bn(reference.batch_norm), (256, 120), (120,))
    speed("layer norm", ln(F.layer_norm, 100), ln(reference.layer_norm, 100), (256, 100), (100,))


if __name__ == "__main__":
    main()
