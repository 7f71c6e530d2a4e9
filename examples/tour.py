# %% [markdown]
# # A guided tour of the graph
#
# Run it top to bottom: `python examples/tour.py [--out DIR]`. Each section computes something
# small, checks it, and draws its autograd graph into DIR (default `runs/tour`): `.svg` files
# when Graphviz's `dot` is installed (`apt-get install graphviz`), `.dot` text files otherwise,
# which `dot -Tsvg file.dot -o file.svg` renders later.
#
# The notebook `examples/tour.ipynb` is made from this file by
# `python examples/make_tour_notebook.py`: edit the script, then regenerate the notebook.
#
# How to read a picture: grey ellipses are ops, boxes are tensors (shape and dtype); light blue
# boxes are leaves that require grad (their `.grad` is filled by `backward`), dashed boxes are
# inputs no gradient flows to, green boxes are the tensors we asked to draw.

# %%
import argparse
import os
import sys

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import autograd, viz
from tinygrad_bn.nn import reference
from tinygrad_bn.ops.elementwise import Sigmoid

parser = argparse.ArgumentParser(description="A guided tour of tinygrad_bn's autograd graph")
parser.add_argument("--out", default=os.path.join("runs", "tour"), help="folder for the pictures")
args, _ = parser.parse_known_args()  # known ones only: Jupyter passes its own (-f kernel.json)
OUT = args.out
os.makedirs(OUT, exist_ok=True)
SUFFIX = ".svg" if viz.dot_available() else ".dot"
print(f"pictures go to {OUT}/ as {SUFFIX} files")


def picture(name, *tensors, **kwargs):
    """Draw the graph of `tensors` to OUT/name.svg (.dot without Graphviz); show it in Jupyter."""
    path = viz.draw(*tensors, path=os.path.join(OUT, name + SUFFIX), **kwargs)
    print(f"  drew {path}")
    if SUFFIX == ".svg" and "ipykernel" in sys.modules:
        from IPython.display import SVG, display
        display(SVG(filename=path))


# %% [markdown]
# ## 1. A scalar graph, micrograd-style
#
# `L = (a·b + c)·f`. Every op records a node; `backward` walks the nodes from `L` back to the
# leaves with the chain rule. By hand: dL/da = f·b, dL/db = f·a, dL/dc = f, dL/df = a·b + c.
# In the picture each leaf shows its data and its grad. The intermediate results `e` and `d` show
# `grad None`: as in PyTorch, only leaves keep their gradient.

# %%
a = tg.tensor(2.0, requires_grad=True)
b = tg.tensor(-3.0, requires_grad=True)
c = tg.tensor(10.0, requires_grad=True)
f = tg.tensor(-2.0, requires_grad=True)
e = a * b
d = e + c
L = d * f
L.backward()
for name, leaf, by_hand in (("a", a, f * b), ("b", b, f * a), ("c", c, f), ("f", f, a * b + c)):
    print(f"dL/d{name} = {leaf.grad.item():+.1f}   by hand {by_hand.item():+.1f}")
    assert leaf.grad.item() == by_hand.item()
picture("1_scalar", L, params=dict(a=a, b=b, c=c, f=f, e=e, d=d, L=L), show_values=True)

# %% [markdown]
# ## 2. The same with tensors, and broadcasting
#
# `w` has shape (3,) but multiplies a (4, 3) batch: it is broadcast over the 4 rows. The adjoint
# of broadcasting is a sum, so `w.grad` sums the 4 rows' gradients and has `w`'s shape again
# (one helper, `ops/utils.py: unbroadcast`, does this for every binary op). `x` needs no
# gradient, so the graph does not hold it: it is a dashed box, with no name or values.

# %%
tg.manual_seed(0)
x = tg.randn(4, 3)
w = tg.randn(3, requires_grad=True)
bias = tg.zeros(1, requires_grad=True)
z = x * w + bias
y = z.relu().sum()
y.backward()
active = z.numpy() > 0
print(f"w {w.shape} -> w.grad {w.grad.shape}; bias {bias.shape} -> bias.grad {bias.grad.shape}")
assert np.allclose(w.grad.numpy(), (x.numpy() * active).sum(axis=0))  # summed over the batch rows
assert bias.grad.item() == active.sum()                                 # one per active element
picture("2_broadcasting", y, params=dict(w=w, bias=bias, z=z, y=y), show_values=True)

# %% [markdown]
# ## 3. One op by hand: Sigmoid's forward and backward
#
# An op is a `Function` with two static methods on raw arrays. `Sigmoid.apply(t)` makes a
# context (the graph node), calls `forward`, and links the node to its input's node. Here we do
# the same by hand, then call `backward` with an upstream gradient `g` and check the result three
# ways: the formula dy/dx = y(1-y), central differences, and the engine itself.

