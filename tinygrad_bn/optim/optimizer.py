"""Optimizer: the base class of every update rule (SGD, Adam, AdamW, RMSprop).

An optimizer holds

* ``param_groups``: a list of dicts, each with ``'params'`` (a list of Tensors) and that group's
  hyper-parameters (``'lr'``, ``'momentum'``, ...). Options missing from a group are filled from
  the optimizer's defaults, so ``SGD([{'params': body}, {'params': head, 'lr': 1e-2}], lr=1e-3)``
  trains the head ten times faster. Schedulers change a group's ``'lr'`` between steps.
* ``state``: a dict from parameter to that parameter's own state (momentum buffers, Adam's
  moments, step counts), created lazily at the first step that parameter has a gradient.

``step()`` updates every parameter in place from its ``.grad``; parameters whose ``.grad`` is
None are skipped (they did not take part in the loss, or are frozen). Updates are in-place
tensor ops under ``no_grad``, as in PyTorch: they are not recorded in the autograd graph, and
they bump each parameter's version counter, so a backward through a graph built before the step
(which would use the new weights) raises instead of computing a wrong gradient.

``state_dict()`` follows PyTorch's layout, in which parameters are referred to by their INDEX in
the order they appear across the groups (the tensors themselves cannot be saved)::

    {'state': {0: {'momentum_buffer': array(...)}, 2: {...}},
     'param_groups': [{'lr': 0.1, 'momentum': 0.9, ..., 'params': [0, 1, 2]}]}

Its arrays are NumPy copies, so it can go straight into ``tg.save`` and later steps do not change
it. ``load_state_dict`` maps the indices back onto this optimizer's parameters, copying each
array onto its parameter's device (floating state in the parameter's dtype).
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from .. import autograd, backend
from ..nn.modules.state import StateValueError, as_numeric_array, convert
from ..tensor import Tensor


class Optimizer:
    """Base class of all optimizers.

    Subclasses pass their hyper-parameters as ``defaults``, check them in ``_validate_group``
    and implement ``step``.

    Args:
        params (iterable): Tensors to optimize, or dicts defining parameter groups (each with a
            ``'params'`` entry and any per-group options).
        defaults (dict): the default value of every option, used by groups that omit it.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError("params should be an iterable of Tensors or dicts, but got a single "
                            "Tensor; wrap it in a list: [tensor]")
        self.defaults = dict(defaults)
        self._validate_group(self.defaults)
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []

        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate_group(self, group: dict) -> None:
        """Raise ValueError for an invalid hyper-parameter of `group` (subclasses override)."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, with its own options, to ``param_groups``.

        Useful to start training layers that were frozen: ``opt.add_param_group({'params':
        head.parameters(), 'lr': 1e-3})``. Missing options take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("parameters must be an ordered collection (a set's order changes "
                            "between runs, which would scramble state_dict indices); use a list")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (it is the result of an "
                                 "operation; optimize the leaves it was computed from)")

        # Identity, not ==: Tensor.__eq__ is elementwise.
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "they will be updated more than once per step", stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")

        group = {"params": params}
        for name, default in self.defaults.items():
            group[name] = param_group.get(name, default)
        for name, value in param_group.items():  # options the defaults do not know (e.g. initial_lr)
            group.setdefault(name, value)
        self._validate_group(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters.

        Args:
            set_to_none (bool, optional): set ``.grad`` to None (default: True) rather than
                filling it with zeros. None frees the memory and lets ``step`` skip the parameter.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update the parameters once. Subclasses implement the rule in ``_update_group``.

        Args:
            closure (callable, optional): re-evaluates the model and returns the loss; it is
                called (with grad enabled) before the update and its result returned.
        """
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        with autograd.no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                if params:
                    self._update_group(group, params)
        return loss

    def _update_group(self, group: dict, params: list[Tensor]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement its update rule")

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The optimizer's hyper-parameters and per-parameter state, parameters given by index.

        Returns:
            dict: ``{'state': {index: {name: value}}, 'param_groups': [{option: value,
            'params': [index, ...]}]}`` with arrays as NumPy copies (PyTorch's layout).
        """
        index_of: dict[int, int] = {}  # id(param) -> position across all groups
        param_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            param_groups.append(packed)
        state = {index_of[id(p)]: {name: _numpy_copy(value) for name, value in s.items()}
                 for p, s in self.state.items() if id(p) in index_of}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (possibly from a file).

        The optimizer must have been built over parameters with the same group structure; the
        i-th saved parameter's state goes to this optimizer's i-th parameter, as a copy moved
        onto that parameter's device (floating arrays converted to the parameter's dtype).

        All or nothing: everything is checked first -- the group structure, that every saved
        group has all of this optimizer's options with valid values (an SGD state_dict lacks
        Adam's ``betas`` and ``eps``), and that every state value is a number, None, or a numeric
        array that is 0-d or of its parameter's shape and castable to its dtype -- and only then
        is the optimizer changed. On error it is unchanged.

        Raises:
            ValueError: "Error(s) in loading state_dict for <Optimizer>", listing every problem,
                each naming its parameter group or parameter index and key.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError("an optimizer state_dict is a dict with 'state' and 'param_groups'")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise ValueError(f"'param_groups' of an optimizer state_dict is a list of dicts, got "
                             f"{type(saved_groups).__name__} {saved_groups!r:.60}")
        if not isinstance(saved_state, dict):
            raise ValueError(f"'state' of an optimizer state_dict is a dict, got "
                             f"{type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"but the optimizer has {len(self.param_groups)}")

        errors, param_of, groups = [], {}, []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)):
                errors.append(f"parameter group {i} has no 'params' list of indices")
                continue
            if len(indices) != len(group["params"]):
                errors.append(f"parameter group {i} of the loaded state dict has {len(indices)} "
                              f"parameters, but the optimizer's has {len(group['params'])}")
                continue
            for index, p in zip(indices, group["params"]):
                param_of[index] = p
            options = {k: v for k, v in saved.items() if k != "params"}
            lacking = [name for name in self.defaults if name not in options]
            if lacking:
                errors.append(f"parameter group {i} has no option {', '.join(map(repr, lacking))} "
                              f"that {type(self).__name__} needs (a state_dict of another optimizer?)")
                continue
            try:
                self._validate_group(options)
            except (ValueError, TypeError) as err:
                errors.append(f"parameter group {i}: {err}")
                continue
            groups.append({**options, "params": group["params"]})

        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for index, saved_values in saved_state.items():
            if isinstance(index, bool) or index not in param_of:
                errors.append(f"state refers to parameter index {index!r}, which no parameter "
                              "group lists")
                continue
            if not isinstance(saved_values, dict):
                errors.append(f"state of parameter {index} is {type(saved_values).__name__}, not a dict")
                continue
            p = param_of[index]
            for name, value in saved_values.items():
                try:
                    state[p][name] = _onto_param(value, p)
                except StateValueError as err:
                    errors.append(f"state of parameter {index} (shape {p.shape}), {name!r}: {err}")
        if errors:
            raise ValueError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                             + "\n\t".join(errors))

        # Options come from the file; the parameters stay this optimizer's own tensors.
        self.param_groups = groups
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _numpy_copy(value):
    """Arrays become NumPy copies (off the GPU, and safe from later in-place steps)."""
    if isinstance(value, Tensor):
        value = value.array
    if backend.is_array(value):
        return backend.to_numpy(value, copy=True)
    return value


def _onto_param(value, p: Tensor):
    """A saved state value as a fresh Tensor on `p`'s device (floating arrays take p's dtype);
    plain numbers and None stay as they are. Raises StateValueError for anything else, and for
    an array that is neither 0-d (a step count) nor of p's shape, or that p's dtype cannot hold."""
    if value is None or (isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)):
        return value
    array = as_numeric_array(value)
    if array.ndim != 0 and tuple(array.shape) != p.shape:
        raise StateValueError(f"an array of shape {tuple(array.shape)}; expected the parameter's "
                              f"shape {p.shape} (or a 0-d value)")
    dtype = p.dtype if array.dtype.kind == "f" else array.dtype
    converted = convert(array, dtype, p.device)
    if converted is array:
        converted = converted.copy()  # never share memory with the caller's state_dict
    return Tensor._wrap(converted)


def _check_nonnegative(name: str, value) -> None:
    if not value >= 0:  # written this way round so that NaN fails too
        raise ValueError(f"Invalid {name} value: {value} (must be >= 0)")


__all__ = ["Optimizer"]
