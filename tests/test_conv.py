"""conv2d, max_pool2d, avg_pool2d: forward against direct loop-based NumPy references, gradients
by tg.gradcheck in float64, each run on the reference algorithm AND on the fast path (the
`path` fixture), dtypes and errors."""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import dispatch
from tinygrad_bn.fast import conv_batch_inner as CB
from tinygrad_bn.fast import conv_per_sample as CS
from tinygrad_bn.fast import pool_taps as PT
from tinygrad_bn.ops import conv as C
from tinygrad_bn.ops.conv import Conv2d

from helpers import check_dtype, check_grad


# ================================================================ references (loops are fine here)
def pad(x, padding, value=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """out[n, o, y, x] = b[o] + Σ W[o, c, i, j]·xpad[n, g·Cg + c, y·s + i·d, x·s + j·d],
    one output pixel at a time."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    xp = pad(x, padding)
    OH = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    OW = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((N, O, OH, OW))
    for o in range(O):
        g = o // (O // groups)
        for y in range(OH):
            for x_ in range(OW):
                patch = xp[:, g * Cg:(g + 1) * Cg, y * sh:y * sh + dh * (kh - 1) + 1:dh,
                           x_ * sw:x_ * sw + dw * (kw - 1) + 1:dw]
                out[:, o, y, x_] = (patch * w[o]).sum(axis=(1, 2, 3)) + (0 if b is None else b[o])
    return out


def conv2d_grads_ref(x, w, grad, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """dx, dW, db of conv2d_ref for the upstream gradient `grad`, tap by tap and channel by channel:
    dW[o, :, i, j] = Σ grad[:, o]·patch(i, j);  dx[patch(i, j)] += grad[:, o]·W[o, :, i, j]."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (dh, dw_), (ph, pw) = stride, dilation, padding
    xp = pad(x, padding)
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    OH, OW = grad.shape[2:]
    for o in range(O):
        g = o // (O // groups)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (OH - 1) + 1, sh)
                cols = slice(j * dw_, j * dw_ + sw * (OW - 1) + 1, sw)
                patch = xp[:, g * Cg:(g + 1) * Cg, rows, cols]          # (N, Cg, OH, OW)
                dw[o, :, i, j] = (patch * grad[:, o:o + 1]).sum(axis=(0, 2, 3))
                dxp[:, g * Cg:(g + 1) * Cg, rows, cols] += grad[:, o:o + 1] * w[o, :, i, j][:, None, None]
    return dxp[:, :, ph:ph + H, pw:pw + W], dw, grad.sum(axis=(0, 2, 3))


def pool_windows(x, kernel, stride, padding, value):
    """Yield (y, x, window) for every output position: window is (N, C, kH, kW)."""
    xp = pad(x, padding, value)
    (kh, kw), (sh, sw) = kernel, stride
    OH = (xp.shape[2] - kh) // sh + 1
    OW = (xp.shape[3] - kw) // sw + 1
    for y in range(OH):
        for x_ in range(OW):
            yield y, x_, xp[:, :, y * sh:y * sh + kh, x_ * sw:x_ * sw + kw]


def max_pool_ref(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH = (x.shape[2] + 2 * ph - kh) // sh + 1
    OW = (x.shape[3] + 2 * pw - kw) // sw + 1
    out = np.empty(x.shape[:2] + (OH, OW))
    for y, x_, win in pool_windows(x, kernel, stride, padding, -np.inf):
        out[:, :, y, x_] = win.max(axis=(2, 3))
    return out


def max_pool_grad_ref(x, grad, kernel, stride, padding):
    """PyTorch's rule: each window's gradient goes to its FIRST maximum in row-major order."""
    (_, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    dxp = np.zeros(pad(x, padding).shape)
    for y, x_, win in pool_windows(x, kernel, stride, padding, -np.inf):
        first = win.reshape(*win.shape[:2], -1).argmax(axis=2)      # argmax returns the first
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                i, j = divmod(first[n, c], kw)
                dxp[n, c, y * sh + i, x_ * sw + j] += grad[n, c, y, x_]
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


def avg_pool_ref(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    OH = (x.shape[2] + 2 * ph - kh) // sh + 1
    OW = (x.shape[3] + 2 * pw - kw) // sw + 1
    out = np.empty(x.shape[:2] + (OH, OW))
    for y, x_, win in pool_windows(x, kernel, stride, padding, 0.0):
        out[:, :, y, x_] = win.sum(axis=(2, 3)) / (kh * kw)        # padding counts
    return out


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def distinct(shape, seed=0):
    """float64 values that are all different and well separated (no ties for max pooling)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0


# ================================================================ conv2d forward
@pytest.fixture(params=["reference", "fast"])
def path(request):
    """Run a test on the ops' reference algorithms and on their fast variants (the default)."""
    with dispatch.reference_only(request.param == "reference"):
        yield request.param


CONV_CASES = [
    # (N, C, H, W), (O, kH, kW), stride, padding, dilation, groups, bias
    ((2, 3, 7, 7), (4, 3, 3), 1, 0, 1, 1, True),
    ((2, 3, 7, 7), (4, 3, 3), 1, 1, 1, 1, False),
    ((2, 1, 8, 8), (6, 5, 5), 1, 2, 1, 1, True),            # LeNet's first layer, small
    ((3, 2, 9, 8), (5, 3, 3), 2, 1, 1, 1, True),            # stride 2
    ((2, 2, 9, 10), (3, 3, 2), (2, 3), (1, 0), 1, 1, True),  # non-square everything
    ((2, 3, 9, 9), (4, 3, 3), 1, 2, 2, 1, True),            # dilation 2
    ((2, 2, 10, 9), (3, 2, 3), (1, 2), (2, 1), (3, 2), 1, False),
    ((2, 4, 6, 6), (6, 3, 3), 1, 1, 1, 2, True),            # 2 groups
    ((2, 4, 6, 6), (4, 3, 3), 1, 1, 1, 4, True),            # depthwise
    ((2, 3, 6, 5), (6, 3, 3), 2, 1, 1, 3, False),           # depthwise, channel multiplier 2
    ((2, 3, 5, 5), (4, 1, 1), 1, 0, 1, 1, True),            # 1×1
    ((2, 3, 5, 5), (4, 1, 1), 2, 1, 1, 1, True),            # 1×1, stride, padding
    ((1, 2, 4, 4), (3, 4, 4), 1, 0, 1, 1, True),            # kernel = image: one output pixel
    ((2, 2, 5, 5), (3, 2, 2), 3, 0, 1, 1, True),            # stride > kernel: skipped pixels
]


def make_conv(case, seed=0):
    (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // groups, kh, kw))
    b = rng.standard_normal(O) if bias else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, w, b, kwargs


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_matches_reference(case, device, path):
    x, w, b, kw = make_conv(case)
    out = tg.nn.functional.conv2d(tg.tensor(x, device=device), tg.tensor(w, device=device),
                                  None if b is None else tg.tensor(b, device=device), **kw)
    ref = conv2d_ref(x, w, b, pair(kw["stride"]), pair(kw["padding"]), pair(kw["dilation"]),
                     kw["groups"])
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_conv2d_reference_is_a_cross_correlation():
    # the reference itself, on a case worked by hand: no kernel flip, like PyTorch
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    np.testing.assert_array_equal(conv2d_ref(x, w), [[[[0 - 4, 1 - 5], [3 - 7, 4 - 8]]]])
    np.testing.assert_array_equal(F.conv2d(tg.tensor(x), tg.tensor(w)).numpy(), conv2d_ref(x, w))


def test_conv2d_int_and_pair_arguments_agree(device):
    x, w, b, _ = make_conv(CONV_CASES[3])
    t = [tg.tensor(a, device=device) for a in (x, w, b)]
    a = F.conv2d(*t, stride=2, padding=1, dilation=1)
    b2 = F.conv2d(*t, stride=(2, 2), padding=[1, 1], dilation=(1, 1))
    np.testing.assert_array_equal(a.numpy(), b2.numpy())


@pytest.mark.parametrize("case", [CONV_CASES[i] for i in (0, 1, 3, 4, 6, 7, 9, 11)])
def test_conv2d_gradcheck(case, device, path):
    x, w, b, kw = make_conv(case)
    arrays = (x, w) if b is None else (x, w, b)
    check_grad(lambda *t: F.conv2d(*t, **kw), *arrays, device=device)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradients_match_reference(case, device, path):
    # tight (1e-12), unlike gradcheck's finite differences: catches small slips such as a scale
    x, w, b, kw = make_conv(case)
    geometry = pair(kw["stride"]), pair(kw["padding"]), pair(kw["dilation"]), kw["groups"]
    grad = np.random.default_rng(7).standard_normal(conv2d_ref(x, w, b, *geometry).shape)
    t = [tg.tensor(a, device=device, requires_grad=True) for a in ((x, w) if b is None else (x, w, b))]
    F.conv2d(*t, **kw).backward(tg.tensor(grad, device=device))
    for u, expected in zip(t, conv2d_grads_ref(x, w, grad, *geometry)):
        np.testing.assert_allclose(u.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.fixture(params=["batch_inner", "per_sample"])
def conv_variant(request, monkeypatch):
    """Force one CPU variant of Conv2d whatever the output width: both run every geometry."""
    monkeypatch.setattr(CB, "BATCH_INNER_BELOW", 10**9 if request.param == "batch_inner" else 0)
    return CB.Conv2dBatchInner if request.param == "batch_inner" else CS.Conv2dPerSample


@pytest.mark.parametrize("case", CONV_CASES)
def test_every_conv2d_variant_passes_gradcheck(case, conv_variant):
    """Each CPU variant, forced whatever the geometry, by central differences in float64."""
    x, w, b, kw = make_conv(case)
    arrays = (x, w) if b is None else (x, w, b)
    assert F.conv2d(*(tg.tensor(a, requires_grad=True) for a in arrays), **kw)._ctx.impl is conv_variant
    check_grad(lambda *t: F.conv2d(*t, **kw), *arrays)


@pytest.mark.parametrize("batch", [1, 11])  # 11: one full block of 8 samples and a partial one
@pytest.mark.parametrize("case", CONV_CASES)
def test_every_conv2d_variant_matches_reference(case, batch, conv_variant):
    # forward and all three gradients, float64, tight; with and without the input's gradient
    x, w, b, kw = make_conv(case)
    x = np.random.default_rng(2).standard_normal((batch,) + x.shape[1:])
    geometry = pair(kw["stride"]), pair(kw["padding"]), pair(kw["dilation"]), kw["groups"]
    out_ref = conv2d_ref(x, w, b, *geometry)
    grad = np.random.default_rng(7).standard_normal(out_ref.shape)
    for x_needs_grad in (True, False):
        t = [tg.tensor(a, requires_grad=x_needs_grad or i > 0)
             for i, a in enumerate((x, w) if b is None else (x, w, b))]
        out = F.conv2d(*t, **kw)
        assert out._ctx.impl is conv_variant
        np.testing.assert_allclose(out.numpy(), out_ref, rtol=1e-12, atol=1e-12)
        out.backward(tg.tensor(grad))
        for u, expected in zip(t, conv2d_grads_ref(x, w, grad, *geometry)):
            if u.requires_grad:
                np.testing.assert_allclose(u.grad.numpy(), expected, rtol=1e-10, atol=1e-12)
            else:
                assert u.grad is None


def test_conv2d_skips_unneeded_gradients(device, path, monkeypatch):
    """A first layer's input needs no gradient: backward must not run col2im for it, and dW, db
    must be the same as when x does need a gradient."""
    x, w, b, kw = make_conv(CONV_CASES[2])
    grad = np.random.default_rng(5).standard_normal(conv2d_ref(x, w, b, padding=(2, 2)).shape)

    def grads(x_requires_grad):
        t = [tg.tensor(x, device=device, requires_grad=x_requires_grad),
             tg.tensor(w, device=device, requires_grad=True),
             tg.tensor(b, device=device, requires_grad=True)]
        F.conv2d(*t, **kw).backward(tg.tensor(grad, device=device))
        return [None if u.grad is None else u.grad.numpy() for u in t]

    full = grads(True)
    calls = []
    for module, name in ((C, "col2im"), (CB, "_col2im")):
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or pytest.fail("col2im called"))
    partial = grads(False)
    assert partial[0] is None and not calls
    np.testing.assert_allclose(partial[1], full[1], rtol=1e-12)
    np.testing.assert_allclose(partial[2], full[2], rtol=1e-12)


def test_conv2d_frozen_weight_saves_no_input(device):
    # the input is kept only to rebuild the columns for dW
    x, w, b, kw = make_conv(CONV_CASES[0])
    trainable = F.conv2d(tg.tensor(x, device=device, requires_grad=True),
                         tg.tensor(w, device=device, requires_grad=True), **kw)
    frozen = F.conv2d(tg.tensor(x, device=device, requires_grad=True),
                      tg.tensor(w, device=device), **kw)
    assert trainable._ctx.saved_tensors[0] is not None
    assert frozen._ctx.saved_tensors[0] is None


def test_conv2d_only_input_needs_grad(device):
    # frozen weights and bias: the input gradient alone, checked numerically
    x, w, b, kw = make_conv(CONV_CASES[4])
    wt, bt = tg.tensor(w, device=device), tg.tensor(b, device=device)
    check_grad(lambda t: F.conv2d(t, wt, bt, **kw), x, device=device)


def test_conv2d_float32_stays_float32(device, path):
    x, w, b, kw = make_conv(CONV_CASES[7])
    check_dtype(lambda *t: F.conv2d(*t, **kw), x, w, b, device=device)
    out = F.conv2d(*(tg.tensor(a.astype(np.float32), device=device) for a in (x, w, b)), **kw)
    np.testing.assert_allclose(out.numpy(), conv2d_ref(x, w, b, groups=2, padding=(1, 1)),
                               rtol=1e-4, atol=1e-4)


def test_conv2d_no_grad_records_nothing(device):
    x, w, b, kw = make_conv(CONV_CASES[0])
    t = [tg.tensor(a, device=device, requires_grad=True) for a in (x, w, b)]
    with tg.no_grad():
        out = F.conv2d(*t, **kw)
    assert out._ctx is None and not out.requires_grad


def test_conv2d_lenet_batch_float32(device):
    # the real layer shape (batch 16 to stay fast), float32 against the float64 reference
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 6, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((16, 6, 5, 5)) * 0.1).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    out = F.conv2d(*(tg.tensor(a, device=device) for a in (x, w, b)))
    assert out.dtype == np.float32 and out.shape == (16, 16, 10, 10)
    np.testing.assert_allclose(out.numpy(), conv2d_ref(x.astype(np.float64), w, b),
                               rtol=1e-4, atol=1e-4)


# ================================================================ im2col / col2im
def test_col2im_is_the_adjoint_of_the_patch_view():
    # <windows(x), c> == <x, col2im(c)> for any x, c: the definition of the adjoint
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    geometry = dict(stride=(2, 1), dilation=(1, 2))
    out_size = (C.conv_output_size(9, 3, 2, 0, 1), C.conv_output_size(8, 2, 1, 0, 2))
    patches = C.windows(np, x, (3, 2), out_size=out_size, **geometry)
    assert patches.shape == (2, 3, 3, 2) + out_size                    # [n, c, i, j, oh, ow]
    np.testing.assert_array_equal(patches[1, 2, 1, 0, 3], x[1, 2, 1 + 2 * 3, 0::1][:out_size[1]])
    c = rng.standard_normal(patches.shape)
    back = C.col2im(np, c, x.shape, padding=(0, 0), **geometry)
    np.testing.assert_allclose((patches * c).sum(), (x * back).sum(), rtol=1e-12)
    cols = C.im2col(np, x, (3, 2), padding=(0, 0), out_size=out_size, **geometry)
    np.testing.assert_array_equal(cols, patches.transpose(1, 2, 3, 0, 4, 5).reshape(3 * 3 * 2, -1))


def test_batch_inner_col2im_is_the_adjoint_of_its_im2col():
    rng = np.random.default_rng(0)
    x = CB._to_batch_inner(np, rng.standard_normal((2, 3, 9, 8)), (0, 0))   # [c, h, w, n]
    out_size = (C.conv_output_size(9, 3, 2, 0, 1), C.conv_output_size(8, 2, 1, 0, 2))
    cols = CB._im2col(np, x, (3, 2), (2, 1), (1, 2), out_size)
    assert cols.shape == (3, 3, 2) + out_size + (2,)                  # [c, i, j, oh, ow, n]
    c = rng.standard_normal(cols.shape)
    back = CB._col2im(np, c, x.shape, (2, 1), (1, 2))
    np.testing.assert_allclose((cols * c).sum(), (x * back).sum(), rtol=1e-12)


def test_dispatch_picks_the_batch_inner_layout_for_narrow_outputs_on_the_cpu():
    # the rule of fast/conv_batch_inner.py: narrow output rows keep the batch innermost; wide
    # ones run sample by sample (fast/conv_per_sample.py)
    def chosen(H, W, device="cpu"):
        x, w = np.zeros((2, 1, H, W), np.float32), np.zeros((4, 1, 5, 5), np.float32)
        return dispatch.implementation(Conv2d, device, (x, w), dict(stride=(1, 1), padding=(0, 0),
                                                                    dilation=(1, 1), groups=1))
    assert chosen(14, 14) is CB.Conv2dBatchInner and chosen(32, 12) is CB.Conv2dBatchInner
    assert chosen(28, 28) is CS.Conv2dPerSample and chosen(12, 20) is CS.Conv2dPerSample
    assert chosen(14, 14, "cuda") is Conv2d and chosen(28, 28, "cuda") is Conv2d
    with dispatch.reference_only():
        assert chosen(14, 14) is Conv2d
    assert CB.Conv2dBatchInner in dispatch.variants(Conv2d)
    assert CS.Conv2dPerSample in dispatch.variants(Conv2d)


@pytest.mark.parametrize("size, k, s, p, d, expected", [
    (28, 5, 1, 2, 1, 28), (28, 5, 1, 0, 1, 24), (7, 3, 2, 1, 1, 4), (8, 3, 2, 1, 1, 4),
    (9, 3, 1, 2, 2, 9), (5, 2, 3, 0, 1, 2), (4, 4, 1, 0, 1, 1),
])
def test_conv_output_size_follows_pytorch(size, k, s, p, d, expected):
    assert C.conv_output_size(size, k, s, p, d) == expected


# ================================================================ pooling
POOL_CASES = [
    # (N, C, H, W), kernel, stride, padding
    ((2, 3, 8, 8), 2, None, 0),             # tiled: the fast path
    ((2, 2, 9, 6), (3, 2), None, 0),        # tiled, non-square
    ((2, 3, 7, 7), 2, None, 0),             # H, W not divisible: general path, last row dropped
    ((2, 3, 7, 9), 3, 2, 0),                # overlapping windows
    ((2, 2, 7, 7), 3, 2, 1),                # overlapping + padding
    ((1, 2, 6, 5), (2, 3), (1, 2), (1, 1)),  # padding, non-square, stride 1
    ((2, 2, 5, 5), 2, 1, 1),
    ((2, 2, 6, 6), 1, 2, 0),                # 1×1 window: a strided subsample
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_forward_and_gradient(case, device, path):
    shape, k, s, p = case
    k, p = pair(k), pair(p)
    s = k if s is None else pair(s)
    x = distinct(shape)
    out = F.max_pool2d(tg.tensor(x, device=device), case[1], case[2], case[3])
    np.testing.assert_array_equal(out.numpy(), max_pool_ref(x, k, s, p))
    check_grad(lambda t: F.max_pool2d(t, case[1], case[2], case[3]), x, device=device)


@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool2d_forward_and_gradient(case, device, path):
    shape, k, s, p = case
    k, p = pair(k), pair(p)
    s = k if s is None else pair(s)
    x = np.random.default_rng(1).standard_normal(shape)
    out = F.avg_pool2d(tg.tensor(x, device=device), case[1], case[2], case[3])
    np.testing.assert_allclose(out.numpy(), avg_pool_ref(x, k, s, p), rtol=1e-12, atol=1e-12)
    check_grad(lambda t: F.avg_pool2d(t, case[1], case[2], case[3]), x, device=device)


def test_avg_pool2d_counts_padding_in_the_mean(device):
    x = np.ones((1, 1, 2, 2))
    out = F.avg_pool2d(tg.tensor(x, device=device), 2, 1, 1).numpy()
    # corner windows hold one real 1 and three padding zeros: 1/4, not 1
    np.testing.assert_array_equal(out[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum(k, s, p, device, path):
    # a ReLU output is full of tied zeros; each window's gradient must go to ONE place
    rng = np.random.default_rng(2)
    x = np.maximum(rng.standard_normal((2, 2, 6, 6)), 0).round(0)  # many ties at 0 and 1
    xt = tg.tensor(x, device=device, requires_grad=True)
    out = F.max_pool2d(xt, k, s, p)
    grad = rng.standard_normal(out.shape)
    out.backward(tg.tensor(grad, device=device))
    expected = max_pool_grad_ref(x, grad, pair(k), pair(s), pair(p))
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_max_pool2d_constant_window_gradient_goes_top_left(device):
    xt = tg.tensor(np.zeros((1, 1, 4, 4)), device=device, requires_grad=True)
    F.max_pool2d(xt, 2).backward(tg.tensor(np.ones((1, 1, 2, 2)), device=device))
    expected = [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(xt.grad.numpy()[0, 0], expected)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("shape, k", [((2, 3, 8, 8), 2), ((2, 2, 9, 6), (3, 2)), ((1, 2, 4, 4), 4)])
def test_pool_fast_path_agrees_with_general_path(pool, shape, k, device, monkeypatch):
    x = distinct(shape, seed=3)
    grad = np.random.default_rng(4).standard_normal(
        (shape[0], shape[1], shape[2] // pair(k)[0], shape[3] // pair(k)[1]))

    def run():
        xt = tg.tensor(x, device=device, requires_grad=True)
        out = pool(xt, k)
        out.backward(tg.tensor(grad, device=device))
        return out.numpy(), xt.grad.numpy()

    used = []
    tiled = PT._tiled

    def spy(*args, force_general=False):
        used.append(tiled(*args))
        return used[-1] and not force_general

    monkeypatch.setattr(PT, "_tiled", spy)
    fast = run()
    monkeypatch.setattr(PT, "_tiled", lambda *a: spy(*a, force_general=True))
    general = run()
    with dispatch.reference_only():
        reference = run()
    assert used[:1] == [True] if device == "cpu" else not used  # tiled on the CPU; reference on GPUs
    np.testing.assert_array_equal(fast[0], general[0])
    np.testing.assert_allclose(fast[1], general[1], rtol=1e-15, atol=0)
    np.testing.assert_allclose(fast[0], reference[0], rtol=1e-14, atol=0)  # sums in another order
    np.testing.assert_allclose(fast[1], reference[1], rtol=1e-14, atol=0)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1)])
def test_pool_float32_stays_float32(pool, k, s, p, device, path):
    check_dtype(lambda t: pool(t, k, s, p), distinct((2, 2, 6, 6)), device=device)


def test_max_pool2d_padding_is_minus_infinity(device):
    # all-negative input: zero padding would win the max at the border, -inf never does
    x = -1 - distinct((1, 1, 3, 3))
    out = F.max_pool2d(tg.tensor(x, device=device), 2, 2, 1).numpy()
    assert (out < 0).all()
    np.testing.assert_array_equal(out, max_pool_ref(x, (2, 2), (2, 2), (1, 1)))


# ================================================================ errors
def t(shape, dtype=np.float64):
    return tg.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.conv2d(t((8, 8)), t((2, 3, 3, 3))), ValueError, r"4-D input.*\(8, 8\)"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((2, 3, 3))), ValueError, "weight must be a 4-D"),
    (lambda: F.conv2d(t((1, 2, 8, 8)), t((4, 3, 3, 3))), ValueError,
     r"expects an input with 3 channels.*\(1, 2, 8, 8\)"),
    (lambda: F.conv2d(t((1, 4, 8, 8)), t((3, 2, 3, 3)), groups=2), ValueError,
     "3 output channels, not divisible by groups=2"),
    (lambda: F.conv2d(t((1, 4, 8, 8)), t((4, 4, 3, 3)), groups=2), ValueError,
     "with groups=2 expects an input with 8 channels"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), t((3,))), ValueError,
     r"bias must be a Tensor of shape \(4,\)"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3), np.float32)), TypeError,
     "weight dtype float32 does not match input dtype float64"),
    (lambda: F.conv2d(t((1, 3, 8, 8), np.int64), t((4, 3, 3, 3))), TypeError, "floating point"),
    (lambda: F.conv2d(t((1, 3, 4, 4)), t((4, 3, 5, 5))), ValueError, r"too small.*\(0, 0\)"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), padding=-1), ValueError,
     "padding must be >= 0"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), padding=(1, 1, 1)), ValueError,
     "padding must be an int or a pair"),   # right type, wrong length: ValueError (validate.py)
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), stride=1.5), TypeError,
     "stride must be an int or a pair"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), dilation=True), TypeError, "dilation"),
    (lambda: F.conv2d(t((1, 3, 8, 8)), t((4, 3, 3, 3)), groups=0), ValueError, "groups must be"),
    (lambda: F.conv2d(np.zeros((1, 3, 8, 8)), t((4, 3, 3, 3))), TypeError, "must be a Tensor"),
    (lambda: F.max_pool2d(t((8, 8)), 2), ValueError, "4-D input"),
    (lambda: F.max_pool2d(t((1, 1, 8, 8)), 3, 1, 2), ValueError,
     r"at most half of the kernel size.*padding=\(2, 2\).*kernel_size=\(3, 3\)"),
    (lambda: F.avg_pool2d(t((1, 1, 8, 8)), 2, padding=2), ValueError, "at most half"),
    (lambda: F.max_pool2d(t((1, 1, 2, 2)), 3), ValueError, "too small"),
    (lambda: F.avg_pool2d(t((1, 1, 8, 8)), 0), ValueError, "kernel_size must be >= 1"),
    (lambda: F.max_pool2d(t((1, 1, 8, 8)), 2, stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.max_pool2d(t((1, 1, 8, 8), np.int64), 2), TypeError, "floating point"),
])
def test_errors_name_the_bad_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_ops_import_no_layer_above_them():
    # README's layering: ops/ sees only autograd, backend and its own helpers, never Tensors
    import pathlib
    import re
    for path in (pathlib.Path(C.__file__).parent).glob("*.py"):
        imports = re.findall(r"^from \.\.(\w*)", path.read_text(), re.M)
        assert set(imports) <= {"", "autograd", "backend"}, (path.name, imports)


