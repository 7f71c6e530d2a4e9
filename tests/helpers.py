"""One-line checks shared by the test files.

    check_forward(fn_tg, fn_np, *arrays, device=...)   forward vs a direct NumPy computation
    check_grad(fn, *shapes_or_arrays, device=...)     tg.gradcheck in float64 (random upstream grad)
    check_dtype(fn, *shapes_or_arrays, dtype=...)     dtype kept by forward AND by every gradient

`fn_np` may be omitted (None) when the same expression works on NumPy arrays and on Tensors
(``lambda a, b: a * b + 1``).
"""
from __future__ import annotations

import numpy as np

import tinygrad_bn as tg


def _as_arrays(shapes_or_arrays, seed=0, positive=False):
    """Shapes become random float64 arrays; arrays (and Tensors) pass through."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes_or_arrays:
        if isinstance(s, tuple):
            a = rng.standard_normal(s)
            out.append(np.abs(a) + 0.5 if positive else a)
        else:
            out.append(s)
    return out


def check_forward(fn_tg, fn_np, *arrays, device="cpu", rtol=1e-5, atol=1e-5):
    """fn_tg on tensors of `arrays` (float32 where the array is float) matches fn_np on the arrays.

    Returns the output tensor for further checks.
    """
    arrays = [np.asarray(a, dtype=np.float32) if np.asarray(a).dtype == np.float64 else np.asarray(a)
              for a in arrays]
    out = fn_tg(*(tg.tensor(a, device=device) for a in arrays))
    expected = (fn_np or fn_tg)(*arrays)
    assert isinstance(out, tg.Tensor), type(out)
    assert out.device == device
    assert out.shape == np.shape(expected), (out.shape, np.shape(expected))
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)
    return out


def check_grad(fn, *shapes_or_arrays, device="cpu", positive=False, seed=0, **kwargs):
    """tg.gradcheck of `fn` in float64 at random inputs (shapes) or the given arrays.

    Every input requires grad; the output must stay float64.
    """
    inputs = [a if isinstance(a, tg.Tensor) else
              tg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True, device=device)
              for a in _as_arrays(shapes_or_arrays, seed, positive)]
    out = fn(*inputs)
    assert out.dtype == np.float64, f"float64 in, {out.dtype} out"
    assert tg.gradcheck(fn, inputs, **kwargs)


class Probe(tg.Function):
    """Identity whose backward records the dtype of the gradient it receives: the gradient an op
    hands back to its input, before the leaf's `.grad` would silently cast it."""

    seen: list = []

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        Probe.seen.append(grad.dtype)
        return grad


def check_dtype(fn, *shapes_or_arrays, dtype=np.float32, device="cpu", positive=False):
    """`fn` at inputs of `dtype` gives an output of `dtype`, and hands back gradients of `dtype`."""
    leaves = [tg.tensor(np.asarray(a).astype(dtype), requires_grad=True, device=device)
              for a in _as_arrays(shapes_or_arrays, 1, positive)]
    Probe.seen = []
    out = fn(*(Probe.apply(x) for x in leaves))
    assert out.dtype == dtype, f"{np.dtype(dtype)} in, {out.dtype} out"
    g = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    out.backward(g)
    assert Probe.seen and all(d == dtype for d in Probe.seen), Probe.seen
    for x in leaves:
        assert x.grad is None or x.grad.dtype == dtype
