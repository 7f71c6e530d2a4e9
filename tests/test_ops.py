"""Every differentiable Tensor op: forward against NumPy, tg.gradcheck in float64 with a random
upstream gradient, and float32 kept end to end (output AND the gradients handed back).

One table drives all three tests: each row is (id, tinygrad fn, NumPy fn or None when the same
expression works on both, input shapes or arrays, options). Shapes exercise broadcasting
(0-d, size-1 dims, different ranks), negative and tuple dims, and keepdim.
"""
import math

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from helpers import Probe, check_dtype, check_forward, check_grad
from tinygrad_bn.ops.elementwise import Cast
from test_conv import path  # noqa: F401  (the fixture: reference and fast implementations)

POS = {"positive": True}  # inputs drawn from |N(0,1)| + 0.5: log, sqrt, fractional powers


def softmax_np(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_np(a, axis):
    s = a - a.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def sigmoid_np(a):
    return 1 / (1 + np.exp(-a))


REPEATED = np.array([0, 2, 2, 0, 2])            # integer-array index naming rows twice
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])

# (id, fn_tg, fn_np or None, shapes or arrays, options)
CASES = [
    # ---- binary arithmetic, broadcasting over 0-d, size-1 dims and different ranks
    ("add", lambda a, b: a + b, None, [(3, 4), (3, 4)], {}),
    ("add-bcast-rank", lambda a, b: a + b, None, [(2, 3, 4), (4,)], {}),
    ("add-bcast-size1", lambda a, b: a + b, None, [(3, 1), (1, 4)], {}),
    ("add-0d", lambda a, b: a + b, None, [(), (2, 3)], {}),
    ("add-bcast-both", lambda a, b: a + b, None, [(2, 1, 3), (4, 1)], {}),
    ("add-scalar", lambda a: a + 2.5, None, [(2, 3)], {}),
    ("radd-scalar", lambda a: 2.5 + a, None, [(2, 3)], {}),
    ("add-int-scalar", lambda a: a + 2, None, [(2, 3)], {}),
    ("sub", lambda a, b: a - b, None, [(3, 4), (4,)], {}),
    ("sub-size1", lambda a, b: a - b, None, [(3, 1), (2, 1, 4)], {}),
    ("sub-scalar", lambda a: a - 1.5, None, [(2, 3)], {}),
    ("rsub-scalar", lambda a: 1.5 - a, None, [(2, 3)], {}),
    ("mul", lambda a, b: a * b, None, [(3, 4), (3, 4)], {}),
    ("mul-bcast", lambda a, b: a * b, None, [(2, 1, 4), (3, 1)], {}),
    ("mul-0d", lambda a, b: a * b, None, [(3,), ()], {}),
    ("mul-self", lambda a: a * a, None, [(2, 3)], {}),
    ("mul-scalar", lambda a: a * 3.0, None, [(2, 3)], {}),
    ("rmul-scalar", lambda a: -0.5 * a, None, [(2, 3)], {}),
    ("div", lambda a, b: a / b, None, [(3, 4), (3, 4)], POS),
    ("div-bcast", lambda a, b: a / b, None, [(2, 3), (3, 1, 1)], POS),
    ("div-0d", lambda a, b: a / b, None, [(), (2, 2)], POS),
    ("div-scalar", lambda a: a / 4.0, None, [(2, 3)], {}),
    ("div-int-scalar", lambda a: a / 4, None, [(2, 3)], {}),
    ("rdiv-scalar", lambda a: 2.0 / a, None, [(2, 3)], POS),
    ("pow-int", lambda a: a ** 2, None, [(2, 3)], {}),
    ("pow-3", lambda a: a ** 3, None, [(2, 3)], {}),
    ("pow-frac", lambda a: a ** 0.5, None, [(2, 3)], POS),
    ("pow-neg", lambda a: a ** -1.5, None, [(2, 3)], POS),
    ("rpow-scalar", lambda a: 2.0 ** a, None, [(2, 3)], {}),
    ("pow-tensor", lambda a, b: a ** b, None, [(2, 3), (2, 3)], POS),
    ("pow-tensor-bcast", lambda a, b: a ** b, None, [(2, 3), (3,)], POS),
    ("neg", lambda a: -a, None, [(2, 3)], {}),
    ("neg-0d", lambda a: -a, None, [()], {}),
    ("chain", lambda a, b: (a * b - a / (b * b + 1)) ** 2, None, [(3, 1), (4,)], {}),
    # ---- matmul: 1-D, 2-D, batched with broadcasting
    ("matmul-1d-1d", lambda a, b: a @ b, None, [(3,), (3,)], {}),
    ("matmul-1d-2d", lambda a, b: a @ b, None, [(3,), (3, 4)], {}),
    ("matmul-2d-1d", lambda a, b: a @ b, None, [(2, 3), (3,)], {}),
    ("matmul-2d", lambda a, b: a @ b, None, [(2, 3), (3, 4)], {}),
    ("matmul-method", lambda a, b: a.matmul(b), lambda a, b: a @ b, [(2, 3), (3, 4)], {}),
    ("matmul-batch-2d", lambda a, b: a @ b, None, [(4, 2, 3), (3, 2)], {}),
    ("matmul-2d-batch", lambda a, b: a @ b, None, [(2, 3), (4, 3, 2)], {}),
    ("matmul-batch-bcast", lambda a, b: a @ b, None, [(2, 1, 2, 3), (3, 3, 2)], {}),
    ("matmul-1d-batch", lambda a, b: a @ b, None, [(3,), (2, 3, 4)], {}),
    ("matmul-batch-1d", lambda a, b: a @ b, None, [(2, 4, 3), (3,)], {}),
    # ---- reductions: dim None / int / negative / tuple, keepdim
    ("sum-all", lambda a: a.sum(), lambda a: a.sum(), [(3, 4)], {}),
    ("sum-0d", lambda a: a.sum(), lambda a: a.sum(), [()], {}),
    ("sum-dim0", lambda a: a.sum(0), lambda a: a.sum(0), [(3, 4)], {}),
    ("sum-neg", lambda a: a.sum(dim=-1), lambda a: a.sum(-1), [(2, 3, 4)], {}),
    ("sum-tuple", lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), [(2, 3, 4)], {}),
    ("sum-tuple-neg-keep", lambda a: a.sum((-1, -3), keepdim=True),
     lambda a: a.sum((-1, -3), keepdims=True), [(2, 3, 4)], {}),
    ("sum-none-keep", lambda a: a.sum(keepdim=True), lambda a: a.sum(keepdims=True), [(2, 3)], {}),
    ("mean-all", lambda a: a.mean(), lambda a: a.mean(), [(3, 4)], {}),
    ("mean-neg-keep", lambda a: a.mean(-2, keepdim=True), lambda a: a.mean(-2, keepdims=True),
     [(2, 3, 4)], {}),
    ("mean-tuple", lambda a: a.mean((0, -1)), lambda a: a.mean((0, -1)), [(2, 3, 4)], {}),
    ("mean-none-keep", lambda a: a.mean(None, True), lambda a: a.mean(keepdims=True), [(2, 3)], {}),
    ("max-all", lambda a: a.max(), lambda a: a.max(), [(3, 4)], {}),
    ("max-dim", lambda a: a.amax(1), lambda a: a.max(1), [(3, 4)], {}),
    ("max-neg-keep", lambda a: a.amax(-1, keepdim=True), lambda a: a.max(-1, keepdims=True),
     [(2, 3, 4)], {}),
    ("max-tuple", lambda a: a.amax((0, 2)), lambda a: a.max((0, 2)), [(2, 3, 4)], {}),
    ("max-none-keep", lambda a: a.max(keepdim=True), lambda a: a.max(keepdims=True), [(2, 3)], {}),
    ("min-all", lambda a: a.min(), lambda a: a.min(), [(3, 4)], {}),
    ("min-neg", lambda a: a.amin(-2), lambda a: a.min(-2), [(2, 3, 4)], {}),
    ("min-tuple-keep", lambda a: a.amin((1, 2), keepdim=True),
     lambda a: a.min((1, 2), keepdims=True), [(2, 3, 4)], {}),
    ("var-all", lambda a: a.var(), lambda a: a.var(ddof=1), [(3, 4)], {}),
    ("var-dim", lambda a: a.var(0), lambda a: a.var(0, ddof=1), [(5, 3)], {}),
    ("var-corr0", lambda a: a.var(-1, correction=0), lambda a: a.var(-1), [(2, 5)], {}),
    ("var-corr2-tuple-keep", lambda a: a.var((0, 2), keepdim=True, correction=2),
     lambda a: a.var((0, 2), ddof=2, keepdims=True), [(3, 2, 4)], {}),
    ("var-none-keep", lambda a: a.var(keepdim=True), lambda a: a.var(ddof=1, keepdims=True),
     [(2, 3)], {}),
    ("std-all", lambda a: a.std(), lambda a: a.std(ddof=1), [(3, 4)], {}),
    ("std-neg-corr0", lambda a: a.std(-1, correction=0), lambda a: a.std(-1), [(3, 4)], {}),
    ("std-tuple-keep", lambda a: a.std((0, 1), keepdim=True),
     lambda a: a.std((0, 1), ddof=1, keepdims=True),
     [(3, 4, 2)], {}),
    ("softmax-last", lambda a: a.softmax(-1), lambda a: softmax_np(a, -1), [(3, 4)], {}),
    ("softmax-dim0", lambda a: a.softmax(0), lambda a: softmax_np(a, 0), [(3, 4)], {}),
    ("softmax-3d", lambda a: a.softmax(1), lambda a: softmax_np(a, 1), [(2, 3, 4)], {}),
    ("log_softmax-last", lambda a: a.log_softmax(-1), lambda a: log_softmax_np(a, -1), [(3, 4)], {}),
    ("log_softmax-dim0", lambda a: a.log_softmax(0), lambda a: log_softmax_np(a, 0), [(3, 4)], {}),
    ("log_softmax-3d", lambda a: a.log_softmax(-2), lambda a: log_softmax_np(a, -2), [(2, 3, 4)], {}),
    ("softmax-0d", lambda a: a.softmax(0) * a, lambda a: a, [()], {}),
    ("log_softmax-0d", lambda a: a.log_softmax(-1) + a, lambda a: a, [()], {}),
    # ---- unary math
    ("exp", lambda a: a.exp(), np.exp, [(2, 3)], {}),
    ("log", lambda a: a.log(), np.log, [(2, 3)], POS),
    ("sqrt", lambda a: a.sqrt(), np.sqrt, [(2, 3)], POS),
    ("abs", lambda a: a.abs(), np.abs, [(2, 3)], {}),
    ("tanh", lambda a: a.tanh(), np.tanh, [(2, 3)], {}),
    ("erf", lambda a: a.erf(), np.vectorize(math.erf), [(2, 3)], {}),
    ("gelu", lambda a: F.gelu(a), lambda a: a * 0.5 * (1 + np.vectorize(math.erf)(a / math.sqrt(2))),
     [(2, 3)], {}),
    ("gelu-tanh", lambda a: F.gelu(a, approximate="tanh"),
     lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))), [(2, 3)], {}),
    ("sigmoid", lambda a: a.sigmoid(), sigmoid_np, [(2, 3)], {}),
    ("sigmoid-wide", lambda a: a.sigmoid(), sigmoid_np, [np.array([-30.0, -5.0, 0.0, 5.0, 30.0])], {}),
    ("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), [(3, 4)], {}),
    ("clamp-both", lambda a: a.clamp(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), [(3, 4)], {}),
    ("clamp-min", lambda a: a.clamp(min=0.2), lambda a: np.maximum(a, 0.2), [(3, 4)], {}),
    ("clamp-max", lambda a: a.clamp(max=-0.1), lambda a: np.minimum(a, -0.1), [(3, 4)], {}),
    ("exp-0d", lambda a: a.exp(), np.exp, [()], {}),
    # ---- movement
    ("reshape", lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), [(3, 4)], {}),
    ("reshape-tuple-neg1", lambda a: a.reshape((2, -1)), lambda a: a.reshape(2, -1), [(3, 4)], {}),
    ("reshape-neg1-mid", lambda a: a.reshape(2, -1, 3), lambda a: a.reshape(2, -1, 3), [(12,)], {}),
    ("reshape-to-0d", lambda a: a.reshape(()), lambda a: a.reshape(()), [(1, 1)], {}),
    ("view", lambda a: a.view(-1), lambda a: a.reshape(-1), [(3, 4)], {}),
    ("flatten", lambda a: a.flatten(), lambda a: a.reshape(-1), [(2, 3, 4)], {}),
    ("flatten-1", lambda a: a.flatten(1), lambda a: a.reshape(2, -1), [(2, 3, 4)], {}),
    ("flatten-0-1", lambda a: a.flatten(0, 1), lambda a: a.reshape(6, 4), [(2, 3, 4)], {}),
    ("flatten-neg", lambda a: a.flatten(-2, -1), lambda a: a.reshape(2, 12), [(2, 3, 4)], {}),
    ("flatten-0d", lambda a: a.flatten(), lambda a: a.reshape(1), [()], {}),
    ("transpose", lambda a: a.transpose(0, 1), lambda a: a.swapaxes(0, 1), [(3, 4)], {}),
    ("transpose-neg", lambda a: a.transpose(-1, 0), lambda a: a.swapaxes(-1, 0), [(2, 3, 4)], {}),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [(2, 3, 4)], {}),
    ("permute-tuple-neg", lambda a: a.permute((-1, 1, -3)), lambda a: a.transpose(2, 1, 0),
     [(2, 3, 4)], {}),
    ("T", lambda a: a.T, lambda a: a.T, [(3, 4)], {}),
    ("T-3d", lambda a: a.T, lambda a: a.T, [(2, 3, 4)], {}),
    ("unsqueeze", lambda a: a.unsqueeze(1), lambda a: np.expand_dims(a, 1), [(3, 4)], {}),
    ("unsqueeze-neg", lambda a: a.unsqueeze(-1), lambda a: np.expand_dims(a, -1), [(3, 4)], {}),
    ("unsqueeze-0d", lambda a: a.unsqueeze(0), lambda a: np.expand_dims(a, 0), [()], {}),
    ("squeeze-all", lambda a: a.squeeze(), lambda a: a.squeeze(), [(1, 3, 1, 4)], {}),
    ("squeeze-dim", lambda a: a.squeeze(2), lambda a: a.squeeze(2), [(1, 3, 1, 4)], {}),
    ("squeeze-neg", lambda a: a.squeeze(-4), lambda a: a.squeeze(-4), [(1, 3, 1, 4)], {}),
    ("squeeze-not1", lambda a: a.squeeze(1), lambda a: a, [(1, 3, 1, 4)], {}),
    ("expand", lambda a: a.expand(3, 4), lambda a: np.broadcast_to(a, (3, 4)), [(3, 1)], {}),
    ("expand-neg1-lead", lambda a: a.expand((2, -1, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)),
     [(3, 1)], {}),
    ("expand-0d", lambda a: a.expand(2, 3), lambda a: np.broadcast_to(a, (2, 3)), [()], {}),
    # ---- indexing: ints, slices, None, Ellipsis, integer arrays (repeated), bool masks, Tensors
    ("getitem-int", lambda a: a[1], None, [(3, 4)], {}),
    ("getitem-neg-int", lambda a: a[-1, 2], None, [(3, 4)], {}),
    ("getitem-scalar", lambda a: a[1, 2, 3], None, [(2, 3, 4)], {}),
    ("getitem-slice", lambda a: a[1:, ::2], None, [(3, 4)], {}),
    ("getitem-neg-step", lambda a: a[::-1, 1:3], None, [(3, 4)], {}),
    ("getitem-none", lambda a: a[None, :, None], None, [(3, 4)], {}),
    ("getitem-ellipsis", lambda a: a[..., 1], None, [(2, 3, 4)], {}),
    ("getitem-ellipsis-none", lambda a: a[0, ..., None], None, [(2, 3, 4)], {}),
    ("getitem-intarray-repeat", lambda a: a[REPEATED], None, [(3, 4)], {}),
    ("getitem-list-repeat", lambda a: a[[1, 1, 0, 1]], None, [(3, 4)], {}),
    ("getitem-2-arrays-repeat", lambda a: a[[0, 2, 0], [1, 1, 1]], None, [(3, 4)], {}),
    ("getitem-slice-array", lambda a: a[:, [3, 0, 3, 3]], None, [(3, 4)], {}),
    ("getitem-mixed", lambda a: a[1, ..., REPEATED[:3]], None, [(2, 3, 4)], {}),
    ("getitem-mask", lambda a: a[MASK], None, [(3, 4)], {}),
    ("getitem-row-mask", lambda a: a[np.array([True, False, True])], None, [(3, 4)], {}),
    ("getitem-tensor-int", lambda a: a[tg.tensor(REPEATED)], lambda a: a[REPEATED], [(3, 4)], {}),
    ("getitem-tensor-mask", lambda a: a[tg.tensor(MASK)], lambda a: a[MASK], [(3, 4)], {}),
    ("getitem-tensor-0d", lambda a: a[tg.tensor(2)], lambda a: a[2], [(3, 4)], {}),
    ("getitem-tensor-tuple", lambda a: a[tg.tensor([0, 0]), 1:], lambda a: a[[0, 0], 1:], [(3, 4)], {}),
]
IDS = [c[0] for c in CASES]


