"""The layers learners meet in d2l beyond the core set: containers (ModuleList, ModuleDict),
Softmax, LeakyReLU, GELU, NLLLoss, AdaptiveAvgPool2d, the Lazy modules, unbatched images, and
batch norm on an empty batch."""
import math

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from helpers import check_grad
from tinygrad_bn import nn, optim


# ---------------------------------------------------------------- containers
def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers.insert(0, nn.Linear(2, 2))
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU)
    names = [name for name, _ in layers.named_parameters()]
    assert names == [f"{i}.{p}" for i in range(4) for p in ("weight", "bias")]
    del layers[0]
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 3
    layers[0] = nn.Tanh()
    assert isinstance(layers[0], nn.Tanh)
    with pytest.raises(IndexError):
        layers[7]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 1)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
    net = Net()
    assert len(list(net.parameters())) == 4 and net(tg.ones(2, 3)).shape == (2, 1)
    assert list(net.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]


def test_module_dict_registers_its_modules():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    heads["aux"] = nn.Linear(4, 1)
    assert list(heads) == ["cls", "box", "aux"] and "box" in heads and len(heads) == 3
    assert [k for k, _ in heads.named_parameters()][:2] == ["cls.weight", "cls.bias"]
    assert isinstance(heads.pop("aux"), nn.Linear) and list(heads.keys()) == ["cls", "box"]
    with pytest.raises(KeyError, match="nope"):
        heads["nope"]


# ---------------------------------------------------------------- activations and losses
def test_softmax_module():
    x = tg.randn(2, 5)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).numpy().sum(1), [1, 1], rtol=1e-6)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(1), [1, 1], rtol=1e-6)


def test_leaky_relu_and_gelu_modules():
    x = tg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).numpy(), [-0.2, 0, 3])
    nn.LeakyReLU(0.1)(x).sum().backward()
    assert x.grad.tolist() == pytest.approx([0.1, 0.1, 1])  # slope at 0, as PyTorch
    gelu = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in (-2.0, 0.0, 3.0)]
    np.testing.assert_allclose(nn.GELU()(x).numpy(), gelu, rtol=1e-6)
    assert "approximate='tanh'" in repr(nn.GELU("tanh"))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_nll_loss_module_equals_cross_entropy_of_log_softmax():
    logits, target = tg.randn(4, 3), tg.tensor([0, 2, 1, 2])
    nll = nn.NLLLoss()(logits.log_softmax(1), target)
    np.testing.assert_allclose(nll.item(), F.cross_entropy(logits, target).item(), rtol=1e-6)
    assert nn.NLLLoss(reduction="none")(logits.log_softmax(1), target).shape == (4,)


def test_one_hot():
    out = F.one_hot(tg.tensor([0, 2, 1]))
    assert out.dtype == np.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(tg.tensor([[1]]), 4).shape == (1, 1, 4)
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(tg.tensor([3]), 3)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("size,out", [((1, 1), (1, 1)), (2, (2, 2)), ((3, 2), (3, 2)), ((None, 1), (7, 1))])
def test_adaptive_avg_pool2d_windows(size, out):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32)
    y = nn.AdaptiveAvgPool2d(size)(tg.tensor(x))
    assert y.shape == (2, 3) + out
    oh, ow = out
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * 7) // oh, -((-(i + 1) * 7) // oh)
            c0, c1 = (j * 6) // ow, -((-(j + 1) * 6) // ow)
            np.testing.assert_allclose(y.numpy()[..., i, j], x[..., r0:r1, c0:c1].mean((-2, -1)), rtol=1e-5)


def test_adaptive_avg_pool2d_gradcheck(device):
    check_grad(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 5, 5), device=device)
    check_grad(lambda x: F.adaptive_avg_pool2d(x, 1), (2, 2, 4, 4), device=device)


def test_unbatched_images_in_conv_and_pools(device):
    tg.manual_seed(0)
    x = tg.randn(3, 8, 8, device=device)
    conv = nn.Conv2d(3, 4, 3, padding=1).to(device)
    for layer in (conv, nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(2)):
        single, batched = layer(x), layer(x.unsqueeze(0))
        assert single.shape == batched.shape[1:]
        np.testing.assert_allclose(single.numpy(), batched.numpy()[0], rtol=1e-6)
    check_grad(lambda x, w: F.conv2d(x, w, padding=1), (2, 5, 5), (3, 2, 3, 3), device=device)


# ---------------------------------------------------------------- lazy modules
def test_lazy_modules_become_their_eager_twins():
    tg.manual_seed(1)
    lazy = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                         nn.LazyLinear(5), nn.LazyBatchNorm1d())
    x = tg.randn(8, 2, 6, 6)
    tg.manual_seed(7)
    out = lazy(x)
    tg.manual_seed(7)
    eager = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(64, 5), nn.BatchNorm1d(5))
    assert [type(m) for m in lazy] == [type(m) for m in eager]
    assert repr(lazy) == repr(eager)
    eager.load_state_dict(lazy.state_dict())
    for (k1, v1), (k2, v2) in zip(lazy.state_dict().items(), eager.state_dict().items()):
        assert k1 == k2 and v1.shape == v2.shape and v1.dtype == v2.dtype
    eager.train()
    lazy.load_state_dict(eager.state_dict())
    np.testing.assert_allclose(lazy(x).numpy(), eager(x).numpy(), rtol=1e-6)
    assert out.shape == (8, 5)


def test_lazy_init_matches_eager_init_with_the_same_seed():
    x = tg.randn(3, 10)
    tg.manual_seed(5)
    lazy = nn.LazyLinear(4)
    lazy(x)
    tg.manual_seed(5)
    eager = nn.Linear(10, 4)
    np.testing.assert_array_equal(lazy.weight.numpy(), eager.weight.numpy())
    np.testing.assert_array_equal(lazy.bias.numpy(), eager.bias.numpy())


def test_an_optimizer_built_before_the_first_forward_trains_the_lazy_weights():
    tg.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = tg.randn(64, 3)
    y = x @ tg.tensor([[1.0], [-2.0], [0.5]])
    losses = []
    for _ in range(30):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert model[0].weight.shape == (8, 3)


def test_lazy_module_rejects_a_state_dict_before_its_first_forward():
    with pytest.raises(RuntimeError, match="size mismatch"):
        nn.LazyLinear(2).load_state_dict(nn.Linear(3, 2).state_dict())


# ---------------------------------------------------------------- batch norm on an empty batch
@pytest.mark.parametrize("shape,cls", [((0, 3), nn.BatchNorm1d), ((0, 3, 4, 4), nn.BatchNorm2d)])
def test_batch_norm_of_an_empty_batch_is_empty_and_leaves_running_stats_alone(shape, cls):
    bn = cls(3)
    x = tg.zeros(*shape, requires_grad=True)
    y = bn(x)
    assert y.shape == shape
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    y.sum().backward()
    assert bn.weight.grad.tolist() == [0, 0, 0] and x.grad.shape == shape
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cls(3)(tg.ones(1, 3, *(1,) * (len(shape) - 2)))
