"""tg.gradcheck and tg.relative_error: they must pass correct gradients and CATCH wrong ones,
including the batch-norm trap a `sum().backward()` comparison cannot see."""
import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import Tensor
from tinygrad_bn.gradcheck import FULL_CHECK_MAX, N_DIRECTIONS


def leaf(shape, seed=0, device="cpu"):
    a = np.random.default_rng(seed).standard_normal(shape)
    return Tensor(a, requires_grad=True, device=device)


class Square(tg.Function):
    """y = x²;  dy/dx = 2x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class WrongSquare(Square):
    """A deliberately wrong backward: dy/dx = x (the factor 2 forgotten)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return x * grad


class WrongSecondInput(tg.Function):
    """z = a·b with a wrong gradient for b only (it should be a·g)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return b * grad, a * grad * 1.01


# ---------------------------------------------------------------- pass and fail
def test_passes_on_correct_ops(device):
    x = leaf((3, 4), device=device)
    assert tg.gradcheck(Square.apply, [x]) is True
    assert tg.gradcheck(lambda t: (t.tanh() @ t.T).softmax(-1), x) is True


def test_fails_on_a_wrong_backward(device):
    x = leaf((3, 4), device=device)
    with pytest.raises(AssertionError, match=r"input 0 of shape \(3, 4\).*analytic.*numeric.*relative error"):
        tg.gradcheck(WrongSquare.apply, [x])
    assert tg.gradcheck(WrongSquare.apply, [x], raise_exception=False) is False


def test_failure_names_the_right_input_and_element():
    a, b = leaf((2, 3), 0), leaf((2, 3), 1)
    with pytest.raises(AssertionError, match=r"input 1 of shape \(2, 3\) at \(\d, \d\)"):
        tg.gradcheck(WrongSecondInput.apply, [a, b])
    assert tg.gradcheck(WrongSecondInput.apply, [a, b.detach()])  # b not checked: passes


def test_inputs_without_requires_grad_are_skipped_and_none_raises():
    x, c = leaf((3,)), Tensor(np.ones(3))
    assert tg.gradcheck(lambda a, b: a * b, [x, c])
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda a: a * 2, [c])


def test_input_values_are_restored():
    x = leaf((4, 3))
    before = x.numpy().copy()
    tg.gradcheck(lambda t: t.exp().sum(0), [x])
    np.testing.assert_array_equal(x.numpy(), before)


@pytest.mark.parametrize("out_shape_fn", [lambda t: t.sum(), lambda t: t.reshape(2, 1, 3) * 2,
                                          lambda t: t[0, 0]])
def test_outputs_of_any_shape(out_shape_fn):
    assert tg.gradcheck(out_shape_fn, [leaf((2, 3))])


def test_a_small_error_is_caught():
    class OffByOnePercent(Square):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2.02 * x * grad

    assert not tg.gradcheck(OffByOnePercent.apply, [leaf((5,))], raise_exception=False)


def test_warns_on_float32():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        tg.gradcheck(lambda t: t * 3, [x], eps=1e-2, atol=1e-2, raise_exception=False)


# ---------------------------------------------------------------- random-direction mode
def test_random_directions_for_large_inputs(monkeypatch):
    x = leaf((FULL_CHECK_MAX + 88,))
    calls = []

    def counted(fn):
        def wrapper(*args):
            calls.append(1)
            return fn(*args)
        return wrapper

    assert tg.gradcheck(counted(lambda t: t.tanh() * t), [x])
    assert len(calls) == 1 + 2 * N_DIRECTIONS  # one analytic pass, two evaluations per direction
    with pytest.raises(AssertionError, match="random direction"):
        tg.gradcheck(WrongSquare.apply, [x])


def test_random_direction_mode_catches_an_error_in_one_element():
    class OneWrongElement(Square):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            g = 2 * x * grad
            g[7] += 1.0
            return g

    assert not tg.gradcheck(OneWrongElement.apply, [leaf((FULL_CHECK_MAX + 1,))],
                            raise_exception=False)


# ---------------------------------------------------------------- the batch-norm trap
EPS = 1e-5


class Normalize(tg.Function):
    """x̂ = (x - mean(x)) / sqrt(var(x) + eps) over axis 0 (biased variance), like batch norm.

    dx = (g - mean(g) - x̂·mean(g·x̂)) / sqrt(var + eps). Saves x̂ and 1/sqrt(var + eps).
    """

    @staticmethod
    def forward(ctx, x):
        mu = x.mean(axis=0, keepdims=True)
        inv_std = 1 / ctx.xp.sqrt(((x - mu) ** 2).mean(axis=0, keepdims=True) + EPS)
        xhat = (x - mu) * inv_std
        ctx.save_for_backward(xhat, inv_std)
        return xhat

    @staticmethod
    def backward(ctx, grad):
        xhat, inv_std = ctx.saved_tensors
        return inv_std * (grad - grad.mean(axis=0, keepdims=True)
                          - xhat * (grad * xhat).mean(axis=0, keepdims=True))


class NormalizeNoVarianceTerm(Normalize):
    """The classic mistake: treat the variance as a constant, dropping the x̂·mean(g·x̂) term."""

    @staticmethod
    def backward(ctx, grad):
        xhat, inv_std = ctx.saved_tensors
        return inv_std * (grad - grad.mean(axis=0, keepdims=True))


def normalize_composed(x):
    """The same function through primitive ops and the autograd: the reference."""
    centred = x - x.mean(0, keepdim=True)
    return centred / (x.var(0, keepdim=True, correction=0) + EPS).sqrt()


def test_bn_trap_sum_backward_cannot_see_a_dropped_variance_term(device):
    a = np.random.default_rng(3).standard_normal((6, 4)) * 2 + 1
    grads = []
    for fn in (Normalize.apply, NormalizeNoVarianceTerm.apply, normalize_composed):
        x = Tensor(a, requires_grad=True, device=device)
        fn(x).sum().backward()
        grads.append(x.grad.numpy())
    # Σ x̂ is 0 for every x, so the true gradient is 0: all three "agree", the wrong one included
    for g in grads:
        np.testing.assert_allclose(g, 0, atol=1e-9)
    np.testing.assert_allclose(Normalize.apply(Tensor(a, device=device)).numpy(),
                               normalize_composed(Tensor(a, device=device)).numpy(), atol=1e-12)


def test_bn_trap_gradcheck_catches_the_dropped_variance_term(device):
    x = Tensor(np.random.default_rng(3).standard_normal((6, 4)) * 2 + 1, requires_grad=True,
               device=device)
    assert tg.gradcheck(Normalize.apply, [x])
    assert tg.gradcheck(normalize_composed, [x])
    with pytest.raises(AssertionError, match="input 0"):
        tg.gradcheck(NormalizeNoVarianceTerm.apply, [x])


def test_bn_trap_random_upstream_gradient_separates_fused_from_reference(device):
    """The cheap version of the same idea: backward a RANDOM gradient and compare with the
    composed reference; the wrong backward now differs visibly."""
    a = np.random.default_rng(4).standard_normal((6, 4))
    g = np.random.default_rng(5).standard_normal((6, 4))
    results = {}
    for name, fn in [("right", Normalize.apply), ("wrong", NormalizeNoVarianceTerm.apply),
                     ("reference", normalize_composed)]:
        x = Tensor(a, requires_grad=True, device=device)
        fn(x).backward(g)
        results[name] = x.grad
    assert tg.relative_error(results["right"], results["reference"]) < 1e-7
    assert tg.relative_error(results["wrong"], results["reference"]) > 1e-2


# ---------------------------------------------------------------- relative_error
def test_relative_error_values():
    assert tg.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert tg.relative_error(np.zeros(3), np.zeros(3)) == 0.0          # the 1e-8 floor: no 0/0
    assert tg.relative_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert tg.relative_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(0.1)
    assert tg.relative_error(1.0, -1.0) == pytest.approx(1.0)


def test_relative_error_accepts_tensors_and_mixed(device):
    a = Tensor(np.array([1.0, 2.0]), device=device)
    b = Tensor(np.array([1.0, 2.2], dtype=np.float32), device=device)
    expected = 0.2 / 4.2
    assert tg.relative_error(a, b) == pytest.approx(expected, rel=1e-6)
    assert tg.relative_error(a, np.array([1.0, 2.2])) == pytest.approx(expected)
    assert tg.relative_error(np.array([]), np.array([])) == 0.0
