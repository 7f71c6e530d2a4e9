"""In-place operations and the version counter, as in PyTorch: `+=` and friends change the
tensor itself (aliases and views see it), weights may only be changed in place under no_grad,
and a backward that would use a value changed since forward raises instead of answering wrong."""
import numpy as np
import pytest

import tinygrad_bn as tg
from helpers import check_grad
from tinygrad_bn import Tensor, nn, optim

VERSION_ERROR = "modified by an inplace operation"


def leaf(values, device="cpu", dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, device=device)


# ---------------------------------------------------------------- the same object, seen by aliases
@pytest.mark.parametrize("op,expected", [
    (lambda a: a.__iadd__(2), [3, 3, 3]), (lambda a: a.__isub__(2), [-1, -1, -1]),
    (lambda a: a.__imul__(3), [3, 3, 3]), (lambda a: a.__itruediv__(4), [0.25, 0.25, 0.25]),
    (lambda a: a.__ipow__(2), [1, 1, 1]), (lambda a: a.add_(2, alpha=3), [7, 7, 7]),
    (lambda a: a.sub_(1, alpha=0.5), [0.5, 0.5, 0.5]), (lambda a: a.mul_(5), [5, 5, 5]),
    (lambda a: a.div_(2), [0.5, 0.5, 0.5]), (lambda a: a.pow_(3), [1, 1, 1]),
    (lambda a: a.zero_(), [0, 0, 0]), (lambda a: a.fill_(7), [7, 7, 7]),
    (lambda a: a.copy_(tg.tensor([1.0, 2.0, 3.0])), [1, 2, 3]),
    (lambda a: a.copy_(tg.tensor(9.0)), [9, 9, 9]),            # broadcast
    (lambda a: a.clamp_(2, 3), [2, 2, 2]), (lambda a: a.clip_(max=0.5), [0.5, 0.5, 0.5]),
])
def test_inplace_ops_change_the_object_and_every_alias(op, expected, device):
    a = tg.ones(3, device=device)
    alias, view = a, a[1:]
    out = op(a)
    assert out is a
    np.testing.assert_allclose(alias.numpy(), expected)
    np.testing.assert_allclose(view.numpy(), expected[1:])
    assert a.dtype == np.float32


def test_augmented_assignment_keeps_the_name_bound_to_the_same_tensor(device):
    a = tg.ones(3, device=device)
    b = a
    a += 1
    assert a is b
    np.testing.assert_array_equal(b.numpy(), [2, 2, 2])


def test_writing_through_a_view_changes_the_base(device):
    a = tg.zeros(2, 3, device=device)
    row = a[1]
    row += 5
    a.reshape(-1)[0] = 1
    a.T[2, 0] = 3
    np.testing.assert_array_equal(a.numpy(), [[1, 0, 3], [5, 5, 5]])


def test_setitem(device):
    a = tg.zeros(3, 4, device=device)
    a[0] = 1
    a[1, 1:3] = tg.tensor([2.0, 3.0], device=device)
    a[a > 2.5] = -1
    a[[2, 2], [0, 3]] = 4
    np.testing.assert_array_equal(a.numpy(), [[1, 1, 1, 1], [0, 2, -1, 0], [4, 0, 0, 4]])


def test_matmul_in_place(device):
    a = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    alias = a
    a @= tg.tensor([[0.0, 1.0], [1.0, 0.0]], device=device)
    np.testing.assert_array_equal(alias.numpy(), [[2, 1], [4, 3]])
    with pytest.raises(RuntimeError, match="shape"):
        a @= tg.ones(2, 3, device=device)


def test_random_fills_in_place_follow_the_seed(device):
    tg.manual_seed(3)
    u = tg.empty(1000, device=device).uniform_(-2, 5)
    n = tg.empty(1000, device=device).normal_(10, 0.5)
    assert -2 <= u.numpy().min() and u.numpy().max() < 5 and abs(u.numpy().mean() - 1.5) < 0.3
    assert abs(n.numpy().mean() - 10) < 0.1 and abs(n.numpy().std() - 0.5) < 0.1
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.empty(1000, device=device).uniform_(-2, 5).numpy(), u.numpy())
    with pytest.raises(TypeError, match="floating point"):
        tg.zeros(3, dtype=tg.int64).uniform_()


