"""Tensor's conversions: to NumPy and Python numbers (``numpy``, ``item``, ``float(t)``, the
``__array__`` protocol), between devices and dtypes (``to``, ``cuda``, ``astype``, ``long``, ...)
and copies (``clone``, ``contiguous``, ``detach``). A method group of ``Tensor`` (tensor.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import backend, dtypes
from .ops import elementwise as E

if TYPE_CHECKING:  # for annotations only: tensor.py imports this file
    from .tensor import Tensor


class ConversionMethods:
    """The conversions of Tensor (see tensor.py)."""

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied off the GPU; on the CPU it shares memory)."""
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """NumPy's protocol: ``np.asarray(t)`` of a CPU tensor; a CUDA tensor raises (as PyTorch)."""
        if self.device != "cpu":
            raise TypeError(f"can't convert {self.device} tensor to numpy: use .cpu() or .numpy() "
                            "to copy it to host memory first")
        out = self.array if dtype is None else self.array.astype(dtype, copy=False)
        if copy and out is self.array:  # np.array(t) asks for a copy: never hand out t's memory
            out = out.copy()
        return out

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def __float__(self) -> float:
        return float(self._one_value("float"))

    def __int__(self) -> int:
        return int(self._one_value("int"))

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index, got {self.dtype}")
        return int(self._one_value("index"))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def _one_value(self, what: str):
        if self.array.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"({what}() of a tensor of shape {self.shape})")
        return self.item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``: a tensor
        on that device / of that dtype (self when nothing changes); differentiable."""
        device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if self._is_tensor(arg):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (str, backend.device)):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None:
            device = backend.check_device(device)
            if device != out.device:
                out = E.ToDevice.apply(out, device=device)
        return out if dtype is None else out.astype(dtype)

    def cpu(self) -> Tensor:
        """A copy in host memory (self if already there)."""
        return self.to("cpu")

    def cuda(self) -> Tensor:
        """A copy on the GPU (self if already there)."""
        return self.to("cuda")

    def detach(self) -> Tensor:
        """The same storage (shared, not copied, same version counter) cut off from the graph.
        A leaf of its own, as in PyTorch: it may be changed in place even when self is a weight
        (the shared version counter still catches a backward that needed the old values)."""
        t = self._new(self.array.view())  # a new array object: ops tell it apart from self's
        t._version = self._version
        return t

    def astype(self, dtype) -> Tensor:
        """The values converted to `dtype` (differentiable between float dtypes)."""
        dtype = dtypes.as_dtype(dtype, "astype")
        if dtype == self.dtype:
            return self
        if dtype.kind == "f" and self.dtype.kind == "f":
            return E.Cast.apply(self, dtype=dtype)
        return self._new(self.array.astype(dtype))  # int/bool results carry no gradient

    def type(self, dtype=None):
        """With no argument, the type's name (``'tinygrad_bn.FloatTensor'``); else ``astype(dtype)``."""
        return dtypes.type_name(self.dtype) if dtype is None else self.astype(dtype)

    def float(self) -> Tensor:
        """As float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """As float64."""
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """As int64."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """As int32."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """As bool."""
        return self.astype(np.bool_)

    def clone(self) -> Tensor:
        """A copy with its own storage; differentiable (the gradient passes through)."""
        return E.Copy.apply(self)

    def contiguous(self) -> Tensor:
        """Self if its values lie contiguously in memory (row-major), else a contiguous copy."""
        return self if self.array.flags.c_contiguous else self.clone()
