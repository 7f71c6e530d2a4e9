"""summary(model, input_size): a table of a model's layers, like torchinfo's ``summary``.

How it finds each layer's output shape without hooks. A ``Sequential`` calls its children in
order, so ``summary`` does the same itself: it feeds the input through each child in turn and
records what comes out (recursing into nested ``Sequential``s). Any other module writes in its own
``forward`` which child gets which input, which we cannot know without running that code, so
such a module is ONE row with its output shape; its children are listed below it with their
parameter counts and ``--`` for the shape. (PyTorch's torchinfo registers forward hooks on every
module; our ``Module`` has no hooks, and we do not monkey-patch ``forward``.)

The forward runs once, on zeros, in eval mode (batch norm uses its running statistics and leaves
them unchanged; dropout is off), and every module's mode is restored afterwards, so the model is
exactly as it was.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .. import backend
from ..autograd import saved_nbytes
from ..factories import zeros
from ..tensor import Tensor
from .modules import Module, Sequential


@dataclass
class LayerInfo:
    """One row of the table.

    Attributes:
        name (str): the dotted name, as in ``named_modules()`` ('' for the model itself).
        type_name (str): the class name, e.g. 'Conv2d'.
        depth (int): how deep in the tree (0 for the model).
        output_shape (tuple or None): the shape of the output, None where it is not known.
        num_params (int): the parameters of this module and its descendants.
        output_bytes (int): bytes of its output (0 for containers, whose output is a child's).
    """

    name: str
    type_name: str
    depth: int
    output_shape: Optional[Tuple[int, ...]]
    num_params: int
    output_bytes: int = 0


@dataclass
class ModelSummary:
    """What ``summary`` measured; ``str()`` (and ``repr()``) gives the table.

    Attributes:
        rows (list of LayerInfo): the model, then each module, depth first.
        total_params, trainable_params (int): counted once each, even when shared.
        input_bytes, param_bytes, buffer_bytes (int): memory of the input, parameters, buffers.
        output_bytes (int): the sum of every layer's output for one forward (torchinfo's
            "forward pass size"): what one forward would hold if every output were kept. A
            module run as a whole counts its output only, not the results inside it.
        saved_bytes (int): what the graph of one forward (in eval mode) keeps for backward,
            ``autograd.saved_nbytes``: activations, and the weights (or their transposes) that
            some ops save too. Compare a fused batch norm with the composed one here.
    """

    rows: List[LayerInfo]
    total_params: int
    trainable_params: int
    input_bytes: int
    param_bytes: int
    buffer_bytes: int
    output_bytes: int
    saved_bytes: int

    def __str__(self) -> str:
        return _table(self)

    __repr__ = __str__


def _numel(tensors) -> int:
    return sum(t.numel() for t in tensors)


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _row(name: str, module: Module, depth: int, output: Optional[Tensor]) -> LayerInfo:
    """The row of `module`; `output` is what it returned (None where it was not run alone)."""
    shape, nbytes = (None, 0) if output is None else (output.shape, _nbytes([output]))
    return LayerInfo(name, type(module).__name__, depth, shape, _numel(module.parameters()), nbytes)


def _child_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _list_without_shapes(module: Module, prefix: str, depth: int, rows: list) -> None:
    """Rows for the descendants of a module we ran as a whole: parameter counts, no shapes."""
    for name, child in module.named_children():
        full = _child_name(prefix, name)
        rows.append(_row(full, child, depth, None))
        _list_without_shapes(child, full, depth + 1, rows)


def _run(module: Module, x: Tensor, prefix: str, depth: int, rows: list) -> Tensor:
    """Feed `x` through `module`, appending its rows to `rows`; return its output."""
    if type(module).forward is not Sequential.forward:  # its forward decides: run it whole
        y = module(x)
        rows.append(_row(prefix, module, depth, y))
        _list_without_shapes(module, prefix, depth + 1, rows)
        return y
    index = len(rows)
    rows.append(None)  # the container's row, filled once its output is known
    for name, child in module._modules.items():  # what Sequential.forward runs, repeats included
        x = _run(child, x, _child_name(prefix, name), depth + 1, rows)
    row = _row(prefix, module, depth, x)
    row.output_bytes = 0  # its output is its last child's: counted there
    rows[index] = row
    return x


def _check_input_size(input_size) -> tuple:
    if (not isinstance(input_size, Sequence) or not input_size
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
                       for n in input_size)):
        raise ValueError(f"input_size must be a tuple of positive ints with the batch size first, "
                         f"e.g. (64, 1, 28, 28); got {input_size!r}")
    return tuple(int(n) for n in input_size)


def summary(model: Module, input_size: Sequence[int], device: str = "cpu") -> ModelSummary:
    """Per layer: name, type, output shape and parameter count; then the totals and the memory
    of the parameters and of the activations of one forward.

    Runs one forward of a zero input through `model` in eval mode (see the module docstring for
    how, and why only ``Sequential`` containers are opened up), then restores every module's
    training mode: neither the parameters nor the running statistics change.

    Args:
        model (Module): the model, on `device`.
        input_size (tuple of int): the input's shape, batch size first, e.g. (64, 1, 28, 28).
        device (str, optional): where to make the input: 'cpu' or 'cuda' (default: 'cpu').

    Returns:
        ModelSummary: print it for the table; its fields hold the numbers.

    Example:
        >>> print(nn.summary(models.lenet(), (256, 1, 28, 28)))
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary expects a Module, got {type(model).__name__}")
    input_size = _check_input_size(input_size)
    x = zeros(input_size, device=backend.check_device(device))
    modes = [(m, m.training) for m in model.modules()]
    rows: list = []
    try:
        model.eval()
        y = _run(model, x, "", 0, rows)
        saved = saved_nbytes(y) if isinstance(y, Tensor) else 0
    finally:
        for m, training in modes:
            m.training = training  # each module's own flag, as it was
    params = list(model.parameters())
    return ModelSummary(rows, _numel(params), _numel(p for p in params if p.requires_grad),
                        _nbytes([x]), _nbytes(params), _nbytes(model.buffers()),
                        sum(r.output_bytes for r in rows), saved)


# ---------------------------------------------------------------- the table
def _format_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return ""  # unreachable


def _table(s: ModelSummary) -> str:
    names = ["  " * r.depth + (f"{r.name} ({r.type_name})" if r.depth else r.type_name) for r in s.rows]
    shapes = ["--" if r.output_shape is None else str(tuple(r.output_shape)) for r in s.rows]
    counts = [f"{r.num_params:,}" for r in s.rows]
    widths = [max(len(h), *map(len, col)) for h, col in
              (("Layer (type)", names), ("Output shape", shapes), ("Param #", counts))]
    width = sum(widths) + 4

    def line(name, shape, count):
        return f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {count:>{widths[2]}}"

    out = [line("Layer (type)", "Output shape", "Param #"), "=" * width]
    out += [line(*cells) for cells in zip(names, shapes, counts)]
    out += ["=" * width,
            f"Total params: {s.total_params:,}",
            f"Trainable params: {s.trainable_params:,}",
            f"Non-trainable params: {s.total_params - s.trainable_params:,}",
            "-" * width,
            f"Input size: {_format_bytes(s.input_bytes)}",
            f"Params size: {_format_bytes(s.param_bytes)}",
            f"Buffers size: {_format_bytes(s.buffer_bytes)}",
            f"Layer outputs, one forward: {_format_bytes(s.output_bytes)}",
            f"Saved for backward, one forward: {_format_bytes(s.saved_bytes)}",
            "=" * width]
    return "\n".join(out)
