"""Numerical gradient checking by central differences.

The check projects the output onto a RANDOM upstream gradient G: it compares the analytic
gradient of  L(x) = Σ f(x)·G  with  (L(x + εe) − L(x − εe)) / 2ε.  Never G = 1 (the gradient of
``f(x).sum()``): for batch norm in training mode Σ f(x) = N·β whatever x is, so the true gradient
w.r.t. x is exactly zero and a backward that drops whole terms would still pass.

Inputs of up to `FULL_CHECK_MAX` elements are checked element by element (each e is a unit
vector: the full row of the Jacobian-vector product). Larger inputs are checked along
`N_DIRECTIONS` random unit directions e, which costs two evaluations each instead of two per
element; a wrong gradient is caught by any direction not orthogonal to its error.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import autograd, backend
from .autograd import no_grad
from .tensor import Tensor

FULL_CHECK_MAX = 512
N_DIRECTIONS = 24


def relative_error(a, b) -> float:
    """cs231n's relative error: max over elements of |a − b| / max(1e-8, |a| + |b|)."""
    a = backend.to_numpy(a.array if isinstance(a, Tensor) else a).astype(np.float64)
    b = backend.to_numpy(b.array if isinstance(b, Tensor) else b).astype(np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, seed: int = 0) -> bool:
    """Compare the analytic gradients of `fn` at `inputs` with central differences.

    Args:
        fn: a function of the tensors in `inputs` returning a tensor of any shape (or a tuple
            of tensors: each gets its own random upstream gradient).
        inputs (Tensor or sequence): the arguments of `fn`; those with ``requires_grad`` are checked.
        eps (float, optional): the finite-difference step (default: 1e-6).
        atol, rtol (float, optional): an element passes when |analytic − numeric| <=
            atol + rtol·|numeric| (defaults: 1e-5, 1e-3).
        raise_exception (bool, optional): raise on a mismatch instead of returning False (default: True).
        seed (int, optional): seed of the random upstream gradient and directions (default: 0).

    Returns:
        True when every checked gradient agrees.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    if any(t.dtype != np.float64 for t in checked):
        warnings.warn("gradcheck: inputs are not float64; central differences in lower precision "
                      "are unreliable", stacklevel=2)
    rng = np.random.default_rng(seed)

    # analytic: one backward of Σ_k <out_k, G_k>, with a random upstream gradient G_k per output
    for t in checked:
        t.grad = None
    outs = _as_tuple(fn(*inputs))
    xp = backend.get_array_module(outs[0].device)
    G = [xp.asarray(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]
    projected = [(o * Tensor._wrap(g)).sum() for o, g in zip(outs, G) if o.requires_grad]
    if projected:
        sum(projected[1:], projected[0]).backward()

    def loss():
        with no_grad():
            return sum(float((o.array * g).sum()) for o, g in zip(_as_tuple(fn(*inputs)), G))

    for t in checked:
        analytic = backend.to_numpy(t.grad.array if t.grad is not None else xp.zeros(t.shape, t.dtype))
        x = t.array  # perturbed in place, restored from `original` (x + e - 2e + e may round off)
        original = x.copy()
        if x.size <= FULL_CHECK_MAX:
            labels = [tuple(int(i) for i in np.unravel_index(i, x.shape)) for i in range(x.size)]
            directions = [None] * x.size
        else:
            directions = [rng.standard_normal(x.shape) for _ in range(N_DIRECTIONS)]
            directions = [d / np.linalg.norm(d) for d in directions]
            labels = [f"random direction {i}" for i in range(N_DIRECTIONS)]
        numeric, expected = [], []
        for label, d in zip(labels, directions):
            step = xp.zeros(x.shape, dtype=x.dtype)
            if d is None:
                step[label] = eps
                expected.append(analytic[label])
            else:
                step += xp.asarray(d * eps, dtype=x.dtype)
                expected.append(float((analytic * d).sum()))
            x[...] = original + step
            plus = loss()
            x[...] = original - step
            minus = loss()
            x[...] = original
            numeric.append((plus - minus) / (2 * eps))
        numeric, expected = np.array(numeric), np.array(expected)
        bad = np.abs(expected - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            worst = int(np.argmax(np.abs(expected - numeric) - rtol * np.abs(numeric)))
            position = next(i for i, u in enumerate(inputs) if u is t)
            name = f"input {position} of shape {t.shape}"
            msg = (f"gradcheck failed for {name} at {labels[worst]}: analytic {expected[worst]:.6g}, "
                   f"numeric {numeric[worst]:.6g}, relative error "
                   f"{relative_error(expected[worst], numeric[worst]):.3g} "
                   f"({int(bad.sum())} of {bad.size} checks failed)")
            if raise_exception:
                raise AssertionError(msg)
            return False
    return True


def _as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: ``gradcheck`` of the first backward.

    The first backward is the function (inputs, grad_outputs) -> ∂<fn(inputs), grad_outputs>/∂inputs,
    computed by ``autograd.grad(..., create_graph=True)``; its own gradients (the second
    derivatives) are compared with central differences with respect to the inputs AND the
    grad_outputs, under a random upstream gradient, exactly as ``gradcheck`` does.

    Args:
        fn, inputs, eps, atol, rtol, raise_exception, seed: as in ``gradcheck``.
        grad_outputs (Tensor or sequence, optional): the upstream gradients of fn's outputs
            (default: random normal ones, which require grad so that they are checked too).

    Returns:
        True when every second derivative agrees.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    wrt_ids = {id(t) for t in wrt}
    outs = _as_tuple(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        xp = backend.get_array_module(outs[0].device)
        grad_outputs = tuple(Tensor._wrap(xp.asarray(rng.standard_normal(o.shape).astype(o.dtype)),
                                          requires_grad=True) for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_backward(*args):
        ins, gos = args[:n], args[n:]
        with autograd.enable_grad():  # gradcheck evaluates it under no_grad for its differences
            grads = autograd.grad(_as_tuple(fn(*ins)), [t for t in ins if id(t) in wrt_ids], gos,
                                  create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor._wrap(backend.get_array_module(t.device).zeros(
            t.shape, t.dtype)) for g, t in zip(grads, wrt))

    return gradcheck(first_backward, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)
