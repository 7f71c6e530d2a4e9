"""The everyday PyTorch API a learner types: Python protocols, dim/axis aliases, (values, indices)
reductions, grad_fn, module-level functions, factories, devices, dtype rules. Each forward is
checked against NumPy; each differentiable one also by a float64 gradcheck."""
import warnings

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from helpers import check_forward, check_grad
from tinygrad_bn import Tensor

M = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])


# ---------------------------------------------------------------- Python protocols
def test_python_number_protocols():
    t = tg.tensor([[2.5]])
    assert float(t) == 2.5 and int(t) == 2 and isinstance(float(t), float)
    assert list(range(10))[tg.tensor(3)] == 3            # __index__ of an int tensor
    np.testing.assert_array_equal(abs(tg.tensor([-1.0, 2.0])).numpy(), [1, 2])
    for convert in (float, int):
        with pytest.raises(ValueError, match="one element"):
            convert(tg.ones(2))
    with pytest.raises(TypeError, match="integer"):
        list(range(3))[tg.tensor(1.0)]


def test_numpy_protocol_on_cpu():
    t = tg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(t), [1, 2])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


# ---------------------------------------------------------------- dim/axis, keepdim/keepdims
@pytest.mark.parametrize("name,fn,fn_np", [
    ("argmax-axis", lambda a: a.argmax(axis=1), lambda a: a.argmax(axis=1)),
    ("argmin-keep", lambda a: a.argmin(dim=0, keepdim=True), lambda a: a.argmin(0, keepdims=True)),
    ("mean-axis-keepdims", lambda a: a.mean(axis=0, keepdims=True), lambda a: a.mean(0, keepdims=True)),
    ("sum-axis", lambda a: a.sum(axis=(0, 1)), lambda a: a.sum((0, 1))),
    ("amax", lambda a: a.amax(1), lambda a: a.max(1)),
    ("amin-keep", lambda a: a.amin(0, keepdim=True), lambda a: a.min(0, keepdims=True)),
    ("var-unbiased-false", lambda a: a.var(1, unbiased=False), lambda a: a.var(1)),
    ("std-axis", lambda a: a.std(axis=0), lambda a: a.std(0, ddof=1)),
    ("all", lambda a: (a > 0).all(1), lambda a: (a > 0).all(1)),
    ("any", lambda a: (a > 6).any(), lambda a: (a > 6).any()),
])
def test_reductions_with_numpy_style_arguments(name, fn, fn_np):
    check_forward(fn, fn_np, M)


def test_max_and_min_along_a_dim_return_values_and_indices(device):
    x = tg.tensor(M, device=device, requires_grad=True)
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), [5, 7])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert indices.dtype == np.int64 and not indices.requires_grad
    out = x.min(1, keepdim=True)
    assert out.values.shape == (2, 1) and out.indices.tolist() == [[0], [1]]
    assert x.max().shape == () and x.max().item() == 7
    values.backward(tg.tensor([10.0, 20.0], device=device, dtype=tg.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 10, 0], [20, 0, 0]])  # to the index only


def test_max_along_a_dim_sends_ties_to_the_first_index():
    x = tg.tensor([[3.0, 3.0, 1.0]], requires_grad=True)
    v, i = x.max(1)
    v.sum().backward()
    assert i.tolist() == [0] and x.grad.tolist() == [[1, 0, 0]]


