"""DistributedDataParallel: the same model on K processes, each on its own shard of the batch,
kept identical by averaging the gradients (PyTorch's ``torch.nn.parallel.DistributedDataParallel``).

The whole algorithm:

1. At construction every process overwrites its parameters and buffers with rank 0's
   (a broadcast), so all replicas start equal.
2. Each process runs forward and backward on its own shard, as if alone.
3. During backward, as soon as a parameter's gradient is final (a post-accumulate-grad hook on
   the parameter), it is copied into its slot of a flat *bucket*. When every gradient of a
   bucket is there, one non-blocking all-reduce of the whole bucket starts, while backward
   goes on computing the gradients of earlier layers. When the last bucket has started, the
   sums are awaited, divided by K, and copied back into each ``.grad``.
4. Every process now holds the same averaged gradient, so the same optimizer step keeps the
   replicas identical without ever sending a parameter again.

Why buckets: one all-reduce has a fixed cost (latency) besides its bytes; LeNet has 18
parameter tensors, and reducing them as one flat array costs one latency instead of 18.
Which parameters share a bucket: those whose gradients become final one after the other. The
first backward uses the reverse order of ``parameters()`` (PyTorch's guess: backward reaches the
last layers first) and records the order in which the gradients really arrive; from then on the
buckets follow rank 0's recorded order (PyTorch's bucket rebuild). This matters here: our
engine's depth-first order accumulates every leaf's gradient after the last op's backward, first
layer first, the reverse of the guess. The first bucket is small (1 MiB) so that communication
starts early. Buckets are always launched in the same order on every process (MPI requires every
process to issue its collectives in the same order).

Each process's loss is the mean over its local batch; the average over K of these gradients
is then the gradient of the mean loss over the concatenated batch when the shards have equal
size (a ``DistributedSampler`` makes them equal).
"""
from __future__ import annotations

import contextlib
import functools
import weakref

import numpy as np

from ... import distributed
from ...autograd import is_grad_enabled, no_grad
from ..modules.module import Module

FIRST_BUCKET_MB = 1.0  # PyTorch's: the first bucket to be reduced is small, so it starts early

_UNFINISHED = ("DistributedDataParallel: expected to have finished reduction in the prior "
               "iteration before starting a new one: some parameters that require grad got no "
               "gradient in the last backward (they were not used to produce the loss). Every "
               "parameter must receive a gradient in every synchronized backward; freeze unused "
               "ones with requires_grad_(False) before wrapping the model.")


class _Bucket:
    """The gradients of a few parameters (one dtype), packed in one flat array that is
    all-reduced in one call."""

    def __init__(self, params):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params])
        self.flat = np.empty(int(self.offsets[-1]), dtype=params[0].dtype)
        self.ready = set()    # ids of the parameters whose gradient is in `flat`
        self.request = None   # the running all-reduce
        self.launched_after = None  # how many gradients were final when it started (for tests)

    def slot(self, i: int):
        return self.flat[self.offsets[i]:self.offsets[i + 1]]


def _make_buckets(params, first_cap: int, cap: int) -> list:
    """Consecutive parameters of one dtype, each bucket up to `cap` bytes (the first up to
    `first_cap`); a parameter larger than the cap gets a bucket of its own."""
    buckets, current, size = [], [], 0
    for p in params:
        nbytes = p.numel() * p.dtype.itemsize
        limit = cap if buckets else first_cap
        if current and (p.dtype != current[0].dtype or size + nbytes > limit):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _grad_ready(ddp_ref, param) -> None:
    """The hook on each parameter. It holds the wrapper weakly: dropping the wrapper (keeping
    the module) turns its hooks into no-ops instead of keeping it alive."""
    ddp = ddp_ref()
    if ddp is not None:
        ddp._grad_ready(param)


