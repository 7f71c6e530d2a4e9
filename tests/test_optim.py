"""Optimizers and LR schedulers against update rules written out by hand.

Each reference below is a plain float64 NumPy loop over the SAME gradients the optimizer sees,
following PyTorch's documented algorithm line by line; a few tests also check literal numbers
worked out on paper, so that a reference and the code cannot share a mistake unnoticed.
"""
import math

import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import optim
from tinygrad_bn.optim.lr_scheduler import CosineAnnealingLR, StepLR

N_STEPS = 4
SHAPE = (3, 4)


# ---------------------------------------------------------------- helpers
def make_param(values, device):
    return tg.Tensor(np.asarray(values, dtype=np.float32), requires_grad=True, device=device)


def set_grad(p, g):
    p.grad = tg.Tensor(np.asarray(g, dtype=p.dtype), device=p.device)


def random_problem(rng, shape=SHAPE, n_steps=N_STEPS):
    """An initial value and a sequence of gradients, float32 (what the optimizer sees)."""
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(n_steps)]
    return p0, grads


def run(opt_class, p0, grads, device, **options):
    """Apply `opt_class` to one parameter for len(grads) steps; returns the parameter."""
    p = make_param(p0, device)
    opt = opt_class([p], **options)
    for g in grads:
        set_grad(p, g)
        opt.step()
    return p, opt


def assert_close(p, expected):
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), expected, rtol=2e-5, atol=2e-6)


# ---------------------------------------------------------------- hand-written references
def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p = p.astype(np.float64)
    buf = None
    for g in grads:
        g = g + weight_decay * p
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p = p.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    beta1, beta2 = betas
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def rmsprop_reference(p, grads, lr, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
    p = p.astype(np.float64)
    square_avg = np.zeros_like(p)
    buf = np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        avg = np.sqrt(square_avg) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


# ---------------------------------------------------------------- update rules
@pytest.mark.parametrize("options", [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.05),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
])
def test_sgd_matches_hand_computation(device, rng, options):
    p0, grads = random_problem(rng)
    p, opt = run(optim.SGD, p0, grads, device, **options)
    assert_close(p, sgd_reference(p0, grads, **options))
    if options.get("momentum"):
        buf = opt.state[p]["momentum_buffer"]
        assert buf.dtype == np.float32 and buf.device == device


def test_sgd_momentum_first_step_is_undampened(device):
    # On paper: p = 1, g = 1 every step, lr 0.1, momentum 0.9, dampening 0.5.
    # step 1: buf = g = 1 (no dampening)         -> p = 1 - 0.1 * 1 = 0.9
    # step 2: buf = 0.9 * 1 + 0.5 * 1 = 1.4      -> p = 0.9 - 0.14 = 0.76
    p, _ = run(optim.SGD, [1.0], [[1.0], [1.0]], device, lr=0.1, momentum=0.9, dampening=0.5)
    assert_close(p, [0.76])


@pytest.mark.parametrize("options", [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    dict(lr=1e-1, betas=(0.0, 0.5)),
])
def test_adam_matches_hand_computation(device, rng, options):
    p0, grads = random_problem(rng)
    p, opt = run(optim.Adam, p0, grads, device, **options)
    assert_close(p, adam_reference(p0, grads, **options))
    state = opt.state[p]
    assert state["step"] == N_STEPS
    assert state["exp_avg"].dtype == np.float32 and state["exp_avg_sq"].dtype == np.float32


@pytest.mark.parametrize("options", [dict(), dict(lr=1e-2, weight_decay=0.3, betas=(0.5, 0.9))])
def test_adamw_matches_hand_computation(device, rng, options):
    p0, grads = random_problem(rng)
    p, _ = run(optim.AdamW, p0, grads, device, **options)
    full = dict(dict(lr=1e-3, weight_decay=1e-2), **options)  # AdamW's defaults
    assert_close(p, adam_reference(p0, grads, decoupled=True, **full))