def _arrays(case, seed=0):
    _, _, _, shapes, opts = case
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s) if isinstance(s, tuple) else np.asarray(s, dtype=np.float64)
        out.append(np.abs(a) + 0.5 if opts.get("positive") else a)
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward(case, device, path):  # noqa: F811
    _, fn_tg, fn_np, _, _ = case
    check_forward(fn_tg, fn_np, *_arrays(case), device=device)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case, device, path):  # noqa: F811
    """On both paths: an op with a fast variant (Sigmoid on the CPU) has its reference
    algorithm checked too."""
    _, fn_tg, _, _, _ = case
    check_grad(fn_tg, *_arrays(case), device=device)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case, device):
    """float32 in -> float32 out, and float32 gradients handed back (Python scalars included)."""
    _, fn_tg, _, _, _ = case
    check_dtype(fn_tg, *_arrays(case), dtype=np.float32, device=device)


def test_float64_stays_float64(device):
    check_dtype(lambda a, b: ((a * 2.5 + 1) / b).softmax(-1).log().mean(0) @ a.T[0:4, 0],
                (3, 4), (3, 4), dtype=np.float64, device=device, positive=True)


# ---------------------------------------------------------------- casts
@pytest.mark.parametrize("src,dst,method", [
    (np.float64, np.float32, "float"), (np.float32, np.float64, "double"),
    (np.float32, np.float16, "astype"), (np.float16, np.float32, "float")])
