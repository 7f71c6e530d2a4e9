"""Parameter: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that is a module's learnable weight.

    Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``) registers it,
    so it appears in ``module.parameters()`` (what an optimizer updates) and in ``state_dict()``.
    A plain Tensor assigned the same way is just an attribute.

    Args:
        data (Tensor, array or list, optional): the initial value. A Tensor's array is SHARED,
            as in PyTorch (``Parameter(tg.randn(3))`` costs no copy); anything else is converted
            like ``Tensor(data)`` (arrays copied, Python floats become float32). The graph of a
            non-leaf Tensor is dropped: a Parameter is always a leaf. (default: an empty float32
            tensor)
        requires_grad (bool, optional): whether backward fills ``.grad`` (default: True).

    Example:
        >>> w = Parameter(tg.zeros(2, 3))
        >>> w.requires_grad, w.is_leaf
        (True, True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        source = data if isinstance(data, Tensor) else Tensor(data)
        if requires_grad and source.dtype.kind != "f":
            raise TypeError(f"only floating point parameters can require grad, got {source.dtype}")
        # Tensor.__init__ would copy the array; set the fields directly to share it instead
        # (and its version counter: as in PyTorch, the parameter and the tensor are one storage).
        self._init(source.array)
        self._version = source._version
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
