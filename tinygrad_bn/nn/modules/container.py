"""Containers: Sequential (a chain), ModuleList and ModuleDict (modules held as a list or dict)."""
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


class ModuleList(Module):
    """A list of modules, registered as children (so their parameters are found), named
    ``'0'``, ``'1'``, ... as in PyTorch. It has no forward: index or iterate it in yours.

    Example:
        >>> layers = ModuleList([Linear(4, 4) for _ in range(3)])
        >>> for layer in layers:
        ...     x = layer(x).relu()
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a ModuleList of {len(self)} modules")
        return index % len(self)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[str(self._index(index))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(self._index(index)), module)

    def __delitem__(self, index) -> None:
        items = list(self._modules.values())
        del items[index if isinstance(index, slice) else self._index(index)]
        self._modules.clear()
        self.extend(items)  # renumber, as PyTorch does

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end. Returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        """Add each of `modules` at the end. Returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index`."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self.extend(items)


class ModuleDict(Module):
    """A dict of modules, registered as children under their keys (insertion order kept).

    Example:
        >>> heads = ModuleDict({"cls": Linear(8, 10), "box": Linear(8, 4)})
        >>> out = {name: head(features) for name, head in heads.items()}
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        """Add (or replace) modules from a dict or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove `key` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()