def test_cast_is_differentiable_and_grad_keeps_input_dtype(src, dst, method, device):
    x = tg.tensor(np.array([1.0, -2.0, 3.0], dtype=src), requires_grad=True, device=device)
    p = Probe.apply(x)  # sees the gradient the cast hands back, before .grad would cast it
    y = p.astype(dst) if method == "astype" else getattr(p, method)()
    assert y.dtype == dst
    Probe.seen = []
    (y * tg.tensor(np.array([1.0, 2.0, 3.0], dtype=dst), device=device)).sum().backward()
    assert Probe.seen == [src] and x.grad.dtype == src
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_cast_to_int_has_no_gradient(device):
    x = tg.tensor([1.7, -2.2], requires_grad=True, device=device)
    y = x.astype(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [1, -2])


def test_cast_to_same_dtype_is_identity(device):
    x = tg.tensor([1.0], device=device)
    assert x.float() is x


# ---------------------------------------------------------------- gradients by hand
def test_max_ties_share_gradient_equally(device):
    x = tg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True, device=device)
    x.amax(1).backward(tg.tensor([6.0, 9.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [[0, 3, 3], [3, 3, 3]])
    x.grad = None
    x.max().backward()  # global tie between the two 3s
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])


def test_min_ties_share_gradient_equally(device):
    x = tg.tensor([[1.0, 1.0, 3.0, 1.0]], requires_grad=True, device=device)
    x.min().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, 1 / 3, 0, 1 / 3]])