# %%
x_arr = np.array([-2.0, 0.0, 3.0])
ctx = autograd.Context(Sigmoid, np, needs_input_grad=(True,))
y_arr = Sigmoid.forward(ctx, x_arr)
print("forward:", y_arr, "  saved for backward:", ctx.saved_tensors)  # the output y, nothing else
g = np.array([1.0, -0.5, 2.0])  # the gradient arriving from above
dx = Sigmoid.backward(ctx, g)
print("backward:", dx)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


eps = 1e-6
numeric = g * (sigmoid(x_arr + eps) - sigmoid(x_arr - eps)) / (2 * eps)
t = tg.tensor(x_arr, requires_grad=True)
t.sigmoid().backward(tg.tensor(g))
assert np.allclose(dx, g * y_arr * (1 - y_arr))
assert np.allclose(dx, numeric, atol=1e-8)
assert np.allclose(dx, t.grad.numpy())
print("formula, central differences and the engine agree")

# %% [markdown]
# ## 4. Batch norm: one fused op against the composed graph
#
# `F.batch_norm` is ONE op with a hand-derived backward (`ops/norm.py`); `reference.batch_norm`
# is the same formula written with primitive ops, so the autograd derives its backward. Both
# graphs start from the same `x`, `gamma` and `beta`, and are drawn side by side. We compare the
# values, the gradients (with a RANDOM upstream gradient: in training mode the sum of batch
# norm's outputs does not depend on x, so `.sum().backward()` would check nothing), and the
# bytes each graph keeps for backward.

# %%
tg.manual_seed(0)
x = tg.randn(8, 3, dtype=tg.float64, requires_grad=True)
gamma = tg.randn(3, dtype=tg.float64, requires_grad=True)
beta = tg.randn(3, dtype=tg.float64, requires_grad=True)
fused = F.batch_norm(x, None, None, gamma, beta, training=True)
composed = reference.batch_norm(x, None, None, gamma, beta, training=True)
picture("4_batchnorm_fused_vs_composed", fused, composed,
        params=dict(x=x, gamma=gamma, beta=beta, fused=fused, composed=composed))
for name, out in (("fused", fused), ("composed", composed)):
    ops = [n for n in viz.graph_nodes([out.grad_fn]) if not isinstance(n, autograd.AccumulateGrad)]
    print(f"{name:>8}: {len(ops):2d} ops, {autograd.saved_nbytes(out):5d} bytes saved for backward")
print(f"largest difference of the values: {np.abs(fused.numpy() - composed.numpy()).max():.1e}")

upstream = tg.randn(8, 3, dtype=tg.float64)
grads = {}
for name, out in (("fused", fused), ("composed", composed)):
    for leaf in (x, gamma, beta):
        leaf.grad = None
    out.backward(upstream)
    grads[name] = [leaf.grad.numpy() for leaf in (x, gamma, beta)]
for leaf_name, gf, gc in zip(("x", "gamma", "beta"), grads["fused"], grads["composed"]):
    print(f"d{leaf_name}: largest difference {np.abs(gf - gc).max():.1e}")
    assert np.allclose(gf, gc, atol=1e-10)

# %% [markdown]
# ## 5. A second derivative
#
# With `backward(create_graph=True)` the backward pass is itself recorded, so the gradient has a
# graph of its own (drawn here: the backward's ops) and can be differentiated again.
# For y = x³: dy/dx = 3x² = 12 and d²y/dx² = 6x = 12 at x = 2.
# This section runs once `create_graph` is implemented; until then it says so.

# %%
x = tg.tensor(2.0, requires_grad=True)
y = x ** 3
try:
    y.backward(create_graph=True)
except NotImplementedError:
    print("second derivatives: coming with create_graph")
else:
    dy_dx = x.grad
    picture("5_second_derivative", dy_dx, params={"x": x, "dy/dx": dy_dx})
    x.grad = None
    dy_dx.backward()
    print(f"dy/dx = {dy_dx.item():.1f} (3x² = 12), d²y/dx² = {x.grad.item():.1f} (6x = 12)")
    assert abs(x.grad.item() - 12.0) < 1e-5

# %% [markdown]
# ## Where the pictures are

# %%
print(f"the pictures are in {OUT}/")
if SUFFIX == ".dot":
    print("Graphviz's `dot` was not found, so they are .dot text files. Install Graphviz "
          "(apt-get install graphviz) and render one with: dot -Tsvg FILE.dot -o FILE.svg")
