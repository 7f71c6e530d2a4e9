"""Seeing the graph: the autograd graph of a tensor as a Graphviz picture.

``to_dot(loss)`` walks ``loss.grad_fn`` back to the leaves, exactly as ``backward`` does, and
writes the graph in Graphviz's DOT language; ``draw(loss, path='graph.svg')`` renders it with
Graphviz's ``dot`` program. The picture follows the two that learners know, micrograd's
``draw_dot`` and DeZero's ``plot_dot_graph``, with torchviz's colours:

* an **op** is an ellipse named by its ``Function`` (``Conv2d``, ``BatchNorm``, ``Sigmoid``);
* a **tensor** is a box with its shape and dtype, and its name when it is in ``params``;
  light blue: a leaf that requires grad (a parameter; ``backward`` fills its ``.grad``);
  dashed: an input no gradient flows to (the images, the labels, a constant);
  green: a tensor you passed to ``to_dot`` (the output, usually the loss);
* edges run input -> op -> output, the direction of the forward pass.

What the graph knows. The graph links *nodes*, not tensors (see ``autograd.py``): an op's node
keeps the node of each input (``next_functions``) and each input's shape and dtype
(``input_meta``), but not its output tensor. So an op's output box takes its shape from the op
that consumes it, and values (``show_values``) are shown only for the tensors we hold: the
leaves, the tensors passed in, and tensors named in ``params``. A tensor that no gradient flows
to is not in the graph at all: each use of one is drawn as its own dashed box.

Node ids (``t0``, ``op0``, ...) count in the order of the walk, so the same computation always
gives the same text.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Mapping, Optional

import numpy as np

from . import autograd
from .tensor import Tensor

#: ``show_values`` prints data and grad of tensors with at most this many elements.
MAX_VALUES = 16

FORMATS = (".svg", ".png", ".dot")

# torchviz's colours: parameters light blue, outputs green; ops grey
_LEAF = {"style": "filled", "fillcolor": "lightblue"}
_ROOT = {"style": "filled", "fillcolor": "darkolivegreen1"}
_CONSTANT = {"style": "dashed"}
_OP = {"shape": "ellipse", "style": "filled", "fillcolor": "lightgray"}


# ---------------------------------------------------------------- walking the graph
def graph_nodes(roots) -> list:
    """Every node reachable from the nodes `roots`, each once, each after its inputs, first
    inputs first: ``autograd.topological_sort``, the order the engine's backward reverses."""
    return autograd.topological_sort(list(roots))


def op_name(node) -> str:
    """The op a node runs backward for: ``'Conv2d'`` for a ``Conv2dBackward`` node."""
    fn = getattr(node, "fn", None)
    if fn is not None:
        return fn.__name__
    return re.sub(r"Backward\d*$", "", node.name())


def _output_meta(nodes, roots) -> dict:
    """node -> (shape, dtype) of the tensor it produced: from the root tensors themselves, and
    for the others from an op that consumed it (its ``input_meta``)."""
    meta = {}
    for tensor in roots:
        if tensor.grad_fn is not None:
            meta.setdefault(tensor.grad_fn, (tensor.shape, tensor.dtype))
    for node in nodes:
        for (child, _), shape_dtype in zip(node.next_functions, getattr(node, "input_meta", ())):
            if child is not None:
                meta.setdefault(child, shape_dtype)
    return meta


# ---------------------------------------------------------------- labels
def quote(text: str) -> str:
    """`text` as a DOT double-quoted string: backslashes and quotes escaped, newlines as ``\\n``."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _format_values(tensor: Tensor) -> str:
    """``data`` and ``grad`` of a small tensor, four decimals, as micrograd shows them."""
    def fmt(t):
        if t is None:
            return "None"
        return np.array2string(t.numpy(), precision=4, separator=", ", floatmode="fixed")
    return f"data {fmt(tensor)}\ngrad {fmt(tensor.grad)}"


def tensor_label(shape, dtype, name: Optional[str] = None, tensor: Optional[Tensor] = None) -> str:
    """A tensor box: its name if any, ``(4, 6, 24, 24) float32``, then data and grad when `tensor`
    is given (only done for small tensors with ``show_values``)."""
    lines = [name] if name else []
    lines.append(f"{tuple(shape)} {np.dtype(dtype).name}")
    if tensor is not None:
        lines.append(_format_values(tensor))
    return "\n".join(lines)


def _attributes(attrs: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={quote(value)}" for key, value in attrs.items())


# ---------------------------------------------------------------- DOT text
class _Dot:
    """Collects the lines of a DOT graph and hands out node ids in order (``t0, t1, ...`` for
    tensors, ``op0, op1, ...`` for ops)."""

    def __init__(self):
        self.lines = []
        self.counts = {"t": 0, "op": 0}

    def node(self, kind: str, label: str, **attrs) -> str:
        node_id = f"{kind}{self.counts[kind]}"
        self.counts[kind] += 1
        self.lines.append(f"  {node_id} [{_attributes({'label': label, **attrs})}]")
        return node_id

    def edge(self, source: str, target: str) -> None:
        self.lines.append(f"  {source} -> {target}")

    def text(self) -> str:
        header = ["digraph autograd {",
                  "  graph [rankdir=TB, ordering=in]",
                  '  node [shape=box, fontname="Helvetica", fontsize=10]']
        return "\n".join(header + self.lines + ["}"]) + "\n"


def _check_arguments(tensors, params) -> dict:
    """Validate `to_dot`'s arguments; return id(tensor) -> name for the tensors in `params`.

    Identity (``id``), not ``==``, finds a tensor: Tensor's ``==`` is elementwise."""
    if not tensors:
        raise TypeError("to_dot needs at least one Tensor (e.g. the loss)")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: argument {i} is a {type(t).__name__}, not a Tensor")
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError("params must be a dict name -> Tensor, e.g. dict(model.named_parameters()), "
                        f"got {type(params).__name__}")
    names = {}
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a Tensor")
        names.setdefault(id(t), str(name))
    return names


