"""Fused batch norm / layer norm: against direct NumPy, against the composed reference (values
and gradients), against central differences, running statistics, errors, and memory. The batch
norm tests run on the op's reference algorithm and on its fast variant (the `path` fixture)."""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import backend
from tinygrad_bn.autograd import Function, saved_nbytes
from tinygrad_bn.nn import reference
from tinygrad_bn.ops.norm import BatchNorm

from test_conv import path  # noqa: F401  (the fixture: reference and fast implementations)

BN_SHAPES = [(6, 4), (5, 3, 4), (4, 3, 3, 2)]
LN_CASES = [((4, 5), (5,)), ((3, 4, 5), (5,)), ((3, 4, 5), (4, 5))]


def make(shape, device, rng, dtype=np.float64, requires_grad=True, scale=1.0, shift=0.0):
    data = rng.standard_normal(shape) * scale + shift
    return tg.Tensor(backend.to_device(data.astype(dtype), device), requires_grad=requires_grad)


def bn_inputs(shape, device, rng, affine, dtype=np.float64):
    c = shape[1]
    x = make(shape, device, rng, dtype, scale=2.0, shift=0.5)
    weight = make((c,), device, rng, dtype, shift=1.0) if affine else None
    bias = make((c,), device, rng, dtype) if affine else None
    running_mean = make((c,), device, rng, dtype, requires_grad=False)
    running_var = tg.Tensor(backend.to_device(rng.uniform(0.5, 2.0, c).astype(dtype), device))
    return x, weight, bias, running_mean, running_var


def numpy_batch_norm(x, mean, var, weight, bias, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape) + bias.reshape(shape)
    return y


def grads_of(fn, inputs, upstream):
    for t in inputs:
        if t is not None:
            t.grad = None
    out = fn()
    out.backward(upstream)
    return out, [None if t is None else t.grad.numpy() for t in inputs]