def test_adam_and_adamw_differ_only_in_where_decay_enters(device, rng):
    p0, grads = random_problem(rng)
    coupled, _ = run(optim.Adam, p0, grads, device, lr=0.1, weight_decay=0.5)
    decoupled, _ = run(optim.AdamW, p0, grads, device, lr=0.1, weight_decay=0.5)
    flagged, _ = run(optim.Adam, p0, grads, device, lr=0.1, weight_decay=0.5,
                     decoupled_weight_decay=True)
    assert not np.allclose(coupled.numpy(), decoupled.numpy(), rtol=1e-3)
    np.testing.assert_array_equal(flagged.numpy(), decoupled.numpy())


def test_adam_first_step_moves_by_lr_times_sign(device):
    # On paper: after bias correction m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
    # With eps = 0.5: g = 2 -> 0.1 * 2 / 2.5 = 0.08; g = -1 -> 0.1 * -1 / 1.5 = -0.0666...
    p, _ = run(optim.Adam, [0.0, 0.0], [[2.0, -1.0]], device, lr=0.1, eps=0.5)
    assert_close(p, [-0.08, 0.1 / 1.5])


@pytest.mark.parametrize("options", [
    dict(),
    dict(lr=1e-2, alpha=0.9, eps=1e-4, weight_decay=0.1),
    dict(lr=1e-2, momentum=0.9),
    dict(lr=1e-3, alpha=0.5, momentum=0.5, weight_decay=0.05),
])
def test_rmsprop_matches_hand_computation(device, rng, options):
    p0, grads = random_problem(rng)
    p, opt = run(optim.RMSprop, p0, grads, device, **options)
    full = dict(dict(lr=1e-2), **options)
    assert_close(p, rmsprop_reference(p0, grads, **full))
    assert ("momentum_buffer" in opt.state[p]) == bool(options.get("momentum"))


def test_rmsprop_first_step_by_hand(device):
    # On paper: alpha 0.75, g = 2: s = 0.25 * 4 = 1, avg = 1 + eps ~ 1, p = 1 - 0.1 * 2 / 1 = 0.8.
    p, _ = run(optim.RMSprop, [1.0], [[2.0]], device, lr=0.1, alpha=0.75)
    assert_close(p, [0.8])


@pytest.mark.parametrize("opt_class, options", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    (optim.Adam, dict(weight_decay=0.1)),
    (optim.AdamW, dict()),
    (optim.RMSprop, dict(momentum=0.9, weight_decay=0.1)),
])
def test_step_leaves_grad_untouched_and_keeps_dtype(device, rng, opt_class, options):
    p0, (g,) = random_problem(rng, n_steps=1)
    p = make_param(p0, device)
    set_grad(p, g)
    opt = opt_class([p], **options)
    opt.step()
    np.testing.assert_array_equal(p.grad.numpy(), g)  # weight decay must not write into .grad
    assert p.dtype == np.float32 and p.device == device
    for value in opt.state[p].values():
        if isinstance(value, tg.Tensor):
            assert value.dtype == np.float32 and value.device == device


def test_numpy_float64_hyperparameters_keep_float32(device, rng):
    # Under NumPy 2's promotion rules np.float64(0.1) * float32 array is float64; step() converts.
    p0, grads = random_problem(rng)
    p, opt = run(optim.Adam, p0, grads, device, lr=np.float64(1e-2), betas=(np.float64(0.9), 0.99))
    assert p.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32
    assert_close(p, adam_reference(p0, grads, lr=1e-2, betas=(0.9, 0.99)))


def test_float64_parameters_stay_float64(rng):
    p = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    set_grad(p, rng.standard_normal(3))
    opt = optim.RMSprop([p], momentum=0.5)
    opt.step()
    assert p.dtype == np.float64 and opt.state[p]["square_avg"].dtype == np.float64


# ---------------------------------------------------------------- groups, skipping, zero_grad
def test_per_group_options(device, rng):
    (a0, grads_a), (b0, grads_b) = random_problem(rng), random_problem(rng, shape=(5,))
    a, b = make_param(a0, device), make_param(b0, device)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01, "nesterov": True}],
                    lr=0.1, momentum=0.9)
    assert opt.param_groups[1]["momentum"] == 0.9  # filled from the defaults
    for ga, gb in zip(grads_a, grads_b):
        set_grad(a, ga)
        set_grad(b, gb)
        opt.step()
    assert_close(a, sgd_reference(a0, grads_a, lr=0.1, momentum=0.9))
    assert_close(b, sgd_reference(b0, grads_b, lr=0.01, momentum=0.9, nesterov=True))


