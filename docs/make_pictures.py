"""Render the pictures that README.md shows (needs Graphviz's `dot`):

    python docs/make_pictures.py

docs/viz_mlp.svg         the graph of a small MLP with batch norm (tinygrad_bn.viz.draw)
docs/tour_batchnorm.svg  fused batch norm beside the composed one (section 4 of examples/tour.py)

and print nn.summary of LeNet-BN, the table pasted in the README. docs/training_curves.png needs
Fashion-MNIST and comes from a training run instead (about 20 s on two cores):

    python examples/train_lenet.py --epochs 3 --subset 12000 --compare-bn --plot docs/training_curves.png
"""
import os

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import models, nn, viz
from tinygrad_bn.nn import reference

DOCS = os.path.dirname(os.path.abspath(__file__))


def mlp_graph():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    out = model(tg.randn(16, 4))
    viz.draw(out, path=os.path.join(DOCS, "viz_mlp.svg"), params=dict(model.named_parameters()))


def batchnorm_graphs():
    tg.manual_seed(0)
    x = tg.randn(8, 3, dtype=tg.float64, requires_grad=True)
    gamma = tg.randn(3, dtype=tg.float64, requires_grad=True)
    beta = tg.randn(3, dtype=tg.float64, requires_grad=True)
    fused = F.batch_norm(x, None, None, gamma, beta, training=True)
    composed = reference.batch_norm(x, None, None, gamma, beta, training=True)
    viz.draw(fused, composed, path=os.path.join(DOCS, "tour_batchnorm.svg"),
             params=dict(x=x, gamma=gamma, beta=beta, fused=fused, composed=composed))


if __name__ == "__main__":
    mlp_graph()
    batchnorm_graphs()
    print(f"wrote the pictures in {DOCS}")
    print(nn.summary(models.lenet(), (256, 1, 28, 28)))
