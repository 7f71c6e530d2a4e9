"""Second derivatives, three ways learners meet them, each checked as it goes.

    python examples/higher_order.py

1. Newton's method on a 1-D function: x ← x − f'(x)/f''(x), with f' and f'' from the autograd
   (``backward(create_graph=True)`` makes the first derivative differentiable).
2. A Hessian-vector product of LeNet-BN's loss, H·v = ∇(∇L · v), computed without ever forming H,
   checked against central differences of the gradient, (∇L(θ + εv) − ∇L(θ − εv)) / 2ε.
   It goes through convolutions, pooling, sigmoids and batch norm in training mode: every op's
   double backward, batch norm's derived by hand (tinygrad_bn/ops/norm_grad.py). The pooling is
   average pooling, as in Dive into Deep Learning's LeNet-BN: max pooling is right too, but it
   has kinks, and among thousands of windows one whose two largest values are closer than the
   step switches its maximum between θ ± εv, so the difference quotient jumps there.
3. A gradient-penalty training step: the loss includes λ·(‖∇ₓ f(x)‖ − 1)², so its gradient with
   respect to the weights goes through a gradient (as in WGAN-GP); the weights' gradient is
   checked against central differences, then a few SGD steps show the penalty falling.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import autograd, nn, optim  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402


def newton():
    """Minimise f(x) = x⁴ − 3x³ + 2 (its minimum is at x = 9/4, where f'(x) = 4x³ − 9x² = 0)."""
    print("1. Newton's method on f(x) = x^4 - 3x^3 + 2, from x = 4")
    x = tg.tensor(4.0, dtype=tg.float64, requires_grad=True)
    for step in range(8):
        f = x ** 4 - 3 * x ** 3 + 2
        (df,) = autograd.grad(f, x, create_graph=True)   # f'(x), itself differentiable
        (d2f,) = autograd.grad(df, x)                     # f''(x)
        with tg.no_grad():
            x -= df / d2f
        print(f"   step {step + 1}: x = {x.item():.12f}   f'(x) = {df.item():+.3e}")
    assert abs(x.item() - 9 / 4) < 1e-12
    print(f"   the minimum is at 9/4 = {9 / 4}")


def parameters_as_vector(params):
    return np.concatenate([p.numpy().ravel() for p in params])


def hessian_vector_product(seed=0):
    print("\n2. Hessian-vector product of LeNet-BN's loss (float64, batch 8, BN in training mode)")
    tg.manual_seed(seed)
    model = lenet(pool="avg").double()
    params = list(model.parameters())
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.random((8, 1, 28, 28)))
    y = tg.tensor(rng.integers(0, 10, 8))
    v = [tg.tensor(rng.standard_normal(p.shape)) for p in params]

    def loss():
        return F.cross_entropy(model(x), y)

    grads = autograd.grad(loss(), params, create_graph=True)
    hv = autograd.grad(sum((g * d).sum() for g, d in zip(grads, v)), params)  # ∇(∇L · v)
    analytic = np.concatenate([h.numpy().ravel() for h in hv])

    def gradient_at(shift):  # ∇L at θ + shift·v (batch norm's running statistics are restored)
        buffers = {name: b.numpy().copy() for name, b in model.named_buffers()}
        with tg.no_grad():
            for p, d in zip(params, v):
                p += shift * d
        g = parameters_as_vector(autograd.grad(loss(), params))
        with tg.no_grad():
            for p, d in zip(params, v):
                p -= shift * d
            for name, b in model.named_buffers():
                b.copy_(tg.tensor(buffers[name]))
        return g

    eps = 1e-6
    numeric = (gradient_at(eps) - gradient_at(-eps)) / (2 * eps)
    error = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
    print(f"   {analytic.size} parameters; |Hv| = {np.linalg.norm(analytic):.4f}; "
          f"|Hv - central differences| / |central differences| = {error:.2e}")
    assert error < 1e-6, error
    return error


def gradient_penalty(seed=0, steps=30, lam=1.0):
    print("\n3. A gradient-penalty training step: loss = CE + λ·(‖∇x logits‖ - 1)^2")
    tg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 32), nn.LayerNorm(32), nn.Tanh(), nn.Linear(32, 3)).double()
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((16, 6)), requires_grad=True)
    y = tg.tensor(rng.integers(0, 3, 16))

    def losses():
        logits = model(x)
        (dx,) = autograd.grad(logits.sum(), x, create_graph=True)      # ∇x, with its own graph
        penalty = ((dx * dx).sum(1).sqrt() - 1) ** 2
        return F.cross_entropy(logits, y), penalty.mean()

    # the weights' gradient goes through ∇x: check one weight against central differences
    w = model[0].weight
    task, penalty = losses()
    (analytic,) = autograd.grad(task + lam * penalty, w)
    i = (3, 2)
    numeric = []
    for shift in (1e-6, -1e-6):
        with tg.no_grad():
            w[i] += shift
        numeric.append(sum(t.item() for t in losses()))
        with tg.no_grad():
            w[i] -= shift
    numeric = (numeric[0] - numeric[1]) / 2e-6
    print(f"   d(loss)/d w{list(i)}: autograd {analytic.numpy()[i]:.8f}, central differences {numeric:.8f}")
    assert abs(analytic.numpy()[i] - numeric) < 1e-6 * max(1, abs(numeric))

    opt = optim.SGD(model.parameters(), lr=0.1)
    first = None
    for step in range(steps):
        task, penalty = losses()
        opt.zero_grad()
        (task + lam * penalty).backward()
        opt.step()
        first = first or (task.item(), penalty.item())
    print(f"   {steps} SGD steps: cross-entropy {first[0]:.4f} -> {task.item():.4f}, "
          f"penalty {first[1]:.4f} -> {penalty.item():.4f}")
    assert task.item() < first[0] and penalty.item() < first[1]


def main():
    newton()
    hessian_vector_product()
    gradient_penalty()


if __name__ == "__main__":
    main()
