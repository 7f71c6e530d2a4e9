"""tinygrad_bn: a small deep-learning framework with a fused, hand-derived batch norm.

Read it bottom-up: backend -> autograd -> tensor -> ops -> nn -> optim.
"""
from . import autograd, cuda
from .autograd import (Function, enable_grad, inference_mode, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .backend import cuda_is_available, device
from .dtypes import bool_ as bool, float32 as float, int32 as int  # noqa: A004 (PyTorch's names)
from .dtypes import double, float16, float32, float64, half, int8, int16, int32, int64, long, short, uint8
from .factories import (arange, empty, empty_like, eye, from_numpy, full, full_like, linspace,
                        manual_seed, normal, ones, ones_like, rand, rand_like, randint, randn,
                        randn_like, tensor, zeros, zeros_like)
from .functions import (abs, add, amax, amin, argmax, argmin, cat, chunk, clamp, clip, concat,  # noqa: A004
                        div, eq, erf, exp, flatten, gather, is_tensor, log, log_softmax, matmul, max,
                        maximum, mean, min, minimum, mm, mul, neg, norm, numel, permute, pow, relu,
                        reshape, sigmoid, sign, softmax, split, sqrt, squeeze, stack, std, sub,
                        sum, t, tanh, transpose, unsqueeze, var, where)
from .gradcheck import gradcheck, gradgradcheck, relative_error
from .serialization import load, save
from .tensor import Tensor
from .threads import get_num_threads, set_num_threads

from . import fast, nn, optim, viz  # noqa: E402  (after Tensor: they build on it)

__version__ = "0.2.0"

# Tooling, after the ideas: keep freed activation buffers for reuse between training steps
# (glibc malloc; measured and explained in allocator.py and README; TINYGRAD_BN_NO_MALLOPT=1 opts out).
from . import allocator  # noqa: E402

allocator.keep_freed_memory()
# Intra-op threads are tinygrad_bn's own (threads.py): BLAS runs one thread per call
# (TINYGRAD_BN_KEEP_BLAS_THREADS=1 opts out).
from . import threads  # noqa: E402

threads.single_thread_blas()
