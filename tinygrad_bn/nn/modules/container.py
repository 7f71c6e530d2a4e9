"""Sequential: a chain of modules, each fed the previous one's output."""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from .module import Module


class Sequential(Module):
    """A module that calls its children in order: ``forward(x) = m_n(...m_1(m_0(x)))``.

    The children are named ``'0'``, ``'1'``, ... (or by the keys of an ``OrderedDict``), so the
    parameters of ``Sequential(Linear(4, 3), ReLU(), Linear(3, 1))`` are ``'0.weight'``,
    ``'0.bias'``, ``'2.weight'``, ``'2.bias'``, exactly as in PyTorch.

    Args:
        *modules (Module): the layers, in order; or a single ``OrderedDict`` name -> Module.

    Example:
        >>> model = Sequential(Linear(4, 3), ReLU(), Linear(3, 1))
        >>> model[0]
        Linear(in_features=4, out_features=3, bias=True)
        >>> len(model)
        3
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
            return
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, "
                                "not a Module")
            self.add_module(str(index), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end (named by its position). Returns self."""
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        """An int gives that module (negative counts from the end); a slice gives a new
        Sequential of those modules (the same objects, keeping their names)."""
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"Sequential indices must be integers or slices, "
                            f"not {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"index {index} is out of range for a Sequential of {len(items)} modules")
        return items[index][1]