def test_getitem_repeated_indices_accumulate(device):
    x = tg.tensor([10.0, 20.0, 30.0], requires_grad=True, device=device)
    x[[0, 2, 2, 2]].backward(tg.tensor([1.0, 2.0, 3.0, 4.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 9.0])


def test_relu_abs_clamp_conventions_at_kinks(device):
    x = tg.tensor([-1.0, 0.0, 1.0], requires_grad=True, device=device)
    x.relu().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1])
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1, 0, 1])
    x.grad = None
    x.clamp(-1.0, 0.0).sum().backward()  # PyTorch: gradient 1 on the boundaries
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extreme_inputs_are_finite(dtype, device, path):  # noqa: F811
    x = tg.tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype), requires_grad=True,
                  device=device)
    y = x.sigmoid()
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), [0, 0, 0.5, 1, 1], atol=1e-30)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 0.25, 0, 0], atol=1e-30)


ERF_EDGES = [0.0, 5e-324, 1e-300, 1e-8, 0.4574308876821015, 0.46875,
             float(np.nextafter(0.46875, 1)), 0.4714757198629677, 0.4754515742881514, 0.5, 4.0,
             float(np.nextafter(4.0, 5)), 10.0, 26.9, 27.0, 40.0, 1e300]


def test_erf_is_within_6_ulp_of_math_erf_over_its_whole_range():
    """The CPU erf (Cody's rational approximations, vectorised) against Python's math.erf:
    each range of the formula and its boundaries, tiny and huge values, both signs. (6 ulp just
    above 0.46875, where erf = 1 − erfc has half erfc's spacing; 4 at most elsewhere; the
    worst points a review found are in the list.)"""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-6, 6, 20000), rng.uniform(-30, 30, 2000),
                        ERF_EDGES, np.negative(ERF_EDGES)])
    got = tg.erf(tg.tensor(x)).numpy()
    want = np.array([math.erf(v) for v in x])
    assert got.dtype == np.float64
    err = np.abs(got - want) / np.spacing(np.abs(want))
    assert err.max() <= 6, f"erf({x[err.argmax()]!r}) is {err.max():.1f} ulp from math.erf"
    assert np.array_equal(np.signbit(got[x == 0]), np.signbit(x[x == 0]))  # erf(-0.0) = -0.0