@pytest.mark.parametrize("name,fn", [
    ("max-dim-values", lambda a: a.max(1).values * 1),
    ("min-dim-keep", lambda a: a.min(0, keepdim=True)[0]),
    ("max-binary", lambda a: tg.max(a, a * 0.5)),
    ("maximum", lambda a: tg.maximum(a, a * -1)),
    ("minimum-broadcast", lambda a: tg.minimum(a, a[0] * 0.3)),
    ("cat", lambda a: tg.cat([a, a * 2, a[:1]], dim=0)),
    ("cat-dim1", lambda a: tg.cat((a, a.exp()), 1)),
    ("stack", lambda a: tg.stack([a, a * a], dim=1)),
    ("where", lambda a: tg.where(a > 0, a, a * a)),
    ("where-scalar", lambda a: tg.where(a > 0, a, 0.0)),
    ("repeat", lambda a: a.repeat(2, 1, 3)),
    ("chunk", lambda a: a.chunk(2, dim=1)[1] * 2),
    ("split-sizes", lambda a: a.split([1, 2], dim=1)[1].exp()),
    ("split-size", lambda a: a.split(2)[-1]),
    ("gather", lambda a: a.gather(1, tg.tensor([[0, 0, 2], [1, 2, 0]]))),
    ("norm-fro", lambda a: a.norm()),
    ("norm-1-dim", lambda a: a.norm(1, dim=1)),
    ("norm-3", lambda a: a.norm(3)),
    ("norm-inf", lambda a: a.norm(float("inf"), dim=0, keepdim=True)),
    ("t", lambda a: a.t() @ a),
    ("pow-neg-sign-clip", lambda a: a.pow(2).neg() + a.sign() * a.clip(-0.5, 0.5)),
    ("contiguous-clone", lambda a: a.T.contiguous() * a.clone().T),
    ("module-functions", lambda a: tg.sqrt(tg.exp(a)) + tg.log(tg.abs(a) + 1) + tg.tanh(a) * tg.sigmoid(a)),
    ("module-reductions", lambda a: tg.sum(a, 1) + tg.mean(a, dim=1) + tg.amax(a, 1) + tg.var(a, 1)),
    ("module-shapes", lambda a: tg.matmul(tg.transpose(a, 0, 1), tg.reshape(a, (2, 3)))),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2)),
    ("gelu", lambda a: F.gelu(a)),
    ("gelu-tanh", lambda a: F.gelu(a, approximate="tanh")),
])
def test_gradcheck_of_everyday_ops(name, fn, device):
    check_grad(fn, (2, 3), device=device)


@pytest.mark.parametrize("name,fn,fn_np", [
    ("cat", lambda a: tg.cat([a, a], 1), lambda a: np.concatenate([a, a], 1)),
    ("stack", lambda a: tg.stack([a, a]), lambda a: np.stack([a, a])),
    ("where", lambda a: tg.where(a > 2, a, -a), lambda a: np.where(a > 2, a, -a)),
    ("maximum", lambda a: tg.maximum(a, 2.5 - a), lambda a: np.maximum(a, 2.5 - a)),
    ("repeat", lambda a: a.repeat(2, 2), lambda a: np.tile(a, (2, 2))),
    ("repeat-new-dim", lambda a: a.repeat(3, 1, 1), lambda a: np.tile(a, (3, 1, 1))),
    ("norm", lambda a: a.norm(), lambda a: np.linalg.norm(a)),
    ("norm-p1", lambda a: a.norm(p=1, dim=0), lambda a: np.abs(a).sum(0)),
    ("gather", lambda a: a.gather(0, tg.tensor([[1, 0, 1]])), lambda a: a[[1, 0, 1], [0, 1, 2]][None]),
    ("sign", lambda a: (a - 2).sign(), lambda a: np.sign(a - 2)),
    ("t", lambda a: a.t(), lambda a: a.T),
    ("leaky_relu", lambda a: F.leaky_relu(a - 2), lambda a: np.where(a > 2, a - 2, 0.01 * (a - 2))),
    ("gelu", lambda a: F.gelu(a - 2),
     lambda a: (a - 2) * 0.5 * (1 + np.vectorize(__import__("math").erf)((a - 2) / np.sqrt(2)))),
])
def test_forward_of_everyday_ops(name, fn, fn_np):
    check_forward(fn, fn_np, M)


def test_chunk_and_split_shapes():
    x = tg.arange(10)
    assert [c.shape for c in x.chunk(3)] == [(4,), (4,), (2,)]
    assert [c.shape for c in x.split(4)] == [(4,), (4,), (2,)]
    assert [c.tolist() for c in x.split([2, 8])] == [[0, 1], list(range(2, 10))]
    with pytest.raises(ValueError, match="add up"):
        x.split([2, 3])


def test_maximum_ties_share_the_gradient():
    a, b = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([1.0, 3.0], requires_grad=True)
    tg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0] and b.grad.tolist() == [0.5, 1]


