"""nn modules: names, shapes and dtypes of parameters and buffers (PyTorch's, written out
literally), initialisation, forward against NumPy, modes, state dicts, batch norm's running
statistics against a hand computation, repr, devices and dtypes."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn
from tinygrad_bn.nn import init


def names_shapes_dtypes(items):
    return [(name, t.shape, str(t.dtype)) for name, t in items]


def tensor(array, device="cpu", **kwargs):
    return tg.tensor(np.asarray(array), device=device, **kwargs)


# ================================================================ Parameter
def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(tg.zeros(2, 3))
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert p.shape == (2, 3) and p.dtype == np.float32
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32           # Python floats -> float32
    assert not nn.Parameter(tg.zeros(2), requires_grad=False).requires_grad
    assert repr(nn.Parameter(tg.zeros(2))) == ("Parameter containing:\n"
                                               "tensor([0., 0.], requires_grad=True)")


def test_parameter_shares_a_tensor_but_copies_an_array_and_drops_the_graph():
    t = tg.zeros(3)
    assert nn.Parameter(t).array is t.array                          # like torch: no copy
    a = np.zeros(3, dtype=np.float32)
    p = nn.Parameter(a)
    a[0] = 5
    assert p.data[0] == 0
    x = tg.ones(2, requires_grad=True)
    assert nn.Parameter(x * 2).is_leaf
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(np.arange(3))


# ================================================================ names, shapes, dtypes (PyTorch's)
def test_linear_names_shapes_and_dtypes():
    m = nn.Linear(4, 3)
    assert names_shapes_dtypes(m.named_parameters()) == [
        ("weight", (3, 4), "float32"), ("bias", (3,), "float32")]
    assert list(m.named_buffers()) == []
    m = nn.Linear(4, 3, bias=False)
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    assert list(m.state_dict()) == ["weight"]


def test_conv2d_names_shapes_and_dtypes():
    m = nn.Conv2d(3, 8, (3, 5))
    assert names_shapes_dtypes(m.named_parameters()) == [
        ("weight", (8, 3, 3, 5), "float32"), ("bias", (8,), "float32")]
    m = nn.Conv2d(4, 8, 3, groups=2, bias=False)
    assert names_shapes_dtypes(m.named_parameters()) == [("weight", (8, 2, 3, 3), "float32")]
    assert m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (0, 0)


def test_batchnorm_names_shapes_and_dtypes():
    m = nn.BatchNorm2d(6)
    assert names_shapes_dtypes(m.named_parameters()) == [
        ("weight", (6,), "float32"), ("bias", (6,), "float32")]
    assert names_shapes_dtypes(m.named_buffers()) == [
        ("running_mean", (6,), "float32"), ("running_var", (6,), "float32"),
        ("num_batches_tracked", (), "int64")]
    np.testing.assert_array_equal(m.weight.numpy(), np.ones(6))
    np.testing.assert_array_equal(m.bias.numpy(), np.zeros(6))
    np.testing.assert_array_equal(m.running_mean.numpy(), np.zeros(6))
    np.testing.assert_array_equal(m.running_var.numpy(), np.ones(6))
    assert m.num_batches_tracked.item() == 0

    m = nn.BatchNorm1d(5, affine=False)
    assert list(m.named_parameters()) == [] and m.weight is None and m.bias is None
    assert list(m.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    m = nn.BatchNorm1d(5, track_running_stats=False)
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.running_mean is None and m.running_var is None and m.num_batches_tracked is None


def test_layernorm_names_shapes_and_dtypes():
    m = nn.LayerNorm((2, 3))
    assert names_shapes_dtypes(m.named_parameters()) == [
        ("weight", (2, 3), "float32"), ("bias", (2, 3), "float32")]
    assert nn.LayerNorm(4).normalized_shape == (4,)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []


def test_sequential_state_dict_keys_follow_pytorch():
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6))
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked"]
    assert [v.shape for v in sd.values()] == [(6, 1, 5, 5), (6,), (6,), (6,), (6,), (6,), ()]
    assert sd["1.num_batches_tracked"].dtype == np.int64
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    lenet = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(), nn.Linear(3, 1))
    assert list(lenet.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_layers_without_state_have_no_parameters_or_buffers():
    for m in (nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Flatten(), nn.Dropout(), nn.MaxPool2d(2),
              nn.AvgPool2d(2), nn.CrossEntropyLoss(), nn.MSELoss(), nn.Identity()):
        assert list(m.parameters()) == [] and list(m.buffers()) == [] and m.state_dict() == {}


class Net(nn.Module):
    """Own parameter and buffer plus children: PyTorch lists a module's own first."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        self.head = nn.Linear(3, 1)
        self.scale = nn.Parameter(tg.ones(1))
        self.register_buffer("steps", tg.zeros(1))
        self.not_a_param = tg.zeros(1)  # a plain Tensor attribute is not registered

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


