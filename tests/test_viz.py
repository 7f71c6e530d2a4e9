"""tinygrad_bn.viz: the DOT text of real graphs (no Graphviz needed), and the rendered files where
Graphviz's `dot` is installed."""
import re
import shutil
import subprocess

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import models, viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
EDGE = re.compile(r"^  (\w+) -> (\w+)$")


def parse(dot):
    """({id: (label, attributes)}, [(source, target)]) of to_dot's text."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if m := NODE.match(line):
            nodes[m[1]] = (m[2].replace("\\n", "\n"), m[3])
        elif m := EDGE.match(line):
            edges.append((m[1], m[2]))
    return nodes, edges


def ops(nodes):
    return [label for node_id, (label, _) in nodes.items() if node_id.startswith("op")]


def boxes_with(nodes, text):
    return [node_id for node_id, (label, _) in nodes.items() if text in label.split("\n")]


def lenet_loss():
    tg.manual_seed(0)
    model = models.lenet()
    loss = F.cross_entropy(model(tg.randn(4, 1, 28, 28)), tg.tensor([1, 2, 3, 4]))
    return model, loss


def test_scalar_graph_exact_text():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(-3.0, requires_grad=True)
    out = a * b + a
    assert viz.to_dot(out, params={"a": a, "b": b}) == """\