@pytest.mark.parametrize("opt_class", [optim.SGD, optim.Adam, optim.RMSprop])
def test_params_without_grad_are_skipped(device, rng, opt_class):
    p0, grads = random_problem(rng)
    p, frozen = make_param(p0, device), make_param(p0, device)
    options = dict(lr=0.1) if opt_class is optim.Adam else dict(lr=0.1, momentum=0.9)
    opt = opt_class([p, frozen], **options)
    # p gets a gradient on steps 0, 1, 3 only; frozen never does.
    for i, g in enumerate(grads):
        if i == 2:
            p.grad = None
        else:
            set_grad(p, g)
        opt.step()
    np.testing.assert_array_equal(frozen.numpy(), p0)
    assert frozen not in opt.state
    used = [g for i, g in enumerate(grads) if i != 2]  # a skipped step changes nothing, not even t
    reference = {optim.SGD: lambda: sgd_reference(p0, used, lr=0.1, momentum=0.9),
                 optim.Adam: lambda: adam_reference(p0, used, lr=0.1),
                 optim.RMSprop: lambda: rmsprop_reference(p0, used, lr=0.1, momentum=0.9)}
    assert_close(p, reference[opt_class]())


def test_zero_grad(device, rng):
    p = make_param(rng.standard_normal(3), device)
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, [1.0, 2.0, 3.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_step_closure_and_training_with_autograd(device):
    # Minimise ||w - target||^2 through the real autograd; Adam should get there.
    target = tg.Tensor(np.array([1.0, -2.0, 3.0], np.float32), device=device)
    w = make_param(np.zeros(3), device)
    opt = optim.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = ((w - target) * (w - target)).sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(300):
        last = opt.step(closure).item()
    assert last < 1e-3 * first
    np.testing.assert_allclose(w.numpy(), [1.0, -2.0, 3.0], atol=1e-2)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD([p], lr=-0.1), "-0.1"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), "-0.5"),
    (lambda p: optim.SGD([p], lr=0.1, weight_decay=-1.0), "-1.0"),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "momentum=0"),
    (lambda p: optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    (lambda p: optim.SGD([{"params": [p], "lr": -2.0}], lr=0.1), "-2.0"),
    (lambda p: optim.Adam([p], lr=float("nan")), "nan"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.999)), "index 0: 1.0"),
    (lambda p: optim.Adam([p], betas=(0.9, -0.1)), "index 1: -0.1"),
    (lambda p: optim.Adam([p], eps=-1e-8), "-1e-08"),
    (lambda p: optim.AdamW([p], weight_decay=-0.01), "-0.01"),
    (lambda p: optim.RMSprop([p], alpha=-0.9), "-0.9"),
    (lambda p: optim.RMSprop([p], momentum=-0.9), "-0.9"),
    (lambda p: optim.SGD([], lr=0.1), "empty"),
])
def test_invalid_hyperparameters_raise(make, match):
    p = make_param([1.0], "cpu")
    with pytest.raises(ValueError, match=match):
        make(p)


def test_invalid_params_raise():
    p = make_param([1.0, 2.0], "cpu")
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate"):
        optim.SGD([p, p], lr=0.1)