def test_conversion_methods():
    x = tg.tensor([1.7, -2.2])
    assert x.long().dtype == np.int64 and x.long().tolist() == [1, -2]
    assert x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert x.type() == "tinygrad_bn.FloatTensor" and x.double().type() == "tinygrad_bn.DoubleTensor"
    y = tg.tensor([1, 0])
    assert x.type(y.dtype).dtype == np.int64 and x.type(tg.float64).dtype == np.float64
    assert x.dim() == 1 and x.t() is x and x.eq(x).tolist() == [True, True]
    assert x.contiguous() is x and not x.T.contiguous() is None
    w = tg.zeros(2).requires_grad_()
    assert w.requires_grad and w.requires_grad_(False) is w and not w.requires_grad
    with pytest.raises(TypeError, match="floating point"):
        tg.zeros(2, dtype=tg.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        (tg.ones(2, requires_grad=True) * 2).requires_grad_(False)


# ---------------------------------------------------------------- the graph, as PyTorch shows it
def test_grad_fn_and_next_functions_can_be_walked_like_torchviz():
    w = tg.ones(2, requires_grad=True)
    x = tg.ones(2)
    y = (w * x).exp().sum()
    assert w.grad_fn is None and (x * 2).grad_fn is None
    names, leaves, stack, seen = [], [], [y.grad_fn], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        names.append(node.name())
        if hasattr(node, "variable"):
            leaves.append(node.variable)
        stack += [child for child, _ in node.next_functions if child is not None]
    assert names == ["SumBackward0", "ExpBackward0", "MulBackward0", "AccumulateGrad"]
    assert leaves == [w]
    mul = y.grad_fn.next_functions[0][0].next_functions[0][0]
    assert mul.next_functions[1] == (None, 0)   # x needs no gradient
    assert "grad_fn=<SumBackward0>" in repr(y)


def test_backward_of_a_leaf_accumulates_the_gradient():
    x = tg.ones(2, requires_grad=True)
    x.backward(tg.tensor([1.0, 2.0]))
    x.backward(tg.tensor([1.0, 2.0]))
    assert x.grad.tolist() == [2, 4]
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()


# ---------------------------------------------------------------- grad mode
def test_set_grad_enabled_as_function_and_context_manager():
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
        assert not (tg.ones(1, requires_grad=True) * 2).requires_grad
    assert tg.is_grad_enabled()
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


def test_inference_mode():
    with tg.inference_mode():
        assert not tg.is_grad_enabled()
    with tg.inference_mode(False):
        assert tg.is_grad_enabled()

    @tg.inference_mode()
    def predict(x):
        return x * 2
    assert not predict(tg.ones(1, requires_grad=True)).requires_grad


# ---------------------------------------------------------------- factories
def test_factories_take_size_and_dtype_names():
    assert tg.randn(size=(2, 20)).shape == (2, 20) and tg.zeros(size=(3,)).dtype == np.float32
    assert tg.ones((2, 3), dtype=tg.float64).dtype == tg.double
    assert tg.float is tg.float32 and tg.long == np.int64 and tg.int == np.int32 and tg.bool == np.bool_
    r = tg.randint(0, 10, (1000,))
    assert r.dtype == np.int64 and r.numpy().min() >= 0 and r.numpy().max() <= 9
    assert tg.randint(3, size=(2,)).numpy().max() < 3
    np.testing.assert_allclose(tg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    n = tg.normal(0, 1, (2, 5))
    assert n.shape == (2, 5) and n.dtype == np.float32
    means = tg.normal(tg.full((10000,), 3.0), 0.1)
    assert abs(means.numpy().mean() - 3) < 0.01
    a = np.arange(3.0)
    t = tg.from_numpy(a)
    a[0] = 7
    assert t.tolist() == [7, 1, 2] and t.dtype == np.float64      # shares memory, as torch
    assert tg.full_like(t, 2).tolist() == [2, 2, 2] and tg.empty_like(t).shape == (3,)


@pytest.mark.parametrize("make", [lambda: tg.randn(8, dtype="int64"), lambda: tg.rand(4, dtype=bool),
                                  lambda: tg.randn(2, dtype=tg.int32)])
def test_random_float_factories_refuse_integer_dtypes(make):
    with pytest.raises(TypeError, match="floating point"):
        make()


@pytest.mark.parametrize("make", [lambda: tg.ones(2, dtype=object), lambda: tg.zeros(2, dtype=str),
                                  lambda: tg.full((2,), 1, dtype=object), lambda: tg.tensor([1], dtype="U3"),
                                  lambda: tg.from_numpy(np.array(["a"]))])
def test_factories_refuse_object_and_string_dtypes(make):
    with pytest.raises(TypeError, match="unsupported dtype"):
        make()


@pytest.mark.parametrize("fn", [lambda x: x.sigmoid(), lambda x: x.exp(), lambda x: x.log(),
                                lambda x: x.sqrt(), lambda x: x.tanh(), lambda x: x.softmax(0),
                                lambda x: x.log_softmax(0), lambda x: tg.exp(x), lambda x: x / 2])
def test_float_ops_on_int_and_bool_tensors_give_float32(fn):
    for data in ([1, 2], [True, True]):
        assert fn(tg.tensor(data)).dtype == np.float32


def test_int_logits_into_cross_entropy_stay_float32():
    loss = F.cross_entropy(tg.tensor([[1, 2], [3, 0]]), tg.tensor([1, 0]))
    assert loss.dtype == np.float32


def test_mean_of_an_integer_tensor_raises_as_in_pytorch():
    with pytest.raises(TypeError, match="floating point"):
        tg.tensor([1, 2]).mean()


# ---------------------------------------------------------------- devices
def test_device_objects_are_accepted_wherever_a_device_is():
    cpu = tg.device("cpu")
    assert str(cpu) == "cpu" and cpu == "cpu" and cpu.type == "cpu" and repr(cpu) == "device(type='cpu')"
    assert tg.device("cuda:0").index == 0 and str(tg.device("cuda", 0)) == "cuda:0"
    x = tg.ones(2, device=cpu)
    assert x.to(cpu) is x and x.device == cpu and tg.zeros(1, device=tg.device("cpu")).device == "cpu"
    assert x.to(tg.float64).dtype == np.float64 and x.to("cpu", tg.float64).dtype == np.float64
    assert tg.nn.Linear(2, 2).to(cpu).weight.device == "cpu"
    with pytest.raises(ValueError, match="tpu"):
        tg.device("tpu")


def test_cuda_helpers_never_raise():
    assert tg.cuda.is_available() in (True, False)
    assert tg.cuda.device_count() == (1 if tg.cuda.is_available() else 0) or tg.cuda.device_count() >= 1
    if not tg.cuda.is_available():
        assert tg.cuda.device_count() == 0


def try_gpu(i=0):
    """d2l's helper, verbatim but for the module name."""
    if tg.cuda.device_count() >= i + 1:
        return tg.device(f"cuda:{i}")
    return tg.device("cpu")


def test_d2l_try_gpu_idiom(device):
    dev = try_gpu()
    X = tg.ones(2, 3).to(dev)
    assert X.device == str(dev).split(":")[0]


# ---------------------------------------------------------------- a few module-level forms
def test_module_level_functions_match_methods():
    x = tg.tensor(M)
    for fn in ("exp", "sqrt", "tanh", "sigmoid", "relu", "abs", "sign", "neg"):
        np.testing.assert_array_equal(getattr(tg, fn)(x).numpy(), getattr(x, fn)().numpy())
    assert tg.max(x).item() == 7 and tg.max(x, 1).indices.tolist() == [1, 0]
    assert tg.argmax(x, dim=1).tolist() == [1, 0] and tg.numel(x) == 6
    assert tg.clamp(x, max=2).numpy().max() == 2 and tg.pow(x, 2).numpy()[0, 1] == 25
    idx = tg.where(x > 4)
    assert [i.tolist() for i in idx] == [[0, 1], [1, 0]]
    assert tg.is_tensor(x) and not tg.is_tensor(M)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.mm(x, x.T).shape == (2, 2)


def test_range_index_as_in_d2l_cross_entropy():
    y_hat = tg.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = tg.tensor([0, 2])
    np.testing.assert_allclose(y_hat[range(len(y_hat)), y].numpy(), [0.1, 0.5])


def test_tensor_of_tensors_and_isinstance():
    assert isinstance(tg.tensor(1.0), Tensor)
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).tolist() == [1, 2]


def test_every_public_tensor_method_has_a_docstring():
    import inspect
    undocumented = [name for name, value in inspect.getmembers(Tensor) if not name.startswith("_")
                    and not (value.fget if isinstance(value, property) else value).__doc__]
    assert undocumented == []


# ---------------------------------------------------------------- found in review
def test_maximum_and_minimum_of_integers_stay_exact_integers(device):
    a, b = tg.tensor([2**30 + 1, 2], device=device), tg.tensor([0, 5], device=device)
    assert a.maximum(b).dtype == np.int64 and a.maximum(b).tolist() == [2**30 + 1, 5]
    assert tg.minimum(a, b).tolist() == [0, 2]


@pytest.mark.parametrize("other, expected", [
    (tg.tensor([2.0], dtype=tg.float16), np.float16), (tg.tensor(2.0, dtype=tg.float64), np.float64),
    (tg.tensor([2]), np.float32), (2, np.float32), (2.5, np.float32)])
def test_integer_true_division_takes_the_promoted_float(other, expected):
    assert (tg.tensor([1, 2]) / other).dtype == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64, np.bool_])
def test_sums_of_integers_and_bools_are_int64(dtype, device):
    t = tg.tensor(np.array([[200, 100], [1, 0]], dtype=dtype), device=device)
    assert t.sum().dtype == np.int64 and t.sum(0).dtype == np.int64
    expected = np.array([[200, 100], [1, 0]], dtype=dtype).astype(np.int64)
    assert t.sum().item() == expected.sum() and t.sum(1).tolist() == expected.sum(1).tolist()
