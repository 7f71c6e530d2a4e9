"""Module-level forms of the Tensor methods, as PyTorch has them: ``tg.exp(x)`` is ``x.exp()``,
``tg.matmul(a, b)`` is ``a @ b``, and so on; plus the functions of several tensors (``cat``,
``stack``, ``where``, ``maximum``). Each is a one-line call of the method, so the math lives in
one place (``tensor.py``)."""
from __future__ import annotations

from .ops import movement as V
from .ops.utils import normalize_dims
from .tensor import Tensor, _where


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ---------------------------------------------------------------- elementwise
def abs(input):  # noqa: A001 (PyTorch's name)
    """|x|, elementwise."""
    return _tensor(input).abs()


def exp(input):
    """eˣ, elementwise."""
    return _tensor(input).exp()


def erf(input):
    """The error function, elementwise."""
    return _tensor(input).erf()


def log(input):
    """ln x, elementwise."""
    return _tensor(input).log()


def sqrt(input):
    """√x, elementwise."""
    return _tensor(input).sqrt()


def tanh(input):
    """tanh x, elementwise."""
    return _tensor(input).tanh()


def sigmoid(input):
    """1 / (1 + e⁻ˣ), elementwise."""
    return _tensor(input).sigmoid()


def relu(input):
    """max(x, 0), elementwise."""
    return _tensor(input).relu()


def sign(input):
    """−1, 0 or 1 by the sign of each element."""
    return _tensor(input).sign()


def neg(input):
    """−x."""
    return -_tensor(input)


def clamp(input, min=None, max=None):  # noqa: A002 (PyTorch's names)
    """Each element clamped into [min, max]."""
    return _tensor(input).clamp(min, max)


clip = clamp


def pow(input, exponent):  # noqa: A001
    """input ** exponent, elementwise."""
    return _tensor(input) ** exponent


def add(input, other, alpha=1):
    """input + alpha · other."""
    return _tensor(input).add(other, alpha)


def sub(input, other, alpha=1):
    """input − alpha · other."""
    return _tensor(input).sub(other, alpha)


def mul(input, other):
    """input · other, elementwise."""
    return _tensor(input) * other


def div(input, other):
    """input / other, elementwise."""
    return _tensor(input) / other


def maximum(input, other):
    """The larger of the two, elementwise (ties share the gradient)."""
    return _tensor(input).maximum(other)


def minimum(input, other):
    """The smaller of the two, elementwise (ties share the gradient)."""
    return _tensor(input).minimum(other)


def where(condition, input=None, other=None):
    """`input` where `condition` holds, else `other`; ``where(condition)`` alone gives the
    indices of its True elements, one index tensor per dim."""
    if input is None and other is None:
        return tuple(Tensor._wrap(i) for i in _tensor(condition).array.nonzero())
    return _where(condition, input, other)


def eq(input, other):
    """input == other, elementwise."""
    return _tensor(input) == other


# ---------------------------------------------------------------- products and reductions
def matmul(input, other):
    """The matrix product (``input @ other``)."""
    return _tensor(input).matmul(other)


mm = matmul


def sum(input, dim=None, keepdim=False, **kw):  # noqa: A001
    """Σ over `dim`."""
    return _tensor(input).sum(dim, keepdim, **kw)


def mean(input, dim=None, keepdim=False, **kw):
    """The mean over `dim`."""
    return _tensor(input).mean(dim, keepdim, **kw)


def var(input, dim=None, keepdim=False, correction=1, **kw):
    """The variance over `dim`."""
    return _tensor(input).var(dim, keepdim, correction, **kw)


def std(input, dim=None, keepdim=False, correction=1, **kw):
    """The standard deviation over `dim`."""
    return _tensor(input).std(dim, keepdim, correction, **kw)


def max(input, dim=None, keepdim=False, **kw):  # noqa: A001
    """``max(x)``, ``max(x, dim)`` -> (values, indices), or ``max(x, other)`` (see Tensor.max)."""
    return _tensor(input).max(dim, keepdim, **kw)


def min(input, dim=None, keepdim=False, **kw):  # noqa: A001
    """``min(x)``, ``min(x, dim)`` -> (values, indices), or ``min(x, other)``."""
    return _tensor(input).min(dim, keepdim, **kw)


def amax(input, dim=None, keepdim=False, **kw):
    """The maximum values over `dim`."""
    return _tensor(input).amax(dim, keepdim, **kw)


def amin(input, dim=None, keepdim=False, **kw):
    """The minimum values over `dim`."""
    return _tensor(input).amin(dim, keepdim, **kw)


def argmax(input, dim=None, keepdim=False, **kw):
    """The index of the maximum."""
    return _tensor(input).argmax(dim, keepdim, **kw)


def argmin(input, dim=None, keepdim=False, **kw):
    """The index of the minimum."""
    return _tensor(input).argmin(dim, keepdim, **kw)


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over `dim`."""
    return _tensor(input).norm(p, dim, keepdim)


def softmax(input, dim):
    """eˣ / Σ eˣ along `dim`."""
    return _tensor(input).softmax(dim)


def log_softmax(input, dim):
    """x − log Σ eˣ along `dim`."""
    return _tensor(input).log_softmax(dim)


def numel(input) -> int:
    """The number of elements."""
    return _tensor(input).numel()


# ---------------------------------------------------------------- shapes
def reshape(input, shape):
    """The values in a new shape."""
    return _tensor(input).reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Dims start_dim .. end_dim merged."""
    return _tensor(input).flatten(start_dim, end_dim)


def transpose(input, dim0, dim1):
    """Two dims swapped."""
    return _tensor(input).transpose(dim0, dim1)


def permute(input, dims):
    """The dims reordered."""
    return _tensor(input).permute(dims)


def t(input):
    """The transpose of a matrix."""
    return _tensor(input).t()


def unsqueeze(input, dim):
    """A dim of size 1 inserted at `dim`."""
    return _tensor(input).unsqueeze(dim)


def squeeze(input, dim=None):
    """Dims of size 1 removed."""
    return _tensor(input).squeeze(dim)


def gather(input, dim, index):
    """Values picked along `dim` by `index` (see Tensor.gather)."""
    return _tensor(input).gather(dim, index)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces along `dim` (see Tensor.split)."""
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    """`chunks` pieces along `dim`."""
    return input.chunk(chunks, dim)


def cat(tensors, dim: int = 0) -> Tensor:
    """The tensors joined along an existing dim `dim` (all other dims must match)."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat expects a non-empty list of tensors")
    first = tensors[0]
    (axis,) = normalize_dims(dim, first.ndim) if first.ndim else (None,)
    if axis is None:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    for i, t in enumerate(tensors[1:], start=1):
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1:] != \
                first.shape[:axis] + first.shape[axis + 1:]:
            raise ValueError(f"cat: sizes of tensors must match except in dimension {dim}: "
                             f"tensor 0 has shape {first.shape}, tensor {i} has {t.shape}")
        if t.dtype != first.dtype:
            raise TypeError(f"cat: tensor {i} has dtype {t.dtype}, tensor 0 has {first.dtype}")
    return V.Cat.apply(*tensors, dim=axis)


concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a NEW dim `dim`."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack expects a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack expects each tensor to be equal size, got shapes {sorted(shapes)}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def is_tensor(obj) -> bool:
    """Whether `obj` is a Tensor."""
    return isinstance(obj, Tensor)