# ---------------------------------------------------------------- found in review
def test_max_pool_with_nan_picks_the_same_position_on_both_paths():
    """The first NaN of a window is its maximum (NumPy's argmax), on the fast path too."""
    x = np.array([[[[1.0, np.nan], [np.nan, 5.0]]]], dtype=np.float32)
    grads = {}
    for name in ("reference", "fast"):
        with dispatch.reference_only(name == "reference"):
            t = tg.tensor(x, requires_grad=True)
            y = F.max_pool2d(t, 2)
            y.sum().backward()
            assert np.isnan(y.item())
            grads[name] = t.grad.numpy()
    np.testing.assert_array_equal(grads["fast"], grads["reference"])
    np.testing.assert_array_equal(grads["fast"].ravel(), [0, 1, 0, 0])


@pytest.mark.parametrize("width", [8, 40])  # narrow and wide outputs: both CPU conv variants
def test_an_empty_batch_convolves_and_pools_to_an_empty_batch(width, path):
    x = tg.zeros(0, 3, width, width, requires_grad=True)
    w, b = tg.randn(4, 3, 3, 3, requires_grad=True), tg.zeros(4, requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, b, padding=1), 2)
    assert y.shape == (0, 4, width // 2, width // 2)
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.abs().sum().item() == 0 and b.grad.tolist() == [0] * 4
