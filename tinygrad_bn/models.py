"""Ready-made models used by the examples, benchmarks and tests."""
from __future__ import annotations

from . import nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def lenet(batch_norm: bool = True, activation: str = "sigmoid", pool: str = "max") -> nn.Sequential:
    """LeNet-5 with batch normalisation, as in Dive into Deep Learning §8.5 ("LeNet with BN"),
    for 1×28×28 inputs and 10 classes:

    Conv 6@5×5 → BN → act → max-pool 2 → Conv 16@5×5 → BN → act → max-pool 2 → flatten →
    Linear 120 → BN → act → Linear 84 → BN → act → Linear 10.

    Args:
        batch_norm (bool, optional): insert the four BatchNorm layers (default: True); False
            gives the plain LeNet with the same convolutions, to compare.
        activation (str, optional): 'sigmoid' (the classic) or 'relu' (default: 'sigmoid').
        pool (str, optional): 'max' or 'avg' pooling (Dive into Deep Learning's PyTorch LeNet-BN
            uses average pooling, which is smooth: no kinks for a finite-difference check)
            (default: 'max').
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if pool not in ("max", "avg"):
        raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
    act = ACTIVATIONS[activation]
    Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d

    def norm(layer_cls, channels):
        return [layer_cls(channels)] if batch_norm else []

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), *norm(nn.BatchNorm2d, 6), act(), Pool(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), *norm(nn.BatchNorm2d, 16), act(), Pool(2, 2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), *norm(nn.BatchNorm1d, 120), act(),
        nn.Linear(120, 84), *norm(nn.BatchNorm1d, 84), act(),
        nn.Linear(84, 10),
    )


def mlp(in_features: int = 784, hidden=(100, 100, 100, 100, 100), classes: int = 10,
        norm: str = "none") -> nn.Sequential:
    """cs231n's fully-connected net: {affine → [batchnorm | layernorm] → relu} × L → affine.

    Args:
        norm (str, optional): 'none', 'batchnorm' or 'layernorm' (default: 'none').
    """
    norms = {"none": None, "batchnorm": nn.BatchNorm1d, "layernorm": nn.LayerNorm}
    if norm not in norms:
        raise ValueError(f"norm must be one of {sorted(norms)}, got {norm!r}")
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if norms[norm] is not None:
            layers.append(norms[norm](h))
        layers.append(nn.ReLU())
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)