def test_erf_of_infinities_and_nan():
    got = tg.erf(tg.tensor([np.inf, -np.inf, np.nan])).numpy()
    assert got[0] == 1 and got[1] == -1 and np.isnan(got[2])


@pytest.mark.parametrize("value", [0.3, 2.0, 9.0])
def test_erf_of_a_0d_array_is_a_0d_array(value):
    """Whichever formula serves the value (the first range returns early)."""
    from tinygrad_bn import backend
    out = backend.erf(np.array(value))
    assert isinstance(out, np.ndarray) and out.shape == ()
    assert abs(out - math.erf(value)) <= 6 * np.spacing(math.erf(value))


@pytest.mark.parametrize("array", [np.array([1 + 1j]), np.array([1, 2]), np.array([True])])
def test_erf_refuses_arrays_that_are_not_floating(array):
    """Complex, integer, bool: erf's result cast back would be silently wrong (0 for 1, 2)."""
    from tinygrad_bn import backend
    with pytest.raises(TypeError, match=f"erf needs a floating point array, got {array.dtype}"):
        backend.erf(array)


def test_erf_of_an_int_tensor_is_float32():
    np.testing.assert_allclose(tg.tensor([0, 1, 2]).erf().numpy(), [0, math.erf(1), math.erf(2)], rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_erf_in_low_precision_is_math_erf_rounded(dtype):
    """Computed in float64 and rounded once: at most one ulp of the input's dtype from math.erf."""
    x = (np.random.default_rng(1).standard_normal(20000) * 3).astype(dtype)
    got = tg.erf(tg.tensor(x)).numpy()
    want = np.array([math.erf(v) for v in x.astype(np.float64)]).astype(dtype)
    assert got.dtype == dtype
    assert np.all(np.abs(got.astype(np.float64) - want) <= np.spacing(np.abs(want)))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_large_logits_are_finite(op, device):
    x = tg.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True, device=device)
    y = getattr(x, op)(-1)
    assert np.all(np.isfinite(y.numpy()))
    y.backward(np.ones((1, 3), dtype=np.float32))
    assert np.all(np.isfinite(x.grad.numpy()))


