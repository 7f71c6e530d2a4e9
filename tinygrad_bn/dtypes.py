"""Data types: PyTorch's names for NumPy dtypes, which dtypes a tensor may hold, and type
promotion (the dtype of ``a + b`` when a and b differ).

A tensor's ``dtype`` is a NumPy dtype; ``tg.float32``, ``tg.int64``, ``tg.bool`` ... name them,
with PyTorch's aliases (``tg.float`` is float32, ``tg.double`` float64, ``tg.long`` int64,
``tg.int`` int32). float32 is the default dtype, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32
SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned ints, floats; no complex, objects, strings

# ``tensor.type()`` names, as PyTorch prints them
_TYPE_NAMES = {float16: "HalfTensor", float32: "FloatTensor", float64: "DoubleTensor",
               uint8: "ByteTensor", int8: "CharTensor", int16: "ShortTensor", int32: "IntTensor",
               int64: "LongTensor", bool_: "BoolTensor"}


def as_dtype(dtype, what: str = "tensor") -> np.dtype | None:
    """`dtype` (a NumPy dtype, a type such as ``np.float32``, or a name such as ``'float32'``) as
    a NumPy dtype that a tensor may hold; None stays None. Refuses object, string and complex."""
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{what}: unsupported dtype {dtype!r}") from err
    if dtype.kind not in SUPPORTED_KINDS:
        raise TypeError(f"{what}: unsupported dtype {dtype} (tensors hold bool, int or float data)")
    return dtype


def as_float_dtype(dtype, what: str) -> np.dtype:
    """`dtype` (default float32) checked to be floating point, for random and float factories."""
    dtype = as_dtype(dtype, what) or DEFAULT_FLOAT
    if dtype.kind != "f":
        raise TypeError(f"{what}: dtype must be a floating point type, got {dtype}")
    return dtype


def float_result(dtype: np.dtype) -> np.dtype:
    """The dtype of a floating point op (exp, sqrt, sigmoid, ...) applied to `dtype`: the same
    float, or float32 (PyTorch's default) for ints and bools."""
    return dtype if dtype.kind == "f" else DEFAULT_FLOAT


def type_name(dtype: np.dtype) -> str:
    """``'tinygrad_bn.FloatTensor'`` and the like: what ``Tensor.type()`` returns."""
    return f"tinygrad_bn.{_TYPE_NAMES.get(np.dtype(dtype), str(dtype))}"


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def category(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floats."""
    return _CATEGORY[dtype.kind]


def promote(a, b) -> np.dtype:
    """PyTorch's type promotion for two tensors `a` and `b` (anything with .dtype and .ndim).

    Categories rank bool < int < float and the higher category wins (int + float tensor -> the
    float's dtype); within one category a 0-d tensor (like a Python scalar) does not widen a
    tensor with dims (float32 tensor + float64 0-d tensor stays float32); otherwise the wider
    dtype wins.
    """
    rank_a, rank_b = category(a.dtype), category(b.dtype)
    if rank_a != rank_b:
        return a.dtype if rank_a > rank_b else b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        return b.dtype if a.ndim == 0 else a.dtype
    return np.promote_types(a.dtype, b.dtype)


def scalar_dtype(value, tensor_dtype: np.dtype) -> np.dtype:
    """The dtype a Python number takes next to a tensor of `tensor_dtype`, as in PyTorch: the
    tensor's own dtype (``x_float32 * 2.5`` stays float32), unless the number is a float and
    the tensor is not (float32), or an int next to a bool tensor (int64)."""
    if tensor_dtype.kind == "f" or isinstance(value, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(value, (int, np.integer)):
        return tensor_dtype if tensor_dtype.kind in "iu" else int64
    return DEFAULT_FLOAT


def promote_scalar(dtype: np.dtype, value) -> np.dtype:
    """The dtype of (tensor of `dtype`) <op> (Python number `value`): the tensor's, unless the
    number is of a higher category (a float next to an int tensor: float32)."""
    other = scalar_dtype(value, dtype)
    return other if category(other) > category(dtype) else dtype


def can_write(result: np.dtype, target: np.dtype) -> bool:
    """Whether an in-place op may store a `result` value in a tensor of `target` dtype: not
    from a higher category (a float result into an int tensor), as PyTorch refuses too."""
    return category(result) <= category(target)
