"""Grad mode: whether ops record the graph. ``no_grad`` and friends are context managers (and
decorators) that switch it, per thread, restoring the previous mode on exit.

Inside ``no_grad`` an op records no graph and its forward saves nothing for backward; that is how
parameters are updated in place (``with tg.no_grad(): p -= lr * p.grad``) and how evaluation runs
without keeping activations alive.
"""
from __future__ import annotations

import contextlib
import copy
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside ``no_grad``."""
    return getattr(_state, "enabled", True)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode, restoring the old mode on exit. As a
    decorator, each call works on a fresh copy (``_recreate_cm``), so calls in several threads,
    or recursive ones, each restore their own previous mode."""

    def __init__(self, mode: bool):
        self.mode = mode
        self.prev = []

    def _recreate_cm(self):
        clone = copy.copy(self)
        clone.prev = []
        return clone

    def __enter__(self):
        self.prev.append(is_grad_enabled())
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev.pop()
        return False


class no_grad(_GradMode):
    """Inside ``with tg.no_grad():`` (or a function decorated ``@tg.no_grad()`` or
    ``@tg.no_grad``), ops record no graph and save nothing for backward."""

    def __new__(cls, func=None):
        if func is not None:  # `@tg.no_grad` without parentheses, as PyTorch allows
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        super().__init__(False)


class enable_grad(_GradMode):
    """Turns graph recording back on inside a ``no_grad`` region (also a decorator)."""

    def __new__(cls, func=None):
        if func is not None:  # `@tg.enable_grad` without parentheses
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        super().__init__(True)


class inference_mode(_GradMode):
    """PyTorch's faster ``no_grad`` for inference; here it is exactly ``no_grad``.
    ``inference_mode(False)`` leaves grad mode as it is. Also a decorator."""

    def __new__(cls, mode=True):
        if callable(mode):  # `@tg.inference_mode` without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        super().__init__(False if mode else is_grad_enabled())
        self.active = bool(mode)

    def __enter__(self):
        self.prev.append(is_grad_enabled())
        if self.active:
            _state.enabled = False
        return self


class set_grad_enabled(_GradMode):
    """Set grad mode on (True) or off (False).

    As a function call it takes effect at once (``tg.set_grad_enabled(False)``); as a context
    manager (``with tg.set_grad_enabled(is_train):``) it restores the previous mode on exit.
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled expects a bool, got {mode!r}")
        super().__init__(mode)
        self.before = is_grad_enabled()  # set now, as PyTorch does, and restored by __exit__
        _state.enabled = mode

    def __enter__(self):
        self.prev.append(self.before)
        return self

    def __call__(self, func):
        """As a decorator (``@tg.set_grad_enabled(False)``) it changes nothing until `func` runs."""
        _state.enabled = self.before
        return super().__call__(func)

    def _recreate_cm(self):
        return type(self)(self.mode)  # each call sets the mode anew and restores its own