def test_numpy_scalar_bounds_do_not_change_the_dtype(device):
    x = tg.tensor([0.0, 1.0, 2.0], device=device)
    assert x.clamp(np.float64(0.5), np.float64(1.5)).dtype == np.float32
    assert (x * np.float64(2.0)).dtype == np.float32 and (np.float64(2.0) + x).dtype == np.float32


def test_var_single_element_is_nan_like_torch(device):
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(tg.tensor([3.0], device=device).var().item())
    assert tg.tensor([3.0], device=device).var(correction=0).item() == 0.0


# ---------------------------------------------------------------- non-differentiable ops
CMP = [("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b), ("lt", lambda a, b: a < b),
       ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b)]


@pytest.mark.parametrize("name,cmp", CMP, ids=[c[0] for c in CMP])
@pytest.mark.parametrize("rhs", ["tensor", "bcast", "scalar"])
def test_comparisons_are_bool_without_grad(name, cmp, rhs, device):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    b = {"tensor": a[::-1].copy(), "bcast": np.array([2.0, 2.0, 1.0], dtype=np.float32),
         "scalar": 2.0}[rhs]
    x = tg.tensor(a, requires_grad=True, device=device)
    y = cmp(x, tg.tensor(b, device=device) if rhs != "scalar" else b)
    assert y.dtype == np.bool_ and not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.numpy(), cmp(a, b))


