"""The backward engine and grad mode: accumulation, shared nodes, retain_graph, errors, no_grad,
deep graphs, user-written Functions, and what the graph keeps alive."""
import gc
import sys
import weakref

import numpy as np
import pytest

import tinygrad_bn as tg
from helpers import check_grad
from tinygrad_bn import Tensor


def leaf(values, device="cpu", dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True, device=device)


# ---------------------------------------------------------------- accumulation and shared nodes
def test_gradients_accumulate_over_two_backward_calls(device):
    x = leaf([1.0, 2.0], device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.zero_grad()
    assert x.grad is None


def test_diamond_node_used_twice(device):
    x = leaf([1.0, 2.0, 3.0], device)
    a = x * 2          # used by both branches
    y = a.exp() + a * a
    y.sum().backward()
    av = 2 * np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(av) + 2 * av))


@pytest.mark.parametrize("fn,grad", [(lambda x: x + x, lambda v: 2 + 0 * v),
                                     (lambda x: x * x, lambda v: 2 * v),
                                     (lambda x: x / x, lambda v: 0 * v),
                                     (lambda x: x - x + x, lambda v: 1 + 0 * v),
                                     (lambda x: x @ x, lambda v: 2 * v)])
def test_same_tensor_as_both_inputs(fn, grad, device):
    x = leaf([1.0, 2.0, 3.0], device)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), grad(np.array([1.0, 2.0, 3.0])))


def test_only_inputs_that_require_grad_get_one(device):
    x = leaf([1.0, 2.0], device)
    c = Tensor([3.0, 4.0], device=device)
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_non_leaf_tensors_keep_no_grad(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 8 * np.array([1.0, 2.0]))


def test_leaf_grad_is_a_fresh_array_not_shared():
    x = leaf([1.0, 2.0])
    g = np.array([5.0, 6.0])
    (x + 0.0).backward(g)  # Add's backward hands `g` itself on to x
    x.grad.array += 1
    np.testing.assert_array_equal(g, [5.0, 6.0])


# ---------------------------------------------------------------- backward's arguments
def test_scalar_output_gets_gradient_one(device):
    x = leaf([1.0, 2.0], device)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_one_element_non_0d_output_gets_gradient_one(device):
    x = leaf([2.0], device)
    (x * x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])


@pytest.mark.parametrize("kind", ["tensor", "ndarray", "list"])
def test_gradient_argument(kind, device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    g = [[1.0, -1.0], [0.5, 2.0]]
    grad = {"tensor": Tensor(np.array(g), device=device), "ndarray": np.array(g), "list": g}[kind]
    (x * x).backward(grad)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([[1.0, 2.0], [3.0, 4.0]]) * g)


def test_non_scalar_backward_without_gradient_raises(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(2,\)"):
        (x * 2).backward()


def test_gradient_of_wrong_shape_raises(device):
    x = leaf([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


@pytest.mark.parametrize("make", [
    lambda: Tensor([1.0, 2.0]).sum(),                                              # no requires_grad
    lambda: (lambda x: x.detach().sum())(leaf([1.0])),                             # detached
])
def test_backward_of_tensor_without_graph_raises(make):
    with pytest.raises(RuntimeError, match="no graph"):
        make().backward()


def test_backward_under_no_grad_computed_tensor_raises():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no graph"):
        y.backward()


# ---------------------------------------------------------------- retain_graph and freeing
def test_second_backward_without_retain_graph_raises(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_second_backward_through_a_freed_subgraph_raises(device):
    x = leaf([1.0, 2.0], device)
    h = x.tanh()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * np.array([1.0, 2.0]))
    y.backward()  # the last one may free the graph
    with pytest.raises(RuntimeError):
        y.backward()


# ---------------------------------------------------------------- detach and grad mode
def test_detach_blocks_the_gradient(device):
    x = leaf([1.0, 2.0], device)
    y = (x * x.detach()).sum()   # d/dx = x.detach(), not 2x
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_no_grad_context_records_nothing(device):
    x = leaf([1.0, 2.0], device)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2 + x.exp()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y._ctx is None


def test_no_grad_decorator():
    @tg.no_grad()
    def f(x):
        assert not tg.is_grad_enabled()
        return x * 2

    x = leaf([1.0])
    y = f(x)
    assert not y.requires_grad and tg.is_grad_enabled()
    assert f(x)._ctx is None  # the decorator can be called again


def test_no_grad_and_enable_grad_decorate_without_parentheses():
    @tg.no_grad
    def f(x):
        return x * 2

    @tg.enable_grad
    def g(x):
        return x * 2

    x = leaf([1.0])
    assert f(x)._ctx is None and f.__name__ == "f"
    with tg.no_grad():
        assert g(x).requires_grad
        assert not tg.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            y = (x * x).sum()
        assert not tg.is_grad_enabled()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            1 / 0
    assert tg.is_grad_enabled()


def test_nested_no_grad_restores_each_level():
    with tg.no_grad():
        with tg.no_grad():
            pass
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            with tg.no_grad():
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
    assert tg.is_grad_enabled()


# ---------------------------------------------------------------- deep graphs
def test_deep_chain_deeper_than_the_recursion_limit():
    depth = 5000
    assert depth > sys.getrecursionlimit()
    x = leaf([1.0])
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0.0   # 2 ops per step
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** depth], rtol=1e-9)


def test_wide_fan_out_accumulates():
    x = leaf([1.0, 2.0])
    total = x * 0
    for i in range(300):
        total = total + x * float(i)
    total.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [sum(range(300))] * 2)