def to_dot(*tensors: Tensor, params: Optional[Mapping[str, Tensor]] = None,
           show_values: bool = False) -> str:
    """The autograd graph that ends at `tensors`, as Graphviz DOT text.

    Args:
        *tensors (Tensor): where the graph ends (usually the loss); several share one picture.
        params (dict, optional): names for tensors, e.g. ``dict(model.named_parameters())``: a
            leaf is then labelled ``0.weight``. Any tensor of the graph may be named: a root, or
            an intermediate result kept in a variable (default: None).
        show_values (bool, optional): add ``data`` and ``grad`` to the boxes of tensors of at most
            ``MAX_VALUES`` elements that the graph can reach: leaves, `tensors` and the named
            tensors (default: False).

    Returns:
        str: the DOT text; render it with ``draw`` or ``dot -Tsvg graph.dot -o graph.svg``.

    Example:
        >>> a = tg.tensor(2.0, requires_grad=True)
        >>> b = tg.tensor(-3.0, requires_grad=True)
        >>> print(to_dot(a * b + a, params={"a": a, "b": b}))  # a Mul, an Add; `a` drawn once
    """
    names = _check_arguments(tensors, params)
    held = {}  # node -> the tensor it produced, where we hold that tensor: roots, named tensors
    for t in list(tensors) + list((params or {}).values()):
        if t.grad_fn is not None:
            held.setdefault(t.grad_fn, t)
    roots = {t.grad_fn for t in tensors if t.grad_fn is not None}
    root_leaves = {id(t) for t in tensors if t.grad_fn is None}
    start = [autograd.grad_edge(t) for t in tensors if t.requires_grad]
    nodes = graph_nodes(start)
    meta = _output_meta(nodes, tensors)

    def values(t):
        return t if show_values and t is not None and t.numel() <= MAX_VALUES else None

    def leaf_box(t):
        style = _ROOT if id(t) in root_leaves else _LEAF if t.requires_grad else _CONSTANT
        return dot.node("t", tensor_label(t.shape, t.dtype, names.get(id(t)), values(t)), **style)

    dot, box = _Dot(), {}  # box: node -> id of the box of the tensor it produced
    for node in nodes:
        if isinstance(node, autograd.AccumulateGrad):
            box[node] = leaf_box(node.variable)
            continue
        inputs = []
        for (child, _), (shape, dtype) in zip(node.next_functions, node.input_meta):
            if child is None:  # no gradient flows to this input: a dashed box of its own
                inputs.append(dot.node("t", tensor_label(shape, dtype), **_CONSTANT))
            else:
                inputs.append(box[child])
        op = dot.node("op", op_name(node), **_OP)
        for source in inputs:
            dot.edge(source, op)
        tensor = held.get(node)
        name = names.get(id(tensor)) if tensor is not None else None
        shape, dtype = meta[node]
        box[node] = dot.node("t", tensor_label(shape, dtype, name, values(tensor)),
                             **(_ROOT if node in roots else {}))
        dot.edge(op, box[node])
    for t in {id(t): t for t in tensors if not t.requires_grad}.values():
        leaf_box(t)  # a root with no graph at all: one lone box
    return dot.text()


# ---------------------------------------------------------------- rendering
def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is on the PATH (``draw`` needs it for .svg/.png)."""
    return shutil.which("dot") is not None


def render(dot_text: str, path: str) -> str:
    """Write DOT text to `path`: ``.dot`` as it is; ``.svg`` or ``.png`` through Graphviz's
    ``dot``. Returns `path`."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"draw: path must end in one of {', '.join(FORMATS)}, got {path!r}")
    if suffix == ".dot":
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_text)
        return path
    if not dot_available():
        raise RuntimeError("draw: Graphviz's `dot` program was not found on the PATH; install Graphviz "
                           "(apt-get install graphviz, brew install graphviz) or draw to a .dot file")
    result = subprocess.run(["dot", f"-T{suffix[1:]}", "-o", path], input=dot_text.encode("utf-8"),
                            capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"draw: dot failed: {result.stderr.decode(errors='replace').strip()}")
    return path


def draw(*tensors: Tensor, path: str, params: Optional[Mapping[str, Tensor]] = None,
         show_values: bool = False) -> str:
    """Draw the autograd graph that ends at `tensors` into `path` (see ``to_dot``).

    Args:
        *tensors (Tensor): where the graph ends (usually the loss).
        path (str): the file to write; its suffix picks the format: ``.svg`` or ``.png`` (rendered
            by Graphviz's ``dot``, Debian package ``graphviz``), or ``.dot`` (the text, no Graphviz
            needed).
        params, show_values: as in ``to_dot``.

    Returns:
        str: `path`.

    Raises:
        RuntimeError: for .svg/.png when ``dot`` is not installed (one line naming it).

    Example:
        >>> loss = model(x).sum()
        >>> draw(loss, path="graph.svg", params=dict(model.named_parameters()))
    """
    return render(to_dot(*tensors, params=params, show_values=show_values), path)
