"""Higher-order gradients: create_graph, autograd.grad, gradgradcheck on every op, batch norm's
and layer norm's hand-derived double backward against the composed references, and what a
user's Function must do to be differentiated twice (and the error when it did not)."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from test_conv import path  # noqa: F401  (the fixture: reference and fast implementations)
from test_ops import CASES, IDS, _arrays
from tinygrad_bn import Function, autograd, nn
from tinygrad_bn.nn import reference


def t64(a, device="cpu", requires_grad=True):
    return tg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad, device=device)


# ---------------------------------------------------------------- every op, twice differentiated
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradgradcheck_every_op(case, device):
    _, fn, _, _, _ = case
    inputs = [t64(a, device) for a in _arrays(case)]
    assert tg.gradgradcheck(fn, inputs)


CONV = [((2, 2, 6, 6), (3, 2, 3, 3), dict(stride=2, padding=1)),
        ((1, 4, 5, 5), (4, 2, 2, 2), dict(dilation=2, groups=2))]


@pytest.mark.parametrize("x_shape,w_shape,kw", CONV)
def test_conv2d_second_and_third_derivatives(x_shape, w_shape, kw, device, path):  # noqa: F811
    rng = np.random.default_rng(0)
    x, w = t64(rng.standard_normal(x_shape), device), t64(rng.standard_normal(w_shape), device)
    b = t64(rng.standard_normal(w_shape[0]), device)
    assert tg.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])
    G = t64(rng.standard_normal(F.conv2d(x, w, **kw).shape), device)
    first = lambda x, w, G: autograd.grad(F.conv2d(x, w, **kw), [x, w], G, create_graph=True)  # noqa: E731
    assert tg.gradgradcheck(first, [x, w, G])   # third derivatives


@pytest.mark.parametrize("pool,args", [(F.max_pool2d, (3, 2, 1)), (F.max_pool2d, (2,)),
                                       (F.avg_pool2d, (3, 2, 1)), (F.avg_pool2d, (2,))])
def test_pool_second_and_third_derivatives(pool, args, device, path):  # noqa: F811
    x = t64(np.random.default_rng(1).permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) / 7, device)
    assert tg.gradgradcheck(lambda x: pool(x, *args), [x])
    G = t64(np.random.default_rng(2).standard_normal(pool(x, *args).shape), device)
    assert tg.gradgradcheck(lambda x, G: autograd.grad(pool(x, *args), x, G, create_graph=True), [x, G])


# ---------------------------------------------------------------- batch norm and layer norm
def second_order(fn, inputs, G, seed=5):
    """All second derivatives of <fn(inputs), G>, projected on random directions: the gradient of
    Σ_i <∂/∂input_i, U_i> with respect to the inputs and G."""
    firsts = autograd.grad(fn(*inputs), inputs, G, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(seed)
    total = sum((g * tg.tensor(rng.standard_normal(g.shape), device=g.device)).sum()
                for g in firsts if g is not None and g.requires_grad)
    return autograd.grad(total, list(inputs) + [G], allow_unused=True)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 4)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_second_order_equals_the_composed_reference(shape, affine, training, device):
    rng = np.random.default_rng(0)
    C = shape[1]
    x = t64(rng.standard_normal(shape) * 2 + 1, device)
    wb = [t64(rng.standard_normal(C), device), t64(rng.standard_normal(C), device)] if affine else []
    rm, rv = t64(rng.standard_normal(C), device, False), t64(rng.random(C) + 0.5, device, False)
    G = t64(rng.standard_normal(shape), device)
    results = []
    for impl in (F.batch_norm, reference.batch_norm):
        def fn(x, *wb):
            return impl(x, tg.Tensor(rm), tg.Tensor(rv), *wb, training=training)
        results.append(second_order(fn, [x] + wb, G))
    for fused, composed in zip(*results):
        assert (fused is None) == (composed is None)
        if fused is not None:
            assert tg.relative_error(fused, composed) < 1e-10

    def bn(x, *wb):
        return F.batch_norm(x, tg.Tensor(rm), tg.Tensor(rv), *wb, training=training)
    assert tg.gradgradcheck(bn, [x] + wb)


@pytest.mark.parametrize("shape,normalized", [((6, 5), (5,)), ((4, 3, 5), (5,)), ((3, 2, 4, 4), (4, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_second_order_equals_the_composed_reference(shape, normalized, affine, device):
    rng = np.random.default_rng(1)
    x = t64(rng.standard_normal(shape) * 2 + 1, device)
    wb = [t64(rng.standard_normal(normalized), device), t64(rng.standard_normal(normalized), device)] \
        if affine else []
    G = t64(rng.standard_normal(shape), device)
    results = [second_order(lambda x, *wb: impl(x, normalized, *wb), [x] + wb, G)
               for impl in (F.layer_norm, reference.layer_norm)]
    for fused, composed in zip(*results):
        assert (fused is None) == (composed is None)
        if fused is not None:
            assert tg.relative_error(fused, composed) < 1e-10
    assert tg.gradgradcheck(lambda x, *wb: F.layer_norm(x, normalized, *wb), [x] + wb)


def test_batch_norm_modules_differentiate_twice():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Sigmoid(), nn.Linear(6, 1)).double()
    x = tg.randn(8, 4, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda x: model(x), [x])


def test_third_order_through_batch_norm_says_it_is_not_supported():
    x = t64(np.random.default_rng(0).standard_normal((5, 2)))
    (g,) = autograd.grad(F.batch_norm(x, None, None, training=True).pow(3).sum(), x, create_graph=True)
    (h,) = autograd.grad((g * g).sum(), x)      # second order: fine
    assert h.shape == x.shape
    (g,) = autograd.grad(F.batch_norm(x, None, None, training=True).pow(3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="third derivatives through batch norm .* not supported"):
        autograd.grad((g * g).sum(), x, create_graph=True)


# ---------------------------------------------------------------- the API
def test_create_graph_gradients_carry_a_graph_and_retain_it():
    x = t64([1.0, 2.0, 3.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.numpy(), [3, 12, 27])
    (hessian_diagonal,) = autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(hessian_diagonal.numpy(), [6, 12, 18])


def test_autograd_grad_leaves_dot_grad_alone_and_handles_several_inputs_and_outputs():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    a, b = (x * y).sum(), (x * x).sum()
    gx, gy = autograd.grad([a, b], [x, y], retain_graph=True)
    assert x.grad is None and y.grad is None
    np.testing.assert_allclose(gx.numpy(), [3 + 2, 4 + 4])
    np.testing.assert_allclose(gy.numpy(), [1, 2])
    (g,) = autograd.grad(a * 1, x, grad_outputs=tg.tensor(2.0, dtype=tg.float64))
    np.testing.assert_allclose(g.numpy(), [6, 8])


def test_autograd_grad_of_an_unused_input():
    x, unused = t64([1.0]), t64([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [x, unused], retain_graph=True)
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [2]


def test_autograd_grad_of_a_non_leaf_input():
    x = t64([1.0, 2.0])
    h = x * 3
    (gh,) = autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), 2 * 3 * np.array([1, 2]))


def test_without_create_graph_no_graph_is_built_and_nothing_is_kept():
    x = t64(np.ones(10))
    y = (x.exp() * x).sum()
    saved = weakref.ref(y.grad_fn.next_functions[0][0].saved_tensors[0])
    (g,) = autograd.grad(y, x)
    assert g.grad_fn is None and not g.requires_grad
    gc.collect()
    assert saved() is None      # the graph's saved arrays are freed as in a plain backward
    y2 = (x.exp() * x).sum()
    y2.backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_create_graph_defaults_retain_graph():
    x = t64([1.0, 2.0])
    y = (x ** 2).sum()
    autograd.grad(y, x, create_graph=True)
    autograd.grad(y, x)             # the graph was kept by the first call
    with pytest.raises(RuntimeError, match="second time"):
        autograd.grad(y, x)


# ---------------------------------------------------------------- a user's Function
class Cube(Function):
    """y = x³;  dy/dx = 3x². Saves its input: twice differentiable once it says so."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class TwiceDifferentiableCube(Cube):
    differentiable_backward = True


