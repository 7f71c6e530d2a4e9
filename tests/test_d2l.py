"""Dive into Deep Learning's PyTorch chapters, typed as a learner would with `tg` for `torch`:
linear regression and softmax regression from scratch (manual SGD with `param -= ...` under
no_grad), batch norm from scratch (`moving_mean.data`, `.device`), LeNet-BN built from Lazy
modules, and the training loop that accumulates `float(l.sum())`. Each proves that the weights
change when they should and that the loss falls. The code is ours, in the books' shape."""
import random

import numpy as np

import tinygrad_bn as tg
from tinygrad_bn import nn


# ---------------------------------------------------------------- linear regression from scratch
def synthetic_data(w, b, num_examples):
    X = tg.normal(0, 1, (num_examples, len(w)))
    y = tg.matmul(X, w) + b
    y += tg.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    indices = list(range(len(features)))
    random.shuffle(indices)
    for i in range(0, len(features), batch_size):
        batch_indices = tg.tensor(indices[i: min(i + batch_size, len(features))])
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):
    return tg.matmul(X, w) + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    with tg.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def test_linear_regression_from_scratch():
    random.seed(0)
    tg.manual_seed(0)
    true_w, true_b = tg.tensor([2, -3.4]), 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)
    w = tg.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = tg.zeros(1, requires_grad=True)
    w_start = w.numpy().copy()
    losses = []
    for epoch in range(3):
        for X, y in data_iter(10, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], 0.03, 10)
        with tg.no_grad():
            losses.append(float(squared_loss(linreg(features, w, b), labels).mean()))
    assert not np.array_equal(w.numpy(), w_start) and w.is_leaf and w.requires_grad
    assert losses[0] > losses[1] > losses[2] and losses[2] < 1e-3
    np.testing.assert_allclose(w.numpy().ravel(), [2, -3.4], atol=0.01)
    assert abs(b.item() - 4.2) < 0.01


# ---------------------------------------------------------------- softmax regression from scratch
def toy_images(n, seed, size=28, classes=10):
    """Ten noisy grey patterns: a learnable stand-in for Fashion-MNIST, (n, 1, size, size)."""
    rng = np.random.default_rng(42)
    templates = rng.random((classes, size, size))
    data_rng = np.random.default_rng(seed)
    y = data_rng.integers(0, classes, n)
    X = templates[y] + 0.3 * data_rng.standard_normal((n, size, size))
    return tg.tensor(X[:, None].astype(np.float32)), tg.tensor(y)


def softmax(X):
    X_exp = tg.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


def cross_entropy(y_hat, y):
    return - tg.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


class Accumulator:
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def batches(X, y, batch_size):
    for i in range(0, len(X), batch_size):
        yield X[i:i + batch_size], y[i:i + batch_size]


def train_epoch_ch3(net, train_iter, loss, updater):
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if isinstance(updater, tg.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def test_softmax_regression_from_scratch():
    tg.manual_seed(0)
    X, y = toy_images(600, seed=1)
    num_inputs, num_outputs = 784, 10
    W = tg.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = tg.zeros(num_outputs, requires_grad=True)

    def net(X):
        return softmax(tg.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def updater(batch_size):
        return sgd([W, b], 0.1, batch_size)

    W_start = W.numpy().copy()
    history = [train_epoch_ch3(net, batches(X, y, 64), cross_entropy, updater) for _ in range(4)]
    losses, accs = zip(*history)
    assert not np.array_equal(W.numpy(), W_start)
    assert losses[-1] < 0.5 * losses[0] and accs[-1] > 0.9
    assert W.dtype == np.float32 and b.grad.dtype == np.float32


# ---------------------------------------------------------------- batch norm from scratch
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not tg.is_grad_enabled():
        X_hat = (X - moving_mean) / tg.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / tg.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.data, moving_var.data


class BatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(tg.ones(shape))
        self.beta = nn.Parameter(tg.zeros(shape))
        self.moving_mean = tg.zeros(shape)
        self.moving_var = tg.ones(shape)

    def forward(self, X):
        if self.moving_mean.device != X.device:
            self.moving_mean = self.moving_mean.to(X.device)
            self.moving_var = self.moving_var.to(X.device)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.1)
        return Y


def test_batch_norm_from_scratch_matches_the_library_and_keeps_no_graph(device):
    tg.manual_seed(0)
    X = tg.randn(16, 3, 5, 5, device=device) * 2 + 1
    scratch, library = BatchNorm(3, 4).to(device), nn.BatchNorm2d(3).to(device)
    for _ in range(3):
        y1, y2 = scratch(X), library(X)
        np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-4, atol=1e-5)
    assert scratch.moving_mean.grad_fn is None and not scratch.moving_mean.requires_grad
    np.testing.assert_allclose(scratch.moving_mean.numpy().ravel(), library.running_mean.numpy(), rtol=1e-5)
    y1.sum().backward()                      # the graph reaches gamma and beta only
    assert scratch.gamma.grad.shape == (1, 3, 1, 1)
    with tg.no_grad():                       # d2l's eval path: the moving statistics
        y = scratch(X)
    assert y.shape == X.shape and not y.requires_grad


# ---------------------------------------------------------------- LeNet-BN from Lazy modules
def init_cnn(module):
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)


def test_lenet_bn_from_lazy_modules_trains():
    tg.manual_seed(0)
    net = nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(), nn.Sigmoid(),
        nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(10))
    X, y = toy_images(1600, seed=2)
    net(X[:2])                               # d2l's dummy forward, then init
    net.apply(init_cnn)
    assert sum(type(m) == nn.Linear for m in net) == 3 and sum(type(m) == nn.Conv2d for m in net) == 2
    optimizer = tg.optim.SGD(net.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    weight_start = net[0].weight.numpy().copy()
    first, last, correct = [], [], 0.0
    for step in range(200):
        start = (step * 32) % 1600
        Xb, yb = X[start:start + 32], y[start:start + 32]
        y_hat = net(Xb)
        l = loss(y_hat, yb)
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        (first if step < 20 else last if step >= 180 else []).append(float(l))
        if step >= 180:
            correct += accuracy(y_hat, yb)
    assert not np.array_equal(net[0].weight.numpy(), weight_start)
    assert np.mean(last) < 0.5 * np.mean(first)
    assert correct / (20 * 32) > 0.8
    net.eval()
    with tg.no_grad():
        assert accuracy(net(X[:256]), y[:256]) / 256 > 0.8