digraph autograd {
  graph [rankdir=TB, ordering=in]
  node [shape=box, fontname="Helvetica", fontsize=10]
  t0 [label="a\\n() float32", style="filled", fillcolor="lightblue"]
  t1 [label="b\\n() float32", style="filled", fillcolor="lightblue"]
  op0 [label="Mul", shape="ellipse", style="filled", fillcolor="lightgray"]
  t0 -> op0
  t1 -> op0
  t2 [label="() float32"]
  op0 -> t2
  op1 [label="Add", shape="ellipse", style="filled", fillcolor="lightgray"]
  t2 -> op1
  t0 -> op1
  t3 [label="() float32", style="filled", fillcolor="darkolivegreen1"]
  op1 -> t3
}
"""


def test_same_computation_gives_same_text():
    # node ids count in walk order, never id(): two runs, two graphs, one text
    assert viz.to_dot(lenet_loss()[1]) == viz.to_dot(lenet_loss()[1])


def test_mlp_ops_shapes_and_parameter_names():
    tg.manual_seed(0)
    model = models.mlp(in_features=6, hidden=(5,), classes=3, norm="batchnorm")
    out = model(tg.randn(2, 6))
    nodes, edges = parse(viz.to_dot(out, params=dict(model.named_parameters())))
    # Linear is x @ weight.T + bias; Flatten of (2, 6) changes nothing and records no op
    assert ops(nodes) == ["Permute", "MatMul", "Add", "BatchNorm", "Relu", "Permute", "MatMul", "Add"]
    for name, p in model.named_parameters():
        (box,) = boxes_with(nodes, name)
        label, attrs = nodes[box]
        assert label == f"{name}\n{p.shape} float32" and 'fillcolor="lightblue"' in attrs
    (x_box,) = boxes_with(nodes, "(2, 6) float32")  # the input: no gradient flows to it
    assert 'style="dashed"' in nodes[x_box][1]
    (root,) = [i for i, (_, attrs) in nodes.items() if "darkolivegreen1" in attrs]
    assert nodes[root][0] == "(2, 3) float32"
    for source, target in edges:  # input -> op -> output: tensors and ops alternate
        assert source.startswith("t") != target.startswith("t")


def test_lenet_bn_op_names_without_backward_suffix():
    model, loss = lenet_loss()
    nodes, edges = parse(viz.to_dot(loss, params=dict(model.named_parameters())))
    names = ops(nodes)
    assert names[:8] == ["Conv2d", "BatchNorm", "Sigmoid", "MaxPool2d"] * 2
    assert names.count("BatchNorm") == 4 and names.count("Sigmoid") == 4
    assert not any("Backward" in label for label, _ in nodes.values())
    assert len(boxes_with(nodes, "0.weight")) == 1 and len(boxes_with(nodes, "15.bias")) == 1
    leaves = [i for i, (_, attrs) in nodes.items() if "lightblue" in attrs]
    assert len(leaves) == len(list(model.parameters()))
    assert "(4, 6, 24, 24) float32" in nodes["t3"][0]  # the first conv's output, from BN's input_meta
    (image_box,) = boxes_with(nodes, "(4, 1, 28, 28) float32")
    assert (image_box, "op0") in edges


def test_leaf_used_twice_is_one_box_with_an_edge_per_use():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    nodes, edges = parse(viz.to_dot(y, params={"x": x}))
    (box,) = boxes_with(nodes, "x")
    assert [target for source, target in edges if source == box] == ["op0", "op0", "op1"]


def test_several_roots_share_their_leaves():
    x = tg.randn(3, requires_grad=True)
    nodes, _ = parse(viz.to_dot(x.exp(), x.tanh(), params={"x": x}))
    assert len(boxes_with(nodes, "x")) == 1 and ops(nodes) == ["Exp", "Tanh"]
    assert sum("darkolivegreen1" in attrs for _, attrs in nodes.values()) == 2


def test_show_values_for_small_tensors_only():
    a = tg.tensor([1.0, -2.0], requires_grad=True)
    big = tg.ones(4, 5, requires_grad=True)
    hidden = a * 3
    loss = hidden.sum() + big.sum()
    loss.backward()
    names = {"a": a, "big": big, "hidden": hidden, "loss": loss}
    nodes, _ = parse(viz.to_dot(loss, params=names, show_values=True))
    label = lambda name: nodes[boxes_with(nodes, name)[0]][0]  # noqa: E731
    assert label("a") == "a\n(2,) float32\ndata [ 1.0000, -2.0000]\ngrad [3.0000, 3.0000]"
    assert label("hidden") == "hidden\n(2,) float32\ndata [ 3.0000, -6.0000]\ngrad None"
    assert label("loss") == "loss\n() float32\ndata 17.0000\ngrad None"
    assert label("big") == "big\n(4, 5) float32"  # 20 elements > MAX_VALUES
    plain, _ = parse(viz.to_dot(loss, params=names))
    assert not any("data" in label for label, _ in plain.values())


def test_labels_are_escaped():
    w = tg.randn(2, requires_grad=True)
    dot = viz.to_dot(w.sum(), params={'say "hi"\\now': w})
    assert r'label="say \"hi\"\\now\n(2,) float32"' in dot


def test_a_tensor_without_graph_is_one_box():
    nodes, edges = parse(viz.to_dot(tg.ones(2, 3)))
    assert list(nodes) == ["t0"] and edges == [] and "darkolivegreen1" in nodes["t0"][1]
    x = tg.ones(2, requires_grad=True)
    nodes, _ = parse(viz.to_dot(x, params={"x": x}))
    assert nodes["t0"][0] == "x\n(2,) float32" and "darkolivegreen1" in nodes["t0"][1]


def test_backward_ops_appear_with_create_graph():
    x = tg.tensor(2.0, requires_grad=True)
    try:
        (x ** 3).backward(create_graph=True)
    except NotImplementedError:
        pytest.skip("create_graph is not implemented yet")
    nodes, _ = parse(viz.to_dot(x.grad, params={"x": x}))
    assert ops(nodes) and boxes_with(nodes, "x")


def test_bad_arguments():
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="at least one"):
        viz.to_dot()
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        viz.to_dot(x, np.ones(2))
    with pytest.raises(TypeError, match="dict"):
        viz.to_dot(x, params=[x])
    with pytest.raises(TypeError, match=r"params\['w'\]"):
        viz.to_dot(x, params={"w": 1.0})
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.dot"):
        viz.draw(x, path="graph.jpg")


def test_draw_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    x = tg.ones(2, requires_grad=True)
    path = viz.draw(x.sum(), path=tmp_path / "g.dot")
    assert open(path).read() == viz.to_dot(x.sum())


def test_draw_without_graphviz_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not viz.dot_available()
    with pytest.raises(RuntimeError, match="Graphviz's `dot`") as info:
        viz.draw(tg.ones(2, requires_grad=True).sum(), path=tmp_path / "g.svg")
    assert "\n" not in str(info.value) and "apt-get install graphviz" in str(info.value)


@needs_dot
def test_draw_svg_and_png(tmp_path):
    model, loss = lenet_loss()
    params = dict(model.named_parameters())
    svg = viz.draw(loss, path=str(tmp_path / "lenet.svg"), params=params)
    text = open(svg).read()
    assert "<svg" in text and "</svg>" in text and "BatchNorm" in text and "0.weight" in text
    png = viz.draw(loss, path=tmp_path / "lenet.png", params=params, show_values=True)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_dot_accepts_every_label():
    # Graphviz parses the text without a warning, escaped names and multi-line values included
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    dot = viz.to_dot(loss, params={'a "quoted"\\name': x, "loss": loss}, show_values=True)
    result = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True)
    assert result.returncode == 0 and result.stderr == b""
    assert b"a &quot;quoted&quot;\\name" in result.stdout