def test_nested_names_own_members_first_then_children_in_registration_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
        "head.weight", "head.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "steps", "body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked"]
    assert list(net.state_dict()) == [
        "scale", "steps", "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
        "body.1.running_mean", "body.1.running_var", "body.1.num_batches_tracked",
        "head.weight", "head.bias"]
    assert [n for n, _ in net.named_children()] == ["body", "head"]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Sequential", "Linear", "BatchNorm1d", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "body", "body.0", "body.1", "head"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 7 and len(list(net.children())) == 2


def test_shared_parameters_are_listed_once_but_saved_under_every_name():
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3)
    b.weight = a.weight                                             # tied weights
    model = nn.Sequential(a, b, a)                                  # and a module used twice
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                        "2.weight", "2.bias"]


def test_deepcopy_gives_an_independent_model():
    import copy
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter)
    assert clone[0].weight.array is not model[0].weight.array
    np.testing.assert_array_equal(clone[0].weight.numpy(), model[0].weight.numpy())
    clone[1].running_mean.data[...] = 5
    assert np.all(model[1].running_mean.numpy() == 0)


def test_attribute_registration_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.weight = tg.zeros(2, 2)                                   # a Tensor is not a Parameter
    m.bias = None                                                    # None is allowed
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match="Tensor or None expected"):
        m.register_buffer("buf", np.zeros(2))
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", tg.zeros(1))
    del m.weight
    assert list(m.named_parameters()) == []

    class NoInit(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.zeros(1))
    with pytest.raises(AttributeError, match="super"):
        NoInit()


# ================================================================ init
def test_linear_and_conv_init_follow_pytorch_bounds():
    tg.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)                    # kaiming_uniform_(a=√5): gain·√(3/fan_in)
    w = m.weight.numpy()
    assert w.dtype == np.float32 and m.bias.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.02)  # variance of U(-b, b)
    counts, _ = np.histogram(w, bins=10, range=(-bound, bound))     # flat: ~12000 per bin
    assert np.all(np.abs(counts / counts.mean() - 1) < 0.05), counts
    assert np.abs(m.bias.numpy()).max() <= bound

    conv = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / math.sqrt(4 * 3 * 3)              # fan_in = in/groups · kH · kW
    for p in (conv.weight, conv.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.8 * bound


def test_init_is_reproducible_with_manual_seed():
    tg.manual_seed(123)
    a = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3)).state_dict()
    tg.manual_seed(123)
    b = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3)).state_dict()
    tg.manual_seed(124)
    c = nn.Sequential(nn.Linear(5, 4), nn.Conv2d(2, 3, 3)).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])