def test_reversed_scalar_comparison(device):
    x = tg.tensor([1.0, 2.0, 3.0], device=device)
    np.testing.assert_array_equal((2.0 < x).numpy(), [False, False, True])
    np.testing.assert_array_equal((2.0 == x).numpy(), [False, True, False])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True),
                                         (-1, False), (-2, True)])
def test_argmax(dim, keepdim, device):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x = tg.tensor(a, requires_grad=True, device=device)
    y = x.argmax(dim, keepdim)
    if dim is None:
        expected = a.argmax().reshape((1, 1)) if keepdim else a.argmax()
    else:
        expected = a.argmax(dim, keepdims=keepdim)
    assert y.shape == expected.shape and y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), expected)


# ---------------------------------------------------------------- int and bool tensors
@pytest.mark.parametrize("expr,expected_dtype", [
    (lambda i: i + 2, np.int64), (lambda i: i * i, np.int64), (lambda i: i / 2, np.float32),
    (lambda i: i / i, np.float32), (lambda i: i + 0.5, np.float32), (lambda i: 1.5 * i, np.float32),
    (lambda i: (i > 1) + 2, np.int64), (lambda i: i.sum(), np.int64),
    (lambda i: i + tg.tensor([0.5], device=i.device), np.float32)])
def test_int_tensor_promotion_follows_torch(expr, expected_dtype, device):
    i = tg.tensor([1, 2, 3], device=device)
    assert expr(i).dtype == expected_dtype