# ---------------------------------------------------------------- user-written Functions
class Cube(tg.Function):
    """y = x³;  dy/dx = 3x². Saves the input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaledAdd(tg.Function):
    """z = a + alpha·b (b broadcast to a's shape);  da = g, db = alpha·Σ g over broadcast axes.

    Shows a non-array argument on ctx and None for an input that needs no gradient."""

    @staticmethod
    def forward(ctx, a, b, alpha=1.0):
        ctx.alpha, ctx.b_shape = alpha, b.shape
        return a + alpha * b

    @staticmethod
    def backward(ctx, grad):
        gb = None
        if ctx.needs_input_grad[1]:
            gb = (ctx.alpha * grad).sum(axis=0)
        return grad, gb


def test_user_function_forward_backward_and_gradcheck(device):
    x = leaf([1.0, -2.0, 0.5], device)
    y = Cube.apply(x)
    assert isinstance(y, Tensor) and y.requires_grad and not y.is_leaf
    np.testing.assert_allclose(y.numpy(), [1.0, -8.0, 0.125])
    check_grad(lambda t: Cube.apply(t), (3, 2), device=device)
    check_grad(lambda a, b: ScaledAdd.apply(a, b, alpha=2.5), (4, 3), (3,), device=device)


def test_user_function_needs_input_grad_and_none_gradient(device):
    a, b = leaf(np.ones((2, 3)), device), Tensor(np.ones(3), device=device)
    seen = {}

    class Spy(ScaledAdd):
        @staticmethod
        def backward(ctx, grad):
            seen["needs"] = ctx.needs_input_grad
            return ScaledAdd.backward(ctx, grad)

    Spy.apply(a, b, alpha=3.0).sum().backward()
    assert seen["needs"] == (True, False) and b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 3)))


def test_user_function_errors():
    class TooMany(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    class WrongShape(TooMany):
        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    with pytest.raises(RuntimeError, match="returned 2 gradients for 1 input"):
        TooMany.apply(leaf([1.0, 2.0])).sum().backward()
    with pytest.raises(RuntimeError, match=r"shape \(\) for an input of shape \(2,\)"):
        WrongShape.apply(leaf([1.0, 2.0])).sum().backward()
    with pytest.raises(TypeError, match="positional argument 0 is ndarray"):
        Cube.apply(np.ones(2))


# ---------------------------------------------------------------- memory
class SaveCopy(tg.Function):
    """y = 2x, saving a fresh array (a copy of x) that only the graph references."""
    last_ctx = None

    @staticmethod
    def forward(ctx, x):
        SaveCopy.last_ctx = weakref.ref(ctx)
        ctx.save_for_backward(x.copy())
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        (_,) = ctx.saved_tensors
        return grad * 2


def _saved_array_ref():
    ctx = SaveCopy.last_ctx()
    return weakref.ref(ctx.saved_tensors[0])


def test_backward_frees_saved_arrays():
    x = leaf(np.ones(1000))
    y = SaveCopy.apply(x).sum()
    saved = _saved_array_ref()
    gc.collect()
    assert saved() is not None      # the graph keeps it for backward...
    y.backward()
    gc.collect()
    assert saved() is None          # ...and lets go of it once backward has used it


def test_retain_graph_keeps_saved_arrays():
    x = leaf(np.ones(10))
    y = SaveCopy.apply(x).sum()
    saved = _saved_array_ref()
    y.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None
    del y
    gc.collect()
    assert saved() is None          # dropping the output drops the graph


def test_freed_graph_releases_intermediate_tensors():
    x = leaf(np.ones(10))
    h = x.exp()
    ref, tensor_ref = weakref.ref(h.array), weakref.ref(h)
    y = (h * h).sum()
    del h
    gc.collect()
    assert tensor_ref() is None     # the graph links nodes: it keeps no Tensor objects...
    assert ref() is not None        # ...only the arrays ops saved (Exp's output, Mul's inputs)
    y.backward()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("grad_mode", ["no_grad", "no_input_requires_grad"])
def test_no_graph_means_nothing_saved(grad_mode):
    contexts = []

    class Keep(SaveCopy):
        @staticmethod
        def forward(ctx, x):
            contexts.append(ctx)  # a strong reference: we look at what the context still holds
            return SaveCopy.forward(ctx, x)

    x = leaf(np.ones(10)) if grad_mode == "no_grad" else Tensor(np.ones(10))
    if grad_mode == "no_grad":
        with tg.no_grad():
            y = Keep.apply(x)
    else:
        y = Keep.apply(x)
    assert y._ctx is None and not y.requires_grad
    assert contexts[0].saved_tensors == ()
    np.testing.assert_array_equal(y.numpy(), 2 * np.ones(10))


def test_library_ops_under_no_grad_keep_no_references():
    x = leaf(np.ones(10))
    with tg.no_grad():
        h = x.exp()
        ref = weakref.ref(h)
        y = (h * 2).tanh()
    del h
    gc.collect()
    assert ref() is None and y._ctx is None


# ---------------------------------------------------------------- who owns a gradient array
class TimesThree(tg.Function):
    """y = 3x whose backward returns an array it keeps (a constant Jacobian, for dy = ones)."""

    @staticmethod
    def forward(ctx, x):
        ctx.jacobian = np.full(x.shape, 3.0, dtype=x.dtype)
        return x * 3

    @staticmethod
    def backward(ctx, grad):
        return ctx.jacobian


def test_a_gradient_array_a_function_keeps_is_not_taken_over_by_dot_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = TimesThree.apply(x)
    kept = y.grad_fn.jacobian
    for step in range(1, 4):
        y.backward(tg.ones(2), retain_graph=True)
        np.testing.assert_array_equal(x.grad.numpy(), [3.0 * step] * 2)
    np.testing.assert_array_equal(kept, [3.0, 3.0])  # the Function's own array is untouched


def test_gradients_from_a_broadcast_accumulate_and_can_be_changed_in_place():
    """Sum's backward hands back a broadcast view (its elements share memory): .grad copies it."""
    w, x = tg.zeros(4, 3, requires_grad=True), tg.ones(4, 3)
    for _ in range(2):
        (w + x).mean().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full((4, 3), 2 / 12))
    v = tg.zeros(3, requires_grad=True)
    v.mean().backward()
    with tg.no_grad():
        v.grad.mul_(0.5)
    np.testing.assert_allclose(v.grad.numpy(), [1 / 6] * 3)


