"""Render the pictures that README.md shows (needs Graphviz's `dot`):

    python docs/make_pictures.py

docs/viz_mlp.svg         the graph of a small MLP with batch norm (tinygrad_bn.viz.draw)
docs/tour_batchnorm.svg  fused batch norm beside the composed one: the picture examples/tour.py
                         draws in its section 4 (the tour is run, and its picture copied)

and print nn.summary of LeNet-BN, the table pasted in the README. docs/training_curves.png needs
Fashion-MNIST and comes from a training run instead (about 20 s on two cores):

    python examples/train_lenet.py --epochs 3 --subset 12000 --compare-bn --plot docs/training_curves.png
"""
import os
import shutil
import subprocess
import sys
import tempfile

import tinygrad_bn as tg
from tinygrad_bn import models, nn, viz

DOCS = os.path.dirname(os.path.abspath(__file__))


def mlp_graph():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    out = model(tg.randn(16, 4))
    viz.draw(out, path=os.path.join(DOCS, "viz_mlp.svg"), params=dict(model.named_parameters()))


def batchnorm_graphs():
    with tempfile.TemporaryDirectory() as out:
        tour = os.path.join(os.path.dirname(DOCS), "examples", "tour.py")
        subprocess.run([sys.executable, tour, "--out", out], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(out, "4_batchnorm_fused_vs_composed.svg"),
                    os.path.join(DOCS, "tour_batchnorm.svg"))


if __name__ == "__main__":
    mlp_graph()
    batchnorm_graphs()
    print(f"wrote the pictures in {DOCS}")
    print(nn.summary(models.lenet(), (256, 1, 28, 28)))