class DistributedDataParallel(Module):
    """Data-parallel training of `module` over the processes of ``tinygrad_bn.distributed``:
    after each backward, every parameter's ``.grad`` is the AVERAGE over processes.

    Call it like the module. Its ``state_dict()`` keys carry the ``module.`` prefix, as in
    PyTorch (save ``ddp.module.state_dict()`` for a checkpoint that loads into the bare model).
    Convert batch norms with ``nn.SyncBatchNorm.convert_sync_batchnorm`` first, so that their
    statistics are those of the global batch. Every process must run every forward and backward
    (a forward broadcasts the buffers, a backward all-reduces the gradients): to evaluate on
    one process alone, call ``ddp.module``.

    Args:
        module (Module): the model, identical in structure on every process.
        broadcast_buffers (bool, optional): at every forward, overwrite the buffers (running
            statistics) with rank 0's, as PyTorch does (default: True).
        bucket_cap_mb (float, optional): the size of a gradient bucket in MiB (default: 25).

    Example (run with ``mpiexec -n 2 python script.py``):
        >>> dist.init_process_group()
        >>> model = nn.parallel.DistributedDataParallel(
        ...     nn.SyncBatchNorm.convert_sync_batchnorm(lenet()))
        >>> F.cross_entropy(model(images), labels).backward()   # grads averaged over processes
    """

    def __init__(self, module: Module, broadcast_buffers: bool = True, bucket_cap_mb: float = 25.0):
        super().__init__()
        group = distributed._default_group()
        if group is None:
            raise RuntimeError("DistributedDataParallel needs a process group: call "
                               "tinygrad_bn.distributed.init_process_group() first, in a script "
                               "started with mpiexec -n K")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        lazy = [(name, m) for name, m in module.named_modules() if type(m).__name__.startswith("Lazy")]
        if lazy:  # its placeholders would be broadcast, then each process initialise its own
            name, m = lazy[0]
            raise RuntimeError(f"DistributedDataParallel: {name or 'the module'} "
                               f"({type(m).__name__}) has not seen a batch yet, so its parameters "
                               "do not exist: run one forward pass before wrapping the model (as "
                               "PyTorch requires)")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True  # False inside no_sync()
        self._group = group
        for name, tensor in (*module.named_parameters(), *module.named_buffers()):
            if tensor.device != "cpu":
                raise NotImplementedError(f"DistributedDataParallel runs on CPU tensors only; "
                                          f"{name} is on {tensor.device}")
        with no_grad():  # 1. every replica starts from rank 0's values
            for tensor in (*module.parameters(), *module.buffers()):
                distributed.broadcast(tensor, 0)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._bucket_params(self._params[::-1])
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._arrival = []          # indices of the parameters in the order their gradients came
        self._rebuilt = False       # buckets follow the recorded order (after the first backward)
        self._next_bucket = 0       # the next bucket to launch (they start in order)
        self._ready = 0             # gradients of this backward already in their buckets
        self._sync_this_backward = False
        hook = functools.partial(_grad_ready, weakref.ref(self))
        self._hook_handles = [p.register_post_accumulate_grad_hook(hook) for p in self._params]

    def _bucket_params(self, params) -> None:
        cap = int(self.bucket_cap_mb * 2**20)
        self._buckets = _make_buckets(params, min(cap, int(FIRST_BUCKET_MB * 2**20)), cap)
        self._where = {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)}

    def forward(self, *inputs, **kwargs):
        if self._ready:
            raise RuntimeError(_UNFINISHED)
        if self.broadcast_buffers and self._group.size > 1:
            with no_grad():
                for buffer in self.module.buffers():
                    distributed.broadcast(buffer, 0)
        # as in PyTorch, whether the coming backward synchronizes is decided at forward time
        self._sync_this_backward = is_grad_enabled() and self.require_backward_grad_sync
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside ``with ddp.no_sync():`` backward accumulates local gradients without
        communicating; the first synchronized backward after it averages the accumulated sums
        (gradient accumulation over several micro-batches at the cost of one all-reduce)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------ the reducer
    def _grad_ready(self, param) -> None:
        """`param.grad` is final for this backward: pack it; start every bucket that is full."""
        if not self._sync_this_backward:
            return
        bucket, i = self._where[id(param)]
        if id(param) in bucket.ready:  # a second backward before the first one was reduced
            raise RuntimeError(_UNFINISHED)
        bucket.slot(i)[...] = param.grad.array.reshape(-1)
        bucket.ready.add(id(param))
        self._ready += 1
        if not self._rebuilt:
            self._arrival.append(self._index[id(param)])
        buckets = self._buckets
        while self._next_bucket < len(buckets) and \
                len(buckets[self._next_bucket].ready) == len(buckets[self._next_bucket].params):
            bucket = buckets[self._next_bucket]
            bucket.request = self._group.iallreduce_sum_(bucket.flat)
            bucket.launched_after = self._ready
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait for every bucket's sum and write the averages into the ``.grad`` tensors."""
        for bucket in self._buckets:
            bucket.request.Wait()
            bucket.flat /= self._group.size  # each loss was a local mean: the mean of the means
            for i, p in enumerate(bucket.params):
                p.grad.array[...] = bucket.slot(i).reshape(p.shape)
            bucket.ready.clear()
            bucket.request = None
        self._next_bucket, self._ready = 0, 0
        if not self._rebuilt:  # from now on, bucket in the order the gradients arrive (rank 0's)
            order = np.array(self._arrival, dtype=np.int64)
            self._group.broadcast_(order, 0)
            self._bucket_params([self._params[i] for i in order])
            self._rebuilt = True