# ---------------------------------------------------------------- dtype and shape rules
def test_inplace_refuses_results_it_cannot_hold():
    i = tg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 1.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        i /= 2
    i += 2
    assert i.dtype == np.int64 and i.tolist() == [3, 4, 5]
    f = tg.ones(3)
    f += tg.ones(3, dtype=tg.float64)          # a float64 result fits a float32 tensor (as torch)
    assert f.dtype == np.float32
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape"):
        tg.ones(3).add_(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        tg.ones(3).copy_(tg.ones(4))


# ---------------------------------------------------------------- leaves that require grad
def test_inplace_on_a_leaf_that_requires_grad_raises_while_grad_mode_is_on():
    w = tg.ones(3, requires_grad=True)
    for op in (lambda: w.__iadd__(1), lambda: w.mul_(2), lambda: w.zero_(),
               lambda: w.__setitem__(0, 5.0), lambda: w.uniform_()):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[1:].add_(1)
    np.testing.assert_array_equal(w.numpy(), [1, 1, 1])  # nothing was written
    with tg.no_grad():
        w -= 0.5
        w[0] = 2
    np.testing.assert_array_equal(w.numpy(), [2, 0.5, 0.5])
    assert w.is_leaf and w.requires_grad


def test_d2l_manual_sgd_updates_the_weights_in_place():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    params = [w]
    with tg.no_grad():
        for param in params:
            param -= 0.1 * param.grad
            param.grad.zero_()
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    np.testing.assert_array_equal(w.grad.numpy(), [0, 0])
    assert params[0] is w


# ---------------------------------------------------------------- in-place ops inside the graph
def test_inplace_on_a_non_leaf_is_recorded_in_the_graph(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    h = x * 2
    h += w            # h = 2x + w
    h *= x            # h = (2x + w)·x
    assert h.grad_fn.name() == "MulBackward0"
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.array([1, 2]) + [3, 4])
    np.testing.assert_allclose(w.grad.numpy(), [1, 2])


def test_consumers_built_before_an_inplace_op_keep_the_old_history(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    z = y * 3         # uses y's old value and history (Mul saved no copy of y: it needs none)
    y += 100
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6, 6])


@pytest.mark.parametrize("name,fn", [
    ("iadd-imul", lambda x, w: (lambda h: (h.__iadd__(w), h.__imul__(w))[-1])(x * 1)),
    ("setitem", lambda x, w: (lambda h: (h.__setitem__((0, slice(1, 3)), w[1, :2] * 3), h)[-1])(x * 1)),
    ("subscript-iadd", lambda x, w: (lambda h: (h.__setitem__(1, h[1].__iadd__(w[0])), h)[-1])(x * 1)),
    ("copy", lambda x, w: (x * 1).copy_(w * w)),
    ("clamp", lambda x, w: (x * w).clamp_(-0.5, 0.5)),
    ("div-pow", lambda x, w: (x * 1).div_(w).pow_(2)),
])
def test_gradcheck_through_inplace_ops(name, fn, device):
    check_grad(fn, (2, 3), (2, 3), device=device)


def test_subscript_augmented_assignment_records_the_gradient(device):
    h = tg.zeros(2, 3, device=device, dtype=tg.float64)
    w = leaf([1.0, 2.0, 3.0], device)
    h[0] += w         # Python runs h.__setitem__(0, h[0].__iadd__(w))
    (h * h).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2, 4, 6])


def test_stale_histories_raise_instead_of_answering_wrong(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    h = x * 1
    v = h[0:1]
    v *= w[0]         # h changed through a view: h's own graph misses it
    with pytest.raises(RuntimeError, match="through one of its views"):
        h.sum()
    h2 = x * 1
    v2 = h2[0:1]
    h2 *= w           # the view's graph misses its base's change
    with pytest.raises(RuntimeError, match="view .* after its base was modified"):
        v2.sum()


# ---------------------------------------------------------------- the version counter
def test_views_and_detach_share_the_version_counter_and_data_does_not(device):
    a = tg.ones(2, 2, device=device)
    start = a._version.version
    a.view(-1).add_(1)
    a[0].mul_(2)
    a.detach().zero_()
    a.T.fill_(3)
    assert a._version.version == start + 4
    a.data.fill_(5)   # PyTorch's escape hatch: not counted
    assert a._version.version == start + 4


@pytest.mark.parametrize("case", ["saved-input", "saved-output", "view", "detached-alias",
                                  "no-grad-write", "setitem"])
def test_backward_refuses_values_changed_since_forward(case, device):
    x = leaf([1.0, 2.0, 3.0], device)
    if case == "saved-input":
        h = x * 1
        y = h * x     # Mul saves h for x's gradient
        h.detach().add_(1)
    elif case == "saved-output":
        y = x.exp()   # Exp saves its output
        y.detach().mul_(0)
    elif case == "view":
        h = x * 1
        y = h * h     # Mul saves both inputs
        h.view(3)[0:1].detach().add_(1)
    elif case == "detached-alias":
        y = x.tanh()
        alias = y.detach()
        alias *= 0
    elif case == "no-grad-write":
        h = x * 1
        y = h.log()
        with tg.no_grad():
            h += 1
    else:
        y = x.sigmoid()
        with tg.no_grad():
            y[1] = 0
    with pytest.raises(RuntimeError, match=VERSION_ERROR + r".*version 1; expected version 0"):
        y.sum().backward()


def test_backward_after_an_optimizer_step_raises():
    tg.manual_seed(0)
    lin = nn.Linear(3, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    x = tg.randn(4, 3)
    lin(x).sum().backward()
    y = lin(x).sum()  # built with the old weights
    opt.step()        # updates them in place
    with pytest.raises(RuntimeError, match=VERSION_ERROR + r".*MatMulBackward0"):
        y.backward()


def test_writes_through_data_are_not_seen_as_pytorch_documents():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.data.mul_(0)    # the escape hatch: PyTorch computes with the changed values too
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0])


