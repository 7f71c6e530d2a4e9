"""Module: the base class of every layer, and of every model built from layers.

A module is a tree. Each node keeps three ordered dicts, filled by plain attribute assignment
(``__setattr__`` looks at the type of the value):

* ``_parameters``: the Parameters it owns (``self.weight = Parameter(...)``),
* ``_buffers``:    tensors that are state but not learned (``self.register_buffer(...)``),
                   such as batch norm's running statistics,
* ``_modules``:    its sub-modules, the children (``self.fc1 = Linear(...)``).

Reading ``self.weight`` finds the value in those dicts (``__getattr__``). Everything else —
``parameters()``, ``state_dict()``, ``train()``, ``to()`` — is a walk over the tree, in the order
PyTorch uses: a module's own parameters (then buffers) first, then each child's, recursively, in
registration order. Names are dotted paths: ``'features.0.weight'``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from ... import backend, validate
from ...tensor import Tensor
from ..parameter import Parameter
from .state import load_module_state


class Module:
    """Base class of all neural-network layers and models.

    Subclass it, call ``super().__init__()`` first, assign Parameters, buffers and sub-modules
    as attributes, and write ``forward``. Call the module (``model(x)``), not ``forward``.

    Example:
        >>> class MLP(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = Linear(4, 8)
        ...         self.fc2 = Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> [name for name, _ in MLP().named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation of the module; every subclass writes its own."""
        raise NotImplementedError(f"{type(self).__name__} has no forward method")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def _check_initialised(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 "(call super().__init__() first in your __init__)")

    def _check_name(self, name, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, to declare an absent one such as ``bias=False``)."""
        self._check_initialised("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            "(Parameter or None expected)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Add a buffer: a tensor of state that is not learned (e.g. running statistics).

        Buffers are saved in ``state_dict()`` and moved by ``to()``, but are not returned by
        ``parameters()``, so no optimizer touches them. None declares an absent buffer.
        """
        self._check_initialised("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} "
                            "(Tensor or None expected)")
        if isinstance(tensor, Parameter):
            raise TypeError(f"cannot register Parameter {name!r} as a buffer; "
                            "assign it as an attribute instead")
        if name in self.__dict__ or name in self._parameters or name in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (what ``self.name = module`` does)."""
        self._check_initialised("modules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    def _forget(self, name: str, keep: dict) -> None:
        """Remove `name` from every place an attribute can live except `keep`, where it is about
        to be (re)assigned: replacing ``self.weight`` keeps its place in the order."""
        for store in (self.__dict__, self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)

    def __setattr__(self, name: str, value) -> None:
        params, buffers, modules = (self.__dict__.get(k) for k in
                                    ("_parameters", "_buffers", "_modules"))
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(Parameter or None expected)")
            params[name] = None
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                "(Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails, i.e. for registered parameters/buffers/modules.
        for store in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(store)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, prefix: str = "", memo: set | None = None) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module (name `prefix`) and every descendant, depth first,
        each module once even if it is reachable by several paths."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant (see `named_modules`)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct child, each once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, store: str, prefix: str, recurse: bool):
        """(dotted name, tensor) from the `store` dict of each module, each tensor once.

        Identity (`id`), not `==`, decides "once": Tensor's `==` is elementwise.
        """
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a parameter shared by two layers appears once.

        Args:
            prefix (str, optional): prepended to every name (default: '').
            recurse (bool, optional): include the parameters of descendants (default: True).
        """
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The Parameters of this module and its descendants: what an optimizer updates."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, skipping buffers that are None."""
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every
        descendant. Dropout and batch norm behave differently in the two. Returns self."""
        validate.boolean(mode, "training mode", type(self).__name__, error=ValueError)
        self.training = mode
        for child in self.children():
            child.train(mode)  # a call, not an assignment, so a subclass may override train
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``. Returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. False to freeze a layer). Returns self."""
        requires_grad = validate.boolean(requires_grad, "requires_grad", "requires_grad_")
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (the default, as in PyTorch), or to
        zeros with ``set_to_none=False``. Gradients accumulate, so call this every step."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    # ------------------------------------------------------------ state dict
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(name, tensor) of every parameter and buffer, in ``state_dict`` order: each module's
        own parameters, then its buffers, then its children's, recursively.

        Unlike `named_parameters`, a shared tensor appears under every name that reaches it
        (PyTorch does the same), so each name of the model can be loaded."""
        for store in (self._parameters, self._buffers):
            for name, value in store.items():
                if value is not None:
                    yield prefix + name, value
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_items(f"{prefix}{name}.")

    def state_dict(self) -> OrderedDict:
        """A dict of every parameter and buffer, name -> NumPy array.

        The arrays are COPIES (also on the CPU), so later training does not change a saved state
        and changing the returned arrays does not change the model. Integer buffers keep their
        dtype: ``num_batches_tracked`` is a 0-d int64 array.
        """
        return OrderedDict((name, backend.to_numpy(tensor.array, copy=True))
                           for name, tensor in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy the values of `state_dict` into this module's parameters and buffers.

        Each value (a NumPy or CuPy array, a Tensor, or a number or nested list of numbers) is
        copied into the existing tensor, which keeps its identity, dtype and device; the module
        never holds the caller's arrays. All or nothing: every value is checked and converted
        first (present, numeric, the right shape, castable to the tensor's dtype without changing
        its meaning: see ``state.py``), and only then copied, so a failed load leaves the module
        unchanged.

        Args:
            state_dict (dict): name -> value, e.g. from ``state_dict()``, ``tg.load`` or
                ``{k: v.numpy() for k, v in torch_model.state_dict().items()}``.
            strict (bool, optional): require the keys to match this module's exactly. With
                False, missing and unexpected keys are skipped (and returned); a shape mismatch
                or an unusable value is an error either way, as in PyTorch. (default: True)

        Returns:
            A named tuple ``(missing_keys, unexpected_keys)`` of lists of names.

        Raises:
            RuntimeError: "Error(s) in loading state_dict for <Module>", listing ALL missing keys,
                unexpected keys, shape mismatches and unusable values at once, each by its key.
        """
        return load_module_state(self, state_dict, strict)

    # ------------------------------------------------------------ devices and dtypes
    def _apply(self, fn: Callable) -> Module:
        """Replace the array of every parameter, buffer and gradient by ``fn(array)``.

        ``.array`` is replaced, not the tensor: the Parameter objects an optimizer holds stay
        the same objects and see the new arrays."""
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for tensor in store.values():
                    if tensor is None:
                        continue
                    tensor.array = fn(tensor.array)
                    if tensor.grad is not None:
                        tensor.grad.array = fn(tensor.grad.array)
        return self

    def to(self, device: str) -> Module:
        """Move every parameter and buffer to `device` ('cpu' or 'cuda'), in place. Returns self."""
        device = backend.check_device(device)
        return self._apply(lambda array: backend.to_device(array, device))

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def _cast_floats(self, dtype) -> Module:
        # integer buffers (num_batches_tracked) are counters, not values: they keep their dtype
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)

    def float(self) -> Module:
        """Cast every floating point parameter and buffer to float32, in place. Returns self."""
        return self._cast_floats(np.float32)

    def double(self) -> Module:
        """Cast every floating point parameter and buffer to float64, in place. Returns self."""
        return self._cast_floats(np.float64)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn(module)`` on every descendant (children first) and then on self, e.g. for a
        custom initialisation. Returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The hyper-parameters shown inside the parentheses of ``repr``; layers override it."""
        return ""

    def __repr__(self) -> str:
        # PyTorch's layout: one line when there is only extra_repr, otherwise one line per
        # hyper-parameter line and per child, indented by two spaces per level.
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            children.append(f"({name}): {child_repr}")
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"
