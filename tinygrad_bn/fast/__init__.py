"""Faster variants of ops, one idea per file, each registered with ``tinygrad_bn.dispatch`` for
the inputs where it is measured to be faster. Each has the same forward/backward contract as
the op it stands in for; the tests run every op both ways (``dispatch.reference_only``).

conv_batch_inner   Conv2d with the batch axis innermost in memory (CPU, narrow outputs)
pool_taps          MaxPool2d / AvgPool2d reduced tap by tap (CPU)
"""
from .. import dispatch
from . import conv_batch_inner, pool_taps

for _module in (conv_batch_inner, pool_taps):
    for _op, _implementation, _applies in _module.FAST_PATHS:
        dispatch.register(_op, _implementation, _applies)
