"""Faster variants of ops, one idea per file, each registered with ``tinygrad_bn.dispatch`` for
the inputs where it is measured to be faster. Each has the same forward/backward contract as
the op it stands in for; the tests run every op both ways (``dispatch.reference_only``).

batch_norm_rows      BatchNorm with row sums as matrix products, samples split over threads (CPU)
conv_batch_inner     Conv2d with the batch axis innermost in memory (CPU, narrow outputs)
conv_per_sample      Conv2d as one small matrix product per sample (CPU, wide outputs)
pool_taps            MaxPool2d / AvgPool2d reduced tap by tap (CPU)
sigmoid_in_place     Sigmoid computed in place in its output buffer (CPU)

Each splits its work over ``tinygrad_bn.threads`` (``tg.set_num_threads``).
"""
from .. import dispatch
from . import batch_norm_rows, conv_batch_inner, conv_per_sample, pool_taps, sigmoid_in_place

for _module in (batch_norm_rows, conv_batch_inner, conv_per_sample, pool_taps, sigmoid_in_place):
    for _op, _implementation, _applies in _module.FAST_PATHS:
        dispatch.register(_op, _implementation, _applies)