# ---------------------------------------------------------------- batch norm: values
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_forward_matches_numpy(device, rng, shape, training, affine, path):  # noqa: F811
    x, w, b, rm, rv = bn_inputs(shape, device, rng, affine)
    xn, wn, bn, rmn, rvn = (None if t is None else t.numpy().copy() for t in (x, w, b, rm, rv))
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3)
    axes = (0,) + tuple(range(2, len(shape)))
    if training:
        mean, var = xn.mean(axes), xn.var(axes)
        m = xn.size // shape[1]
        np.testing.assert_allclose(rm.numpy(), 0.7 * rmn + 0.3 * mean, rtol=1e-12)
        np.testing.assert_allclose(rv.numpy(), 0.7 * rvn + 0.3 * var * m / (m - 1), rtol=1e-12)
    else:
        mean, var = rmn, rvn
        np.testing.assert_array_equal(rm.numpy(), rmn)  # eval never touches the buffers
    np.testing.assert_allclose(y.numpy(), numpy_batch_norm(xn, mean, var, wn, bn), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- batch norm: fused == composed
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_fused_equals_reference(device, rng, shape, training, affine, path):  # noqa: F811
    x, w, b, rm, rv = bn_inputs(shape, device, rng, affine)
    rm2, rv2 = tg.Tensor(rm.data), tg.Tensor(rv.data)  # separate copies of the buffers
    upstream = backend.to_device(rng.standard_normal(shape), device)
    y1, g1 = grads_of(lambda: F.batch_norm(x, rm, rv, w, b, training=training), [x, w, b], upstream)
    y2, g2 = grads_of(lambda: reference.batch_norm(x, rm2, rv2, w, b, training=training), [x, w, b], upstream)
    assert tg.relative_error(y1, y2) < 1e-10
    for fused, composed in zip(g1, g2):
        if fused is not None:
            assert tg.relative_error(fused, composed) < 1e-10
    assert tg.relative_error(rm, rm2) < 1e-12 and tg.relative_error(rv, rv2) < 1e-12


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("impl", [F.batch_norm, reference.batch_norm], ids=["fused", "reference"])
def test_batch_norm_gradcheck(device, rng, shape, training, affine, impl, path):  # noqa: F811
    x, w, b, rm, rv = bn_inputs(shape, device, rng, affine)
    inputs = [x] + ([w, b] if affine else [])

    def fn(x, *wb):
        return impl(x, tg.Tensor(rm.data), tg.Tensor(rv.data), *wb, training=training)
    assert tg.gradcheck(fn, inputs)


# ---------------------------------------------------------------- the check has teeth
class BatchNormWithoutVarianceTerm(BatchNorm):
    """A deliberately WRONG backward: drops -x̂·Σ(ĝ·x̂)/m, the variance's path."""

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        axes = (0,) + tuple(range(2, grad.ndim))
        m = grad.size // grad.shape[1]
        dx = inv_std * (grad - grad.sum(axis=axes, keepdims=True) / m)
        return dx


def test_gradcheck_catches_missing_variance_term(device, rng):
    x = make((8, 3), device, rng)

    def wrong(x):
        return BatchNormWithoutVarianceTerm.apply(x, training=True, momentum=0.1, eps=1e-5)

    def right(x):
        return BatchNorm.apply(x, training=True, momentum=0.1, eps=1e-5)

    # The trap: with a `sum()` upstream, both backwards give ~0, so a sum-based check passes.
    for fn in (wrong, right):
        x.grad = None
        fn(x).sum().backward()
        assert np.abs(x.grad.numpy()).max() < 1e-12
    # A random upstream gradient exposes the wrong one and accepts the right one.
    assert tg.gradcheck(right, [x])
    assert not tg.gradcheck(wrong, [x], raise_exception=False)
    with pytest.raises(AssertionError, match="gradcheck failed"):
        tg.gradcheck(wrong, [x])


# ---------------------------------------------------------------- running statistics and errors
def test_running_stats_over_several_steps(device, rng, path):  # noqa: F811
    c, momentum = 3, 0.1
    rm, rv = tg.zeros(c, device=device), tg.ones(c, device=device)
    hand_mean, hand_var = np.zeros(c, np.float32), np.ones(c, np.float32)
    for _ in range(5):
        xn = (rng.standard_normal((16, c, 5, 5)) * 3 + 2).astype(np.float32)
        F.batch_norm(tg.Tensor(backend.to_device(xn, device)), rm, rv, training=True, momentum=momentum)
        hand_mean = (1 - momentum) * hand_mean + momentum * xn.mean((0, 2, 3))
        hand_var = (1 - momentum) * hand_var + momentum * xn.var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(rm.numpy(), hand_mean, rtol=1e-5)
    np.testing.assert_allclose(rv.numpy(), hand_var, rtol=1e-5)
    assert rm.dtype == np.float32 and rv.dtype == np.float32


@pytest.mark.parametrize("impl", [F.batch_norm, reference.batch_norm], ids=["fused", "reference"])
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_raises_in_training(impl, shape):
    x = tg.zeros(*shape)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        impl(x, tg.zeros(3), tg.ones(3), training=True)
    impl(x, tg.zeros(3), tg.ones(3), training=False)  # eval mode is fine


@pytest.mark.parametrize("impl", [F.batch_norm, reference.batch_norm], ids=["fused", "reference"])
def test_batch_norm_bad_shapes_raise(impl):
    with pytest.raises(ValueError, match=r"running_mean has shape \(4,\).*3 channels"):
        impl(tg.zeros(2, 3), tg.zeros(4), tg.ones(3), training=True)
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5, 6\)"):
        impl(tg.zeros(2, 3, 4, 5, 6), tg.zeros(3), tg.ones(3))
    with pytest.raises(ValueError, match="eval mode"):
        impl(tg.zeros(2, 3), None, None, training=False)


def test_batch_norm_float32_stays_float32(device, rng, path):  # noqa: F811
    x, w, b, rm, rv = bn_inputs((4, 3, 2, 2), device, rng, True, dtype=np.float32)
    y = F.batch_norm(x, rm, rv, w, b, training=True)
    y.backward(backend.to_device(rng.standard_normal(y.shape).astype(np.float32), device))
    assert y.dtype == np.float32
    assert {x.grad.dtype, w.grad.dtype, b.grad.dtype, rm.dtype, rv.dtype} == {np.dtype(np.float32)}


def test_batch_norm_weight_without_bias(device, rng, path):  # noqa: F811
    x, w, _, rm, rv = bn_inputs((5, 3), device, rng, True)
    assert tg.gradcheck(lambda x, w: F.batch_norm(x, rm, rv, w, None, training=True), [x, w])


# ---------------------------------------------------------------- memory
def test_fused_batch_norm_saves_one_activation(rng, path):  # noqa: F811
    x, w, b, rm, rv = bn_inputs((32, 4, 6, 6), "cpu", rng, True, dtype=np.float32)
    fused = saved_nbytes(F.batch_norm(x, rm, rv, w, b, training=True))
    composed = saved_nbytes(reference.batch_norm(x, rm, rv, w, b, training=True))
    assert x.array.nbytes <= fused <= x.array.nbytes + 3 * 4 * 4  # x̂, plus r and γ per channel
    # The composed graph keeps two activations (x - μ for the square, and x̂ for the product with
    # γ): our primitives already save only what their backward needs (Sub and Add save shapes).
    assert composed >= 2 * x.array.nbytes