# ---------------------------------------------------------------- state_dict
@pytest.mark.parametrize("opt_class, options", [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.05)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5)),
])
def test_state_dict_round_trip_continues_identically(device, rng, opt_class, options):
    p0, grads = random_problem(rng, n_steps=6)
    q0 = rng.standard_normal(5).astype(np.float32)
    p, q = make_param(p0, device), make_param(q0, device)
    opt = opt_class([{"params": [p]}, {"params": [q], "lr": 0.02}], **options)
    for g in grads[:3]:
        set_grad(p, g)  # q never gets a gradient: it has no state to save
        opt.step()

    state = opt.state_dict()
    assert list(state["state"]) == [0] and state["param_groups"][1]["params"] == [1]
    assert all(isinstance(v, np.ndarray) for v in state["state"][0].values() if hasattr(v, "shape"))
    saved = {k: np.array(v) for k, v in state["state"][0].items()}

    # A fresh optimizer over fresh parameters with the same values resumes exactly.
    p2, q2 = make_param(p.numpy(), device), make_param(q.numpy(), device)
    opt2 = opt_class([{"params": [p2]}, {"params": [q2]}], **options)
    opt2.load_state_dict(state)
    assert opt2.param_groups[1]["lr"] == 0.02 and opt2.param_groups[0]["params"][0] is p2
    for g in grads[3:]:
        set_grad(p, g)
        set_grad(p2, g)
        opt.step()
        opt2.step()
    np.testing.assert_array_equal(p2.numpy(), p.numpy())
    for name, value in opt2.state[p2].items():
        if isinstance(value, tg.Tensor):
            assert value.device == device and value.dtype == np.float32
    # The state_dict taken earlier was a copy: later steps did not change it.
    for name, value in state["state"][0].items():
        np.testing.assert_array_equal(value, saved[name])


def optimizer_snapshot(opt):
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    state = {id(p): {k: (v.numpy().copy() if isinstance(v, tg.Tensor) else v) for k, v in s.items()}
             for p, s in opt.state.items()}
    return groups, state, [list(map(id, g["params"])) for g in opt.param_groups]


def assert_same_snapshot(a, b):
    assert a[0] == b[0] and a[2] == b[2] and a[1].keys() == b[1].keys()
    for pid in a[1]:
        assert a[1][pid].keys() == b[1][pid].keys()
        for k in a[1][pid]:
            np.testing.assert_array_equal(a[1][pid][k], b[1][pid][k])


def trained_sgd(momentum=0.9):
    p, q = make_param(np.ones((2, 3)), "cpu"), make_param(np.ones(4), "cpu")
    opt = optim.SGD([p, q], lr=0.1, momentum=momentum)
    set_grad(p, np.ones((2, 3)))
    set_grad(q, np.ones(4))
    opt.step()
    return opt


def test_load_state_dict_of_another_optimizer_is_refused_at_load():
    sgd_state = trained_sgd().state_dict()
    p, q = make_param(np.ones((2, 3)), "cpu"), make_param(np.ones(4), "cpu")
    adam = optim.Adam([p, q], lr=1e-3)
    before = optimizer_snapshot(adam)
    with pytest.raises(ValueError) as info:
        adam.load_state_dict(sgd_state)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Adam:")
    assert "parameter group 0 has no option 'betas', 'eps', 'decoupled_weight_decay'" in message
    assert_same_snapshot(before, optimizer_snapshot(adam))


@pytest.mark.parametrize("index, key, value, words", [
    (0, "momentum_buffer", np.ones(6, np.float32), "shape (6,); expected the parameter's shape (2, 3)"),
    (1, "momentum_buffer", "fast", "expected an array or a number, got str"),
    (1, "momentum_buffer", np.array([1, None, 2, 3], dtype=object), "Python objects"),
    (0, "momentum_buffer", np.full((2, 3), 1e40), "overflows float32"),
])
def test_load_state_dict_checks_every_state_value_and_changes_nothing(index, key, value, words):
    saved = trained_sgd().state_dict()
    saved["param_groups"][0]["lr"] = 0.5             # would change too, if the load went through
    saved["state"][index][key] = value
    opt = trained_sgd()
    opt.step()
    before = optimizer_snapshot(opt)
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(saved)
    assert f"state of parameter {index}" in str(info.value) and f"'{key}'" in str(info.value)
    assert words in str(info.value)
    assert_same_snapshot(before, optimizer_snapshot(opt))
    assert opt.param_groups[0]["lr"] == 0.1


def test_load_state_dict_checks_group_options_and_indices():
    saved = trained_sgd().state_dict()
    saved["param_groups"][0]["lr"] = -1.0
    saved["state"][7] = {"momentum_buffer": np.ones(4, np.float32)}
    opt = trained_sgd()
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(saved)
    assert "parameter group 0: Invalid learning rate value: -1.0" in str(info.value)
    assert "parameter index 7" in str(info.value)
    assert opt.param_groups[0]["lr"] == 0.1