class HalfInFloat64(tg.Function):
    """y = x / 2 whose backward (carelessly) returns float64 for any input."""

    @staticmethod
    def forward(ctx, x):
        return x / 2

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(np.float64) / 2


def test_the_engine_hands_each_input_a_gradient_of_its_own_dtype():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    (g,) = tg.autograd.grad(HalfInFloat64.apply(h).sum(), h)
    assert g.dtype == np.float32
    HalfInFloat64.apply(x).sum().backward()
    assert x.grad.dtype == np.float32


def test_grad_of_a_non_leaf_skips_the_backward_below_it():
    """Only what leads to the requested inputs runs: h's own backward (which saved h, since
    changed in place) is not needed for d z / d y."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * h
    z = (y * 3).sum()
    with tg.no_grad():
        h.add_(1)
    (g,) = tg.autograd.grad(z, y)
    np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])


def test_a_detached_alias_is_its_own_leaf():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    d = w.detach()
    d.mul_(0.5)                               # allowed, as in PyTorch: d is not a view of w
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 1.0])
    assert w._version.version == d._version.version == 1  # the shared counter saw it


def test_set_grad_enabled_as_a_decorator_changes_nothing_until_the_call():
    @tg.set_grad_enabled(False)
    def inside():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled()
    assert inside() is False and inside() is False  # twice: each call restores its own mode
    assert tg.is_grad_enabled()


def test_a_decorated_function_restores_each_threads_own_mode():
    import threading
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    @tg.no_grad()
    def work(arrived, wait_for, then=None):
        arrived.set()
        wait_for.wait(10)
        if then is not None:
            then.wait(10)

    def a():
        tg.set_grad_enabled(True)
        work(first_in, second_in)
        seen["a"] = tg.is_grad_enabled()
        first_out.set()

    def b():
        tg.set_grad_enabled(False)
        first_in.wait(10)
        work(second_in, first_in, first_out)  # leaves after a() has left
        seen["b"] = tg.is_grad_enabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"a": True, "b": False}


def test_nested_profilers_both_see_every_op():
    from tinygrad_bn.profiler import Profiler
    x = tg.randn(3, requires_grad=True)
    with Profiler() as outer:
        with Profiler() as inner:
            (x * x).sum().backward()
    assert set(outer.records) == set(inner.records) >= {("Mul", "forward"), ("Mul", "backward")}