def test_no_grad_saves_nothing(rng):
    x, w, b, rm, rv = bn_inputs((8, 3), "cpu", rng, True)
    with tg.no_grad():
        y = F.batch_norm(x, rm, rv, w, b, training=True)
    assert y._ctx is None and not y.requires_grad


# ---------------------------------------------------------------- layer norm
def numpy_layer_norm(x, k, weight, bias, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y if weight is None else y * weight + bias


@pytest.mark.parametrize("shape,normalized", LN_CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_forward_fused_reference_and_gradcheck(device, rng, shape, normalized, affine):
    x = make(shape, device, rng, scale=2.0, shift=1.0)
    w = make(normalized, device, rng, shift=1.0) if affine else None
    b = make(normalized, device, rng) if affine else None
    y = F.layer_norm(x, normalized, w, b)
    affine = (None if t is None else t.numpy() for t in (w, b))
    expected = numpy_layer_norm(x.numpy(), len(normalized), *affine)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)

    upstream = backend.to_device(rng.standard_normal(shape), device)
    inputs = [x, w, b]
    y1, g1 = grads_of(lambda: F.layer_norm(x, normalized, w, b), inputs, upstream)
    y2, g2 = grads_of(lambda: reference.layer_norm(x, normalized, w, b), inputs, upstream)
    assert tg.relative_error(y1, y2) < 1e-10
    for fused, composed in zip(g1, g2):
        if fused is not None:
            assert tg.relative_error(fused, composed) < 1e-10

    checked = [x] + ([w, b] if affine else [])
    for impl in (F.layer_norm, reference.layer_norm):
        assert tg.gradcheck(lambda x, *wb: impl(x, normalized, *(wb or (None, None))), checked)


@pytest.mark.parametrize("impl", [F.layer_norm, reference.layer_norm], ids=["fused", "reference"])
def test_layer_norm_bad_shape_raises(impl):
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\)"):
        impl(tg.zeros(2, 3), 4)
    with pytest.raises(ValueError, match=r"weight has shape \(2,\)"):
        impl(tg.zeros(2, 3), 3, tg.ones(2), tg.zeros(3))


def test_layer_norm_float32_stays_float32(rng):
    x = make((4, 6), "cpu", rng, np.float32)
    w, b = tg.ones(6, requires_grad=True), tg.zeros(6, requires_grad=True)
    y = F.layer_norm(x, 6, w, b)
    y.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert {y.dtype, x.grad.dtype, w.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}


def test_user_function_subclass_of_norm_op_is_a_function():
    assert issubclass(BatchNormWithoutVarianceTerm, Function)


# ---------------------------------------------------------------- dtype, device and argument checks
@pytest.mark.parametrize("impl", [F.batch_norm, reference.batch_norm], ids=["fused", "reference"])
def test_batch_norm_refuses_mixed_dtypes_and_int_input(impl):
    x = tg.randn(4, 3)
    with pytest.raises(TypeError, match="weight has dtype float64, but the input has float32"):
        impl(x, None, None, tg.ones(3, dtype=np.float64), tg.zeros(3), training=True)
    with pytest.raises(TypeError, match="running_mean has dtype float64"):
        impl(x, tg.zeros(3, dtype=np.float64), tg.ones(3), training=False)
    with pytest.raises(TypeError, match="floating point input, got int64"):
        impl(tg.tensor([[1, 2, 3], [4, 5, 6]]), None, None, training=True)
    with pytest.raises(ValueError, match="momentum=None"):
        impl(x, tg.zeros(3), tg.ones(3), training=True, momentum=None)


@pytest.mark.parametrize("impl", [F.layer_norm, reference.layer_norm], ids=["fused", "reference"])
def test_layer_norm_refuses_mixed_dtypes(impl):
    with pytest.raises(TypeError, match="bias has dtype float64"):
        impl(tg.randn(2, 3), 3, tg.ones(3), tg.zeros(3, dtype=np.float64))


def test_norm_refuses_mixed_devices():
    class OnCuda:  # stands in for a CUDA buffer (no GPU here); only dtype/device/shape are read
        shape, dtype, device = (3,), np.dtype(np.float32), "cuda"
    with pytest.raises(RuntimeError, match="running_var is on cuda, but the input is on cpu"):
        F.batch_norm(tg.randn(4, 3), tg.zeros(3), OnCuda(), training=True)


def test_cross_entropy_names_itself_on_bad_rank():
    with pytest.raises(ValueError, match=r"cross_entropy expects logits \(N, C\)"):
        F.cross_entropy(tg.randn(3), tg.tensor([0, 1, 2]))