def test_init_functions():
    assert init._calculate_fan_in_and_fan_out(tg.empty(16, 8, 3, 5)) == (8 * 15, 16 * 15)
    assert init._calculate_fan_in_and_fan_out(tg.empty(7, 9)) == (9, 7)
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(tg.empty(7))
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)

    tg.manual_seed(0)
    w = tg.empty(500, 200)
    assert init.kaiming_uniform_(w, nonlinearity="relu") is w
    bound = math.sqrt(6 / 200)                    # gain √2 · √(3/fan_in)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 500)
    init.xavier_uniform_(w)
    bound = math.sqrt(6 / 700)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    init.normal_(w, mean=2.0, std=0.5)
    assert abs(w.numpy().mean() - 2.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    init.uniform_(w, -3, -1)
    assert w.numpy().min() >= -3 and w.numpy().max() <= -1
    assert w.dtype == np.float32
    np.testing.assert_array_equal(init.zeros_(w).numpy(), 0)
    np.testing.assert_array_equal(init.ones_(w).numpy(), 1)
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(w, mode="fan_middle")


# ================================================================ forward against NumPy
def numpy_conv2d(x, w, b, stride, padding, dilation, groups):
    """Direct cross-correlation by loops over output channels and kernel positions."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, wd = x.shape
    c_out, c_group, kh, kw = w.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c_out, ho, wo))
    for o in range(c_out):
        g = o // (c_out // groups)
        for i in range(kh):
            for j in range(kw):
                window = x[:, g * c_group:(g + 1) * c_group,
                           i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
                out[:, o] += np.einsum("nchw,c->nhw", window, w[o, :, i, j])
    return out + (0 if b is None else b[None, :, None, None])


@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_matches_numpy(device, bias):
    m = nn.Linear(5, 3, bias=bias).to(device)
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype(np.float32)
    y = m(tensor(x, device))
    expected = x @ m.weight.numpy().T + (m.bias.numpy() if bias else 0)
    assert y.shape == (2, 4, 3) and y.dtype == np.float32 and y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_linear_module_gradients(device):
    m = nn.Linear(4, 3).to(device).double()
    x = tensor(np.random.default_rng(1).standard_normal((5, 4)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: m(x), [x, m.weight, m.bias])


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1),
                                    dict(padding=(1, 2), dilation=2, groups=2, bias=False)])
def test_conv2d_forward_matches_numpy(device, kwargs):
    m = nn.Conv2d(4, 6, (3, 2), **kwargs).to(device)
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 6)).astype(np.float32)
    y = m(tensor(x, device))
    bias = None if m.bias is None else m.bias.numpy()
    expected = numpy_conv2d(x, m.weight.numpy(), bias, m.stride, m.padding, m.dilation, m.groups)
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_conv2d_module_gradients(device):
    m = nn.Conv2d(4, 2, 2, stride=2, padding=1, groups=2).to(device).double()
    x = tensor(np.random.default_rng(2).standard_normal((2, 4, 3, 3)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: m(x), [x, m.weight, m.bias])


def test_pool_flatten_and_activation_modules(device):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    t = tensor(x, device)
    blocks = x.reshape(2, 3, 2, 2, 3, 2)
    np.testing.assert_allclose(nn.MaxPool2d(2)(t).numpy(), blocks.max(axis=(3, 5)))
    np.testing.assert_allclose(nn.AvgPool2d(2)(t).numpy(), blocks.mean(axis=(3, 5)), rtol=1e-6)
    assert nn.Flatten()(t).shape == (2, 72)
    assert nn.Flatten(0, 2)(t).shape == (24, 6)
    np.testing.assert_allclose(nn.ReLU()(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(t).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(t).numpy(), np.tanh(x), rtol=1e-6, atol=1e-7)
    assert nn.Identity()(t) is t


def test_layernorm_forward_matches_numpy(device):
    m = nn.LayerNorm(5).to(device)
    m.weight.data[...] = m.weight.data * 2
    m.bias.data[...] = m.bias.data + 0.5
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    expected = 2 * (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + 0.5
    np.testing.assert_allclose(m(tensor(x, device)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_sequential_container():
    a, b, c = nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)
    model = nn.Sequential(a, b, c)
    assert len(model) == 3 and model[0] is a and model[-1] is c and list(model) == [a, b, c]
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [b, c]
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    x = tg.randn(5, 4)
    np.testing.assert_allclose(model(x).numpy(), c(b(a(x))).numpy())
    with pytest.raises(IndexError):
        model[3]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)
    model.append(nn.Tanh())
    assert len(model) == 4 and isinstance(model[3], nn.Tanh)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_argument_validation():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 6, (3, 3, 3))
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(())
    with pytest.raises(ValueError, match="bool"):
        nn.Linear(2, 2).train("yes")


# ================================================================ modes and gradients
def test_train_eval_propagate_and_return_self():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.body[1].training


def test_zero_grad_sets_grads_to_none():
    net = Net()
    net(tg.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "BatchNorm1d", "Sequential", "Linear", "Net"]
    net.apply(lambda m: init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert np.all(net.head.weight.numpy() == 0)


# ================================================================ state dict
def test_state_dict_returns_numpy_copies():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = model.state_dict()
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["0.weight"][...] = 100
    sd["1.running_mean"] += 1
    assert not np.any(model[0].weight.numpy() == 100)
    assert np.all(model[1].running_mean.numpy() == 0)
    assert sd["1.num_batches_tracked"].shape == () and sd["1.num_batches_tracked"].dtype == np.int64


def test_load_state_dict_round_trip_keeps_objects_dtype_and_does_not_alias():
    tg.manual_seed(0)
    src, dst = Net(), Net()
    src.train()(tg.randn(8, 2))                                     # move the running stats
    sd = src.state_dict()
    sd["head.weight"] = sd["head.weight"].astype(np.float64)       # float64 in -> float32 kept
    params_before = list(dst.parameters())
    result = dst.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(a is b for a, b in zip(dst.parameters(), params_before))
    assert dst.head.weight.dtype == np.float32
    assert dst.body[1].num_batches_tracked.dtype == np.int64
    assert dst.body[1].num_batches_tracked.item() == 1
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, sd[k].astype(v.dtype))
    sd["body.0.weight"][...] = 7                                    # the caller's array changes...
    assert not np.any(dst.body[0].weight.numpy() == 7)             # ...the model does not
    x = tg.randn(4, 2)
    np.testing.assert_allclose(dst.eval()(x).numpy(), src.eval()(x).numpy())
    # values may also be Tensors or nested lists
    dst.load_state_dict({**sd, "scale": tg.tensor([3.0]), "steps": [2.0]})
    assert dst.scale.item() == 3.0 and dst.steps.item() == 2.0


def test_load_state_dict_strict_lists_every_problem_in_one_error():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    sd = model.state_dict()
    del sd["0.bias"], sd["1.running_var"]
    sd["2.weight"] = np.zeros(2, np.float32)
    sd["0.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "0.bias", "1.running_var".' in msg
    assert 'Unexpected key(s) in state_dict: "2.weight".' in msg
    assert "size mismatch for 0.weight" in msg and "(3, 3)" in msg and "(2, 3)" in msg
    for k, v in model.state_dict().items():                         # nothing was loaded
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict(sd, strict=False)                     # shapes are checked anyway


def test_load_state_dict_non_strict_skips_missing_and_unexpected():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    result = model.load_state_dict({"0.weight": np.ones((2, 3)), "extra": np.zeros(1)},
                                   strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias", "1.running_mean",
                                   "1.running_var", "1.num_batches_tracked"]
    assert result.unexpected_keys == ["extra"]
    missing, unexpected = result                                    # a named tuple
    assert unexpected == ["extra"]
    np.testing.assert_array_equal(model[0].weight.numpy(), np.ones((2, 3)))
    assert model[0].weight.dtype == np.float32


def assert_unchanged(model, before):
    after = model.state_dict()
    assert list(after) == list(before)
    for k in before:
        assert after[k].dtype == before[k].dtype, k
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)


def test_load_state_dict_is_all_or_nothing_and_names_each_bad_value(device):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.Linear(2, 2)).to(device)
    before = model.state_dict()
    sd = {k: v + 1 for k, v in before.items()}                      # every value would change...
    sd["1.running_var"] = "1.0"                                     # ...but these cannot load
    sd["2.bias"] = None
    sd["1.num_batches_tracked"] = np.array(b"12")
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    lines = str(info.value).split("\n\t")
    assert lines[0] == "Error(s) in loading state_dict for Sequential:"
    assert len(lines) == 4
    assert '"1.running_var"' in lines[1] and "got str '1.0'" in lines[1]
    assert '"1.num_batches_tracked"' in lines[2] and "dtype |S2" in lines[2]
    assert '"2.bias"' in lines[3] and "got NoneType" in lines[3]
    assert_unchanged(model, before)                                 # not one tensor was touched
    with pytest.raises(RuntimeError, match='"2.bias"'):
        model.load_state_dict(sd, strict=False)                     # unusable values fail either way
    assert_unchanged(model, before)


@pytest.mark.parametrize("key, value, words", [
    ("1.num_batches_tracked", 1.5, "value 1.5 cannot be stored in int64 (not a whole number)"),
    ("1.num_batches_tracked", float("nan"), "not a whole number"),
    ("1.num_batches_tracked", np.uint64(2 ** 63), "out of range for int64"),
    ("1.num_batches_tracked", 2 ** 70, "Python objects"),
    ("0.bias", np.array([1e300, 0.0]), "value 1e+300 overflows float32"),
    ("0.bias", np.array([1 + 2j, 0]), "complex values"),
    ("0.weight", [[1.0, 2.0, 3.0], [4.0, 5.0]], "cannot be read as an array"),
    ("0.weight", np.zeros((3, 2), np.float32), "size mismatch for 0.weight"),
])
def test_load_state_dict_refuses_values_that_change_meaning(key, value, words):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    sd = {k: np.ones_like(v) for k, v in before.items()}
    sd[key] = value
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(sd)
    assert words in str(info.value) and key in str(info.value)
    assert_unchanged(model, before)


def test_load_state_dict_casts_what_keeps_its_meaning_and_bumps_versions():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    versions = [t._version.version for _, t in model._state_items()]
    sd = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    sd["1.num_batches_tracked"] = np.array(158.0)                  # a whole float into int64
    sd["1.running_mean"] = np.array([True, False])                 # bools into float32
    sd["0.bias"] = np.array([1, -2], np.int32)
    model.load_state_dict(sd)
    assert model[1].num_batches_tracked.item() == 158
    assert model[1].num_batches_tracked.dtype == np.int64 and model[0].bias.dtype == np.float32
    np.testing.assert_array_equal(model[1].running_mean.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(model[0].bias.numpy(), [1.0, -2.0])
    # as PyTorch's copy_ under no_grad: each tensor's version counter moved
    assert all(t._version.version > v for (_, t), v in zip(model._state_items(), versions))


# ================================================================ batch norm running statistics
def bn_numpy(x, mean, var, weight=None, bias=None, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape) + bias.reshape(shape)
    return y


def batches(shape, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * (i + 1) + i).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (8, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                       (nn.BatchNorm2d, (4, 3, 2, 5))])
def test_batchnorm_running_stats_with_momentum(device, cls, shape):
    bn = cls(3, momentum=0.1).to(device)
    bn.weight.data[...] = bn.weight.data * 1.5
    bn.bias.data[...] = bn.bias.data - 0.25
    axes = (0,) + tuple(range(2, len(shape)))
    mean, var = np.zeros(3), np.ones(3)
    for step, x in enumerate(batches(shape), start=1):
        y = bn(tensor(x, device))
        bm, bv = x.mean(axes, dtype=np.float64), x.var(axes, dtype=np.float64)
        expected = bn_numpy(x, bm, bv, 1.5 * np.ones(3), -0.25 * np.ones(3))
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)
        assert y.dtype == np.float32 and y.shape == shape
        n = x.size // 3
        mean = 0.9 * mean + 0.1 * bm
        var = 0.9 * var + 0.1 * bv * n / (n - 1)                   # unbiased for the running var
        np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5, atol=1e-6)
        assert bn.num_batches_tracked.item() == step
        assert bn.running_mean.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64

    bn.eval()                                                       # eval: running stats, no update
    x = batches(shape, 1, seed=5)[0]
    y = bn(tensor(x, device))
    np.testing.assert_allclose(y.numpy(), bn_numpy(x, mean, var, 1.5 * np.ones(3),
                                                   -0.25 * np.ones(3)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_momentum_none_is_a_cumulative_average(device):
    bn = nn.BatchNorm1d(3, momentum=None).to(device)
    xs = batches((6, 3), n=4)
    for x in xs:
        bn(tensor(x, device))
    means = [x.mean(0, dtype=np.float64) for x in xs]
    variances = [x.var(0, ddof=1, dtype=np.float64) for x in xs]
    # factor 1/n for the n-th batch: the plain average of every batch's statistics
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean(variances, 0), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 4
    assert "momentum=None" in repr(bn)


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval(device):
    bn = nn.BatchNorm2d(3, track_running_stats=False).to(device)
    x = batches((4, 3, 2, 2), 1)[0]
    expected = bn_numpy(x, x.mean((0, 2, 3)), x.var((0, 2, 3)), np.ones(3), np.zeros(3))
    for mode in (True, False):
        y = bn.train(mode)(tensor(x, device))
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert list(bn.buffers()) == []


def test_batchnorm_tracking_switched_off_later_leaves_the_buffers_alone():
    bn = nn.BatchNorm1d(3)
    bn.track_running_stats = False                                  # as PyTorch: no updates,
    x = batches((4, 3), 1)[0]
    bn(tensor(x))
    assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    assert bn.num_batches_tracked.item() == 0
    y = bn.eval()(tensor(x))                                        # but eval still uses them
    np.testing.assert_allclose(y.numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_batchnorm_without_affine(device):
    bn = nn.BatchNorm1d(3, affine=False).to(device)
    x = batches((5, 3), 1)[0]
    y = bn(tensor(x, device))
    np.testing.assert_allclose(y.numpy(), bn_numpy(x, x.mean(0), x.var(0)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(0), rtol=1e-5, atol=1e-6)


def test_batchnorm_module_gradients(device):
    bn = nn.BatchNorm2d(2).to(device).double()
    init.uniform_(bn.weight, 0.5, 2.0)                              # γ ≠ 1, β ≠ 0: every term counts
    init.uniform_(bn.bias, -1.0, 1.0)
    x = tensor(np.random.default_rng(3).standard_normal((3, 2, 2, 2)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])
    bn.eval()
    assert tg.gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])


def test_batchnorm_input_errors():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        nn.BatchNorm1d(3)(tg.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(tg.randn(2, 3))
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    with pytest.raises(ValueError, match="expected 3 channels"):
        bn(tg.randn(2, 4, 3, 3))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(tg.randn(1, 3))
    assert bn.num_batches_tracked.item() == 0                       # a rejected batch is not counted
    assert bn.eval()(tg.randn(1, 3)).shape == (1, 3)                # eval needs no batch stats


# ================================================================ repr
def test_repr_mirrors_pytorch():
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False), nn.AvgPool2d(2, 1)),
        nn.Flatten(), nn.Linear(4, 3), nn.Dropout(0.25), nn.LayerNorm(3), nn.Sigmoid())
    assert repr(model) == """Sequential(
  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
  (1): BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
  (2): ReLU()
  (3): MaxPool2d(kernel_size=2, stride=2, padding=0)
  (4): Sequential(
    (0): Conv2d(6, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
    (1): AvgPool2d(kernel_size=2, stride=1, padding=0)
  )
  (5): Flatten(start_dim=1, end_dim=-1)
  (6): Linear(in_features=4, out_features=3, bias=True)
  (7): Dropout(p=0.25)
  (8): LayerNorm((3,), eps=1e-05, elementwise_affine=True)
  (9): Sigmoid()
)"""
    assert repr(nn.BatchNorm1d(4, affine=False)) == (
        "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=True)")
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.Conv2d(4, 4, 3, dilation=2, groups=4)) == (
        "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), groups=4)")


# ================================================================ devices and dtypes
def test_to_moves_in_place_and_keeps_the_parameter_objects(device):
    net = Net()
    net(tg.randn(4, 2)).sum().backward()
    params = list(net.parameters())
    assert net.to(device) is net
    assert all(a is b for a, b in zip(net.parameters(), params))
    assert all(t.device == device for t in list(net.parameters()) + list(net.buffers()))
    assert all(p.grad.device == device for p in net.parameters())
    assert net(tg.randn(4, 2, device=device)).device == device
    assert all(type(v) is np.ndarray for v in net.state_dict().values())
    net.cpu()
    assert all(t.device == "cpu" for t in net.buffers())


def test_double_and_float_cast_floating_tensors_only():
    net = Net()
    params = list(net.parameters())
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(a is b for a, b in zip(net.parameters(), params))
    assert net.body[1].running_var.dtype == np.float64
    assert net.body[1].num_batches_tracked.dtype == np.int64
    assert net(tg.randn(3, 2, dtype=np.float64)).dtype == np.float64
    net.float()
    assert all(t.dtype == np.float32 for _, t in net.named_parameters())
    assert net.body[1].num_batches_tracked.dtype == np.int64


# ================================================================ dropout
def test_dropout_train_and_eval(device):
    tg.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = tg.ones(200, 100, device=device)
    y = drop(x).numpy()
    zeroed = (y == 0).mean()
    assert abs(zeroed - 0.3) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    assert np.all(nn.Dropout(0.0)(x).numpy() == 1)


# ================================================================ losses
def test_cross_entropy_loss_matches_numpy(device):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = np.array([0, 3, 1, 1, 2, 0])
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    nll = -log_p[np.arange(6), target]
    smooth = 0.9 * nll - 0.1 * log_p.mean(1)
    for reduction, expected in (("mean", nll.mean()), ("sum", nll.sum()), ("none", nll)):
        out = nn.CrossEntropyLoss(reduction=reduction)(tensor(logits, device), tensor(target, device))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    out = nn.CrossEntropyLoss(label_smoothing=0.1)(tensor(logits, device), tensor(target, device))
    np.testing.assert_allclose(out.numpy(), smooth.mean(), rtol=1e-5)


def test_mse_loss_matches_numpy(device):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for reduction, expected in (("mean", ((a - b) ** 2).mean()), ("sum", ((a - b) ** 2).sum()),
                                ("none", (a - b) ** 2)):
        out = nn.MSELoss(reduction)(tensor(a, device), tensor(b, device))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
        assert out.dtype == np.float32


def test_training_step_through_a_small_model(device):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    x, target = tg.randn(16, 4, device=device), tensor(np.arange(16) % 3, device)
    loss_fn = nn.CrossEntropyLoss()
    first = loss_fn(model(x), target)
    for _ in range(20):
        model.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad.data
    assert loss.item() < first.item()
    assert model[1].num_batches_tracked.item() == 21


# ---------------------------------------------------------------- found in review
def test_flags_must_be_bools_not_merely_truthy():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="requires_grad"):
        lin.requires_grad_("no")
    assert lin.weight.requires_grad
    with pytest.raises(TypeError, match="requires_grad"):
        lin.weight.requires_grad = "no"
    with pytest.raises(TypeError, match="training"):
        F.dropout(tg.ones(3), training="no")
    lin.requires_grad_(np.bool_(False))
    assert not lin.weight.requires_grad


@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_functional_batch_norm_refuses_a_non_positive_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        F.batch_norm(tg.ones(3, 2), None, None, training=True, eps=eps)