def test_int_division_values(device):
    np.testing.assert_allclose((tg.tensor([1, 2, 3], device=device) / 2).numpy(), [0.5, 1, 1.5])


# ---------------------------------------------------------------- errors name what is wrong
def test_matmul_shape_mismatch_names_both_shapes(device):
    a, b = tg.zeros(2, 3, device=device), tg.zeros(4, 5, device=device)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        tg.zeros(3, device=device) @ tg.zeros(4, device=device)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, 4, 2\)"):
        tg.zeros(2, 3, 4, device=device) @ tg.zeros(5, 4, 2, device=device)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        tg.zeros((), device=device) @ tg.zeros(3, device=device)


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a / b, lambda a, b: a ** b])
def test_broadcast_mismatch_names_both_shapes(op, device):
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        op(tg.ones(2, 3, device=device), tg.ones(4, device=device))


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda x: x.reshape(5, 3), ValueError, r"\(2, 3, 4\).*\(5, 3\)"),
    (lambda x: x.reshape(-1, -1), ValueError, "reshape"),
    (lambda x: x.sum(3), IndexError, "dim 3"),
    (lambda x: x.mean(-4), IndexError, "dim -4"),
    (lambda x: x.sum((0, -3)), ValueError, "twice"),
    (lambda x: x.permute(0, 1), ValueError, "permute"),
    (lambda x: x.permute(0, 1, 3), ValueError, "permute"),
    (lambda x: x.unsqueeze(4), IndexError, "dim 4"),
    (lambda x: x.expand(2, 5, 4), ValueError, r"\(2, 3, 4\).*\(2, 5, 4\)"),
    (lambda x: x.expand(3, 4), ValueError, "expand"),
    (lambda x: x.clamp(), ValueError, "min and max"),
    (lambda x: x.softmax(3), IndexError, "dim 3"),
    (lambda x: x.log_softmax((0, 1)), TypeError, "int"),
    (lambda x: x.flatten(5), IndexError, "dim 5"),
    (lambda x: x.flatten(2, 0), ValueError, "start_dim"),
    (lambda x: x.transpose(0, 4), IndexError, "dim 4"),
])
def test_bad_arguments_raise_clear_errors(call, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        call(tg.zeros(2, 3, 4, device=device))


class _FakeCuda(tg.Tensor):
    """A CPU tensor that claims to live on 'cuda': enough to reach the mixed-device check
    without a GPU (the check compares `.device` before any array is touched)."""

    @property
    def device(self):
        return "cuda"


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a @ b])
def test_mixed_devices_raise_naming_both(op):
    a = tg.ones(2, 2)
    b = _FakeCuda._wrap(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(RuntimeError, match="cpu.*cuda"):
        op(a, b)


def test_cast_passes_gradcheck_and_hands_back_the_input_dtype(device):
    """Cast's backward converts the gradient back: float64 checked by central differences, and a
    float32 input gets a float32 gradient through a float64 computation."""
    check_grad(lambda a: Cast.apply(a * a, dtype=np.float64) * a, (2, 3), device=device)
    x = tg.tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True, device=device)
    y = x.double()
    assert y.dtype == np.float64 and y.grad_fn.name() == "CastBackward0"
    (Probe.apply(x) * 1).double().pow(2).sum().backward()
    assert Probe.seen[-1] == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