# ---------------------------------------------------------------- .data as in PyTorch
def test_data_is_a_tensor_sharing_storage_without_grad(device):
    w = tg.ones(3, requires_grad=True, device=device)
    d = w.data
    assert isinstance(d, Tensor) and not d.requires_grad and d.device == device
    d[0] = 5
    w.data -= 1       # d2l's idiom: writes into w's values, w stays a leaf
    np.testing.assert_array_equal(w.numpy(), [4, 0, 0])
    assert w.is_leaf and w.requires_grad and isinstance(w.array, type(d.array))


def test_assigning_data_swaps_the_storage():
    w = nn.Parameter(tg.ones(3))
    w.data = tg.zeros(2, 2, dtype=tg.float64)
    assert w.shape == (2, 2) and w.dtype == np.float64 and isinstance(w, nn.Parameter)
    with pytest.raises(TypeError, match="Tensor"):
        w.data = [1, 2]


def test_grad_assignment_is_checked():
    w = tg.ones(3, requires_grad=True)
    w.grad = tg.full((3,), 2.0)
    assert w.grad.tolist() == [2, 2, 2]
    for bad, what in ((tg.ones(4), "size"), (tg.ones(3, dtype=tg.float64), "type"), ([1, 2, 3], "Tensor")):
        with pytest.raises((RuntimeError, TypeError), match=what):
            w.grad = bad
    w.grad = None


# ---------------------------------------------------------------- found in review
def test_backward_of_a_tensor_written_through_its_view_raises(device):
    x = tg.ones(2, 2, requires_grad=True, device=device)
    y = x * 2
    y[0].mul_(3)  # through a view: y's own graph misses the change
    with pytest.raises(RuntimeError, match="modified in place through one of its views"):
        y.backward(tg.ones(2, 2, device=device))
    with pytest.raises(RuntimeError, match="modified in place through one of its views"):
        tg.autograd.grad(y.sum(), x)


def test_a_buffer_written_through_a_view_while_recording_is_not_used_as_a_constant(device):
    """b does not require grad, but a view of it now holds x's values: using b as a constant
    would silently drop x's gradient."""
    x = tg.tensor([1.0, 2.0], requires_grad=True, device=device)
    b = tg.zeros(4, device=device)
    b[0:2].copy_(x)
    with pytest.raises(RuntimeError, match="modified in place through one of its views"):
        (b * b).sum()


def test_fill_with_a_tensor_that_requires_grad_passes_its_gradient(device):
    v = tg.tensor(2.0, requires_grad=True, device=device)
    b = tg.zeros(3, device=device)
    b.fill_(v)
    (b * tg.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert v.grad.item() == 6.0
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        b.fill_(tg.ones(2, device=device))


def test_random_fills_work_for_every_float_dtype(device):
    for dtype in (tg.float16, tg.float32, tg.float64):
        t = tg.zeros(100, dtype=dtype, device=device)
        assert t.uniform_(2, 3).dtype == dtype and 2 <= t.min().item() and t.max().item() <= 3
        assert t.normal_(5, 0.1).dtype == dtype and abs(t.mean().item() - 5) < 0.1


def test_view_shares_memory_or_raises(device):
    x = tg.arange(4.0, device=device).reshape(2, 2)
    x.view(4)[0] = 100.0
    assert x[0, 0].item() == 100.0
    with pytest.raises(RuntimeError, match="Use .reshape"):
        x.t().view(4)
    assert x.t().reshape(4).tolist() == [100.0, 2.0, 1.0, 3.0]


def test_np_array_of_a_tensor_is_a_copy():
    t = tg.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 99.0
    assert t.tolist() == [1.0, 2.0]
    assert np.asarray(t) is t.array  # asarray shares memory, as for a NumPy array