def test_loaded_state_is_a_copy_on_the_right_device(device):
    p = make_param(np.ones(3), device)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    buffer = np.full(3, 2.0, np.float32)
    opt.load_state_dict({"state": {0: {"momentum_buffer": buffer, "note": None, "step": 3}},
                         "param_groups": [{**opt.state_dict()["param_groups"][0]}]})
    loaded = opt.state[p]["momentum_buffer"]
    assert isinstance(loaded, tg.Tensor) and loaded.device == device and loaded.dtype == np.float32
    buffer[...] = 5.0                                # the caller's array is not the state
    np.testing.assert_array_equal(loaded.numpy(), [2.0, 2.0, 2.0])
    assert opt.state[p]["note"] is None and opt.state[p]["step"] == 3


def test_load_state_dict_mismatch_raises():
    a, b = make_param([1.0], "cpu"), make_param([2.0], "cpu")
    state = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="1 parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"state": {}})


def test_repr_lists_groups():
    text = repr(optim.SGD([make_param([1.0], "cpu")], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---------------------------------------------------------------- schedulers
def two_group_optimizer():
    a, b = make_param([1.0], "cpu"), make_param([2.0], "cpu")
    return optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)


def test_step_lr_matches_closed_form():
    opt = two_group_optimizer()
    scheduler = StepLR(opt, step_size=3, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]
    for t in range(10):
        expected = [0.1 * 0.5 ** (t // 3), 0.5 * 0.5 ** (t // 3)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12)
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], expected, rtol=1e-12)
        scheduler.step()


def test_cosine_annealing_matches_closed_form_and_pytorch_recursion():
    opt = two_group_optimizer()
    t_max, eta_min = 5, 0.01
    scheduler = CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    recursive = [0.1, 0.5]  # PyTorch's recursive update, written out
    for t in range(2 * t_max + 3):
        if t > 0:
            scheduler.step()
            if (t - 1 - t_max) % (2 * t_max) == 0:
                recursive = [lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                             for lr, base in zip(recursive, [0.1, 0.5])]
            else:
                ratio = (1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max))
                recursive = [eta_min + (lr - eta_min) * ratio for lr in recursive]
        closed = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2
                  for base in (0.1, 0.5)]
        np.testing.assert_allclose(scheduler.get_last_lr(), closed, rtol=1e-12)
        np.testing.assert_allclose(scheduler.get_last_lr(), recursive, rtol=1e-9)
    assert scheduler.last_epoch == 2 * t_max + 2
    scheduler.last_epoch = t_max - 1
    scheduler.step()
    np.testing.assert_allclose(scheduler.get_last_lr(), [eta_min, eta_min], rtol=1e-12)


def test_scheduler_lr_is_used_by_the_optimizer():
    p = make_param([0.0], "cpu")
    opt = optim.SGD([p], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.1)
    for _ in range(3):  # steps of lr 1, 0.1, 0.01 with gradient 1
        set_grad(p, [1.0])
        opt.step()
        scheduler.step()
    assert_close(p, [-1.11])


@pytest.mark.parametrize("make_scheduler", [
    lambda opt: StepLR(opt, step_size=2, gamma=0.3),
    lambda opt: CosineAnnealingLR(opt, T_max=4, eta_min=0.001),
])
def test_scheduler_state_dict_round_trip(make_scheduler):
    opt = two_group_optimizer()
    scheduler = make_scheduler(opt)
    for _ in range(3):
        scheduler.step()
    opt_state, sched_state = opt.state_dict(), scheduler.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 3

    opt2 = two_group_optimizer()
    opt2.load_state_dict(opt_state)  # brings 'lr' and 'initial_lr' back
    scheduler2 = make_scheduler(opt2)
    scheduler2.load_state_dict(sched_state)
    for _ in range(4):
        scheduler.step()
        scheduler2.step()
        assert scheduler2.get_last_lr() == scheduler.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_scheduler_validation():
    opt = two_group_optimizer()
    with pytest.raises(ValueError, match="step_size.*0"):
        StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="T_max.*2.5"):  # a float where an int is meant
        CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(opt, step_size=2, last_epoch=4)
    with pytest.raises(TypeError, match="not an Optimizer"):
        StepLR([1.0], step_size=2)