class CubeSavingASquare(Function):
    """Saves x² (an intermediate computed from x) instead of x."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x * x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x2,) = ctx.saved_tensors
        return grad * 3 * x2


class InvStdWithConstantR(Function):
    """y = x·r with r = 1/√(Σx²/n + ε): DeZero's batch-norm bug in small. Its first backward is
    right; its graph_backward holds r constant although r depends on x."""

    @staticmethod
    def forward(ctx, x):
        r = 1 / np.sqrt((x * x).mean() + 1e-5)
        ctx.save_for_backward(x)
        ctx.r = r
        return x * r

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        r, n = ctx.r, x.size
        return r * grad - (r ** 3 / n) * x * (grad * x).sum()

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        r, n = float(ctx.r), x.numel()          # the bug: r taken as a number, not a function of x
        return r * grad - (r ** 3 / n) * x * (grad * x).sum()


def test_a_function_that_did_not_opt_in_raises_when_differentiated_twice():
    x = t64([1.0, 2.0])
    assert tg.gradcheck(lambda x: Cube.apply(x), [x])     # first order works as ever
    with pytest.raises(RuntimeError, match="Cube does not support double backward.*differentiable_backward"):
        autograd.grad(Cube.apply(x).sum(), x, create_graph=True)


def test_an_opted_in_function_is_twice_differentiable():
    x = t64([1.0, -2.0, 0.5])
    assert tg.gradgradcheck(lambda x: TwiceDifferentiableCube.apply(x), [x])
    (g,) = autograd.grad(TwiceDifferentiableCube.apply(x).sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_a_saved_float_intermediate_is_refused_not_treated_as_constant():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="neither an input nor its output"):
        autograd.grad(CubeSavingASquare.apply(x).sum(), x, create_graph=True)


def test_gradgradcheck_catches_a_second_derivative_that_holds_r_constant():
    x = t64(np.random.default_rng(3).standard_normal(5))
    assert tg.gradcheck(lambda x: InvStdWithConstantR.apply(x), [x])     # first order: right
    assert not tg.gradgradcheck(lambda x: InvStdWithConstantR.apply(x), [x], raise_exception=False)
    with pytest.raises(AssertionError, match="gradcheck failed"):
        tg.gradgradcheck(lambda x: InvStdWithConstantR.apply(x), [x])


# ---------------------------------------------------------------- the examples
def test_higher_order_example_runs_and_checks_itself(capsys):
    import os
    import sys
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(repo, "examples"))
    import batchnorm_check
    import higher_order
    higher_order.main()                      # asserts Newton's limit, Hv and the penalty's gradient
    out = capsys.readouterr().out
    assert "x = 2.250000000000" in out and "central differences" in out

    def bn(impl):
        return lambda x, g, b: impl(x, None, None, g, b, training=True)
    batchnorm_check.check_second_order("bn", bn(F.batch_norm), bn(reference.batch_norm), (4, 3), (3,),
                                       np.random.default_rng(0))
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("d2/")]
    assert len(rows) == 3 and all(float(r[1]) < 1e-6 and float(r[2]) < 1e-12 for r in rows)


# ---------------------------------------------------------------- saved views of an input
def test_second_derivative_through_a_saved_view_of_the_same_input():
    """In x * x.T the saved x.T is the second input (a transposed view of x's storage): its
    gradient must go back through the transpose. f = Σ x_ij x_ji, ∇f = 2xᵀ, ∇(Σ ∇f ∘ c) = 2cᵀ."""
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    c = tg.tensor([[1.0, 10.0], [100.0, 1000.0]], dtype=tg.float64)
    (g,) = autograd.grad((x * x.T).sum(), x, create_graph=True)
    (g2,) = autograd.grad((g * c).sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy().T)
    np.testing.assert_allclose(g2.numpy(), 2 * c.numpy().T)


@pytest.mark.parametrize("fn", [lambda x: x * x.T, lambda x: x @ x.T, lambda x: x @ x,
                                lambda x: (x * 2) * (x * 2)[0], lambda x: x[0] * x[:, 1]],
                         ids=["x*x.T", "x@x.T", "x@x", "y*y[0]", "x[0]*x[:,1]"])
def test_gradgradcheck_where_inputs_share_storage(fn):
    x = t64(np.random.default_rng(0).standard_normal((3, 3)))
    assert tg.gradgradcheck(fn, [x])


def test_a_detached_factor_is_a_constant_at_second_order():
    x = t64([1.0, 2.0])
    (g,) = autograd.grad((x * x.detach()).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [1.0, 2.0])
    assert not g.requires_grad  # g = x.detach(): nothing left to differentiate


def test_an_in_place_change_after_create_graph_is_caught_by_the_second_backward():
    x = t64([1.0, 2.0])
    (g,) = autograd.grad((x ** 3).sum(), x, create_graph=True)
    with tg.no_grad():
        x.add_(10.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        autograd.grad(g.sum(), x)
