"""Tensor construction, attributes, conversions, factories and the random seed."""
import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import Tensor


# ---------------------------------------------------------------- construction rules
@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([[1, 2.5]], np.float32),
    (3, np.int64), ([1, 2, 3], np.int64), (True, np.bool_), ([True, False], np.bool_),
    (np.zeros(2, dtype=np.float64), np.float64), (np.zeros(2, dtype=np.float16), np.float16),
    (np.zeros(2, dtype=np.int32), np.int32), (np.zeros(2, dtype=np.uint8), np.uint8),
    (np.float64(2.0), np.float64), (np.float32(2.0), np.float32),
])
def test_construction_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype and isinstance(t.dtype, np.dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_function_is_the_constructor(device):
    t = tg.tensor([[1.0, 2.0]], requires_grad=True, device=device, dtype=np.float64)
    assert isinstance(t, Tensor) and t.requires_grad and t.device == device and t.dtype == np.float64


def test_explicit_dtype_keeps_float64_precision():
    assert Tensor(0.1, dtype=np.float64).item() == 0.1
    assert Tensor([1, 2], dtype="float32").dtype == np.float32


def test_construction_copies_its_input():
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    a[0] = 99
    assert t.numpy()[0] == 1.0
    u = Tensor(t)
    t.data[1] = 42
    assert u.numpy()[1] == 2.0 and u.dtype == np.float64


@pytest.mark.parametrize("data", [np.array([1, "a"], dtype=object), np.array(["a", "b"]), "abc", None,
                                  np.array([1 + 2j]), [object()]])
def test_unsupported_data_raises_type_error(data):
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor(data)


@pytest.mark.parametrize("dtype", [np.complex64, np.object_, "U3"])
def test_unsupported_dtype_argument_raises_type_error(dtype):
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor([1, 2], dtype=dtype)


@pytest.mark.parametrize("data", [[1, 2], [True]])
def test_only_float_tensors_can_require_grad(data):
    with pytest.raises(TypeError, match="floating point"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        tg.zeros(2, dtype=np.int64, requires_grad=True)


def test_unknown_or_unavailable_device_raises():
    with pytest.raises(ValueError, match="tpu"):
        Tensor([1.0], device="tpu")
    if not tg.cuda_is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            Tensor([1.0], device="cuda")


def test_cuda_is_available_never_raises():
    assert tg.cuda_is_available() in (True, False)


# ---------------------------------------------------------------- attributes
def test_attributes(device):
    t = Tensor(np.zeros((2, 3, 4), dtype=np.float32), device=device)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.dtype == np.float32 and t.device == device
    assert t.grad is None and t.requires_grad is False and t.is_leaf
    assert t.T.shape == (4, 3, 2) and len(t) == 2 and t.numel() == 24
    assert type(t.array).__name__ == "ndarray" and isinstance(t.data, Tensor)


def test_array_is_an_ndarray_even_for_full_reductions_and_scalar_indexing():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]])
    for out in (t.sum(), t.max(), t[0, 1], t.mean(), t.argmax()):
        assert isinstance(out.array, np.ndarray) and out.shape == ()


def test_is_leaf_and_requires_grad_propagate():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    z = c * 2
    assert z.is_leaf and not z.requires_grad


def test_repr_mentions_dtype_grad_and_values():
    assert "1., 2." in repr(Tensor([1.0, 2.0]))
    assert "float64" in repr(Tensor(np.zeros(2)))
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert "grad_fn" in repr(Tensor([1.0], requires_grad=True) * 2)


def test_bool_of_tensor():
    assert bool(Tensor([1.0])) and not bool(Tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_len_of_0d_raises_and_iteration_yields_rows():
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    rows = list(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]


# ---------------------------------------------------------------- conversion
def test_numpy_item_tolist(device):
    t = Tensor([[1.5, 2.5]], device=device)
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), [[1.5, 2.5]])
    assert t.tolist() == [[1.5, 2.5]]
    assert Tensor([[7.0]], device=device).item() == 7.0
    assert isinstance(Tensor([3], device=device).item(), int)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        t.item()


def test_to_cpu_detach(device):
    x = Tensor([1.0, 2.0], requires_grad=True, device=device)
    assert x.to(device) is x
    y = x.to("cpu")
    assert y.device == "cpu"
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])
    assert x.cpu().device == "cpu"
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    d.data[0] = 5.0  # detach shares memory, like torch
    assert x.numpy()[0] == 5.0


def test_to_device_is_differentiable(device):
    x = Tensor([1.0, 2.0], requires_grad=True, device=device)
    (x.to("cpu") * Tensor([3.0, 4.0])).sum().backward()
    assert x.grad.device == device
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_float_double_astype(device):
    x = Tensor([1, 2], device=device)
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.astype(np.float16).dtype == np.float16 and x.astype("int32").dtype == np.int32
    assert Tensor([1.0], device=device).double().float().dtype == np.float32


# ---------------------------------------------------------------- factories
@pytest.mark.parametrize("factory", [tg.zeros, tg.ones, tg.empty, tg.rand, tg.randn])
def test_factories_take_varargs_or_tuple(factory, device):
    for shape_args in [(2, 3), ((2, 3),), ([2, 3],)]:
        t = factory(*shape_args, device=device)
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.device == device
        assert not t.requires_grad and t.is_leaf
    assert factory(device=device).shape == ()
    assert factory(4, device=device).shape == (4,)
    t = factory(2, dtype=np.float64, requires_grad=True, device=device)
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf


def test_factory_values(device):
    np.testing.assert_array_equal(tg.zeros(2, 2, device=device).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(tg.ones(3, dtype=np.int64, device=device).numpy(), [1, 1, 1])
    assert tg.ones(3, dtype=np.int64).dtype == np.int64
    u = tg.rand(1000, device=device).numpy()
    assert u.min() >= 0 and u.max() < 1 and 0.4 < u.mean() < 0.6
    n = tg.randn(4000, device=device).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1


@pytest.mark.parametrize("fill,dtype", [(1.5, np.float32), (2, np.int64), (True, np.bool_)])
def test_full(fill, dtype, device):
    t = tg.full((2, 3), fill, device=device)
    assert t.shape == (2, 3) and t.dtype == dtype
    assert np.all(t.numpy() == fill)
    assert tg.full(4, 0.5).shape == (4,)
    assert tg.full([2], 7, dtype=np.float64).dtype == np.float64
    assert tg.full((2,), 1.0, requires_grad=True).requires_grad


def test_zeros_like_ones_like(device):
    x = Tensor(np.ones((2, 3), dtype=np.float64), requires_grad=True, device=device)
    z = tg.zeros_like(x)
    assert z.shape == (2, 3) and z.dtype == np.float64 and z.device == device
    assert not z.requires_grad  # like torch: the flag is not copied
    np.testing.assert_array_equal(z.numpy(), np.zeros((2, 3)))
    o = tg.ones_like(x, dtype=np.float32, requires_grad=True)
    assert o.dtype == np.float32 and o.requires_grad
    np.testing.assert_array_equal(o.numpy(), np.ones((2, 3)))
    assert tg.zeros_like(Tensor([1, 2])).dtype == np.int64


@pytest.mark.parametrize("args,kwargs,expected", [
    ((5,), {}, np.arange(5)), ((2, 6), {}, np.arange(2, 6)), ((0, 10, 3), {}, np.arange(0, 10, 3)),
    ((0.0, 1.0, 0.25), {}, np.arange(0, 1, 0.25)), ((4,), {"dtype": np.float64}, np.arange(4.0)),
    ((5, 0, -2), {}, np.arange(5, 0, -2))])
def test_arange(args, kwargs, expected, device):
    t = tg.arange(*args, device=device, **kwargs)
    np.testing.assert_allclose(t.numpy(), expected)
    int_args = all(isinstance(a, int) for a in args)
    assert t.dtype == kwargs.get("dtype", np.int64 if int_args else np.float32)


def test_eye(device):
    np.testing.assert_array_equal(tg.eye(3, device=device).numpy(), np.eye(3))
    np.testing.assert_array_equal(tg.eye(2, 4).numpy(), np.eye(2, 4))
    assert tg.eye(2).dtype == np.float32 and tg.eye(2, dtype=np.float64).dtype == np.float64
    assert tg.eye(2, requires_grad=True).requires_grad


@pytest.mark.parametrize("factory", [tg.rand, tg.randn])
def test_manual_seed_reproducibility(factory, device):
    tg.manual_seed(123)
    a = factory(3, 4, device=device).numpy()
    b = factory(3, 4, device=device).numpy()
    tg.manual_seed(123)
    np.testing.assert_array_equal(factory(3, 4, device=device).numpy(), a)
    np.testing.assert_array_equal(factory(3, 4, device=device).numpy(), b)
    assert not np.array_equal(a, b)
    tg.manual_seed(124)
    assert not np.array_equal(factory(3, 4, device=device).numpy(), a)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_random_factories_honour_dtype(dtype):
    assert tg.rand(3, dtype=dtype).dtype == dtype
    assert tg.randn(3, dtype=dtype).dtype == dtype


def test_public_names_exist():
    for name in ["Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
                 "cuda_is_available", "gradcheck", "relative_error", "zeros", "ones", "full",
                 "empty", "zeros_like", "ones_like", "rand", "randn", "arange", "eye", "manual_seed"]:
        assert hasattr(tg, name), name


# ---------------------------------------------------------------- promotion and dtype edge cases
def test_zero_dim_tensor_does_not_widen_within_its_category(device):
    x = tg.ones(3, device=device)  # float32
    assert (x + tg.tensor(np.float64(2.0), device=device)).dtype == np.float32
    assert (tg.ones(3, dtype=np.float64, device=device) + tg.ones(3, device=device)).dtype == np.float64
    assert (tg.tensor([True, False], device=device) + tg.tensor(np.int64(2), device=device)).dtype == np.int64


def test_matmul_never_upcasts_silently(device):
    a = tg.ones(2, 3, device=device)
    with pytest.raises(TypeError, match="same dtype, got float32 and float64"):
        a @ tg.ones(3, 1, dtype=np.float64, device=device)
    assert (a @ tg.tensor([[1], [2], [3]], device=device)).dtype == np.float32  # int operand cast
    w = tg.ones(4, 3, dtype=np.float64, requires_grad=True, device=device)
    with pytest.raises(TypeError, match="same dtype"):
        F.linear(a, w)


def test_clamp_of_int_tensor_with_float_bound_is_float32(device):
    y = tg.tensor([1, 2, 3], device=device).clamp(1.5)
    assert y.dtype == np.float32 and y.tolist() == [1.5, 2.0, 3.0]


def test_mean_of_empty_is_nan_and_numpy_integer_dims_work(device):
    assert np.isnan(tg.zeros(0, device=device).mean().item())
    x = tg.ones(2, 3, device=device)
    assert x.sum(np.int64(1)).shape == (2,) and x.mean((np.int64(0), 1)).shape == ()


def test_apply_without_tensors_raises_clearly():
    with pytest.raises(TypeError, match="at least one Tensor"):
        tg.autograd.Function.apply()


def test_no_grad_tells_ops_nothing_needs_a_gradient():
    seen = []

    class Spy(tg.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(ctx.needs_input_grad)
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = tg.ones(2, requires_grad=True)
    Spy.apply(x)
    with tg.no_grad():
        Spy.apply(x)
    assert seen == [(True,), (False,)]
