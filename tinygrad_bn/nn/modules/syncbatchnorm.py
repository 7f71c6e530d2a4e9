"""SyncBatchNorm: batch norm whose training statistics are those of the GLOBAL batch, split
across the processes of a data-parallel job. The op and its derivation are in
``ops/sync_norm.py``; the process group comes from ``tinygrad_bn.distributed``.

====================================  =====================================================
situation                             behaviour
====================================  =====================================================
train(), group of K > 1 processes     global statistics (one all-gather), global backward
                                      sums (one all-reduce), running stats from the global
                                      mean and unbiased variance
train(), no group or a group of one   exactly BatchNorm (no communication)
eval()                                exactly BatchNorm: never communicates
====================================  =====================================================
"""
from __future__ import annotations

from ... import distributed
from ..checks import same_dtype_and_device
from ...ops.sync_norm import SyncBatchNorm as SyncBatchNormOp
from ...tensor import Tensor
from ..functional import weight_and_bias
from .batchnorm import _BatchNorm
from .module import Module


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalisation over (N, C), (N, C, L) or (N, C, H, W) input whose batch is split
    across the processes of ``tinygrad_bn.distributed`` (PyTorch's ``nn.SyncBatchNorm``).

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \cdot \gamma + \beta

    In training, E and Var are over the concatenation of every process's batch (local batch
    sizes may differ; a process may hold one sample or none as long as the global batch has
    more than one value per channel), so the output, the running statistics (updated with the
    global UNBIASED variance) and the input gradient equal BatchNorm's on the concatenated
    batch. The gradients of ``weight`` and ``bias`` are each process's local contribution;
    ``nn.parallel.DistributedDataParallel`` averages them over processes. In eval mode, and
    without a process group (or with one process), it is BatchNorm exactly.

    Args:
        num_features (int): C, the number of channels.
        eps (float, optional): added to the variance for stability (default: 1e-5).
        momentum (float or None, optional): weight of the new batch in the running statistics;
            None for a cumulative average (default: 0.1).
        affine (bool, optional): learn γ (``weight``) and β (``bias``) (default: True).
        track_running_stats (bool, optional): keep running statistics (default: True).

    Shape:
        - Input: (N, C), (N, C, L) or (N, C, H, W); N may differ between processes.
        - Output: same shape as the input.

    Example (under ``mpiexec -n 2``):
        >>> dist.init_process_group()
        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(lenet())
        >>> model = nn.parallel.DistributedDataParallel(model)
    """

    _ranks = (2, 3, 4)

    def forward(self, x: Tensor) -> Tensor:
        group = distributed._default_group()
        if not self.training or group is None or group.size == 1:
            return super().forward(x)  # BatchNorm exactly: eval never communicates
        self._check_input(x)
        if x.device != "cpu":
            raise NotImplementedError("SyncBatchNorm: distributed training runs on CPU tensors only")
        same_dtype_and_device("sync_batch_norm", x, (("running_mean", self.running_mean),
                                                     ("running_var", self.running_var),
                                                     ("weight", self.weight), ("bias", self.bias)))
        # The weight of the new batch, as in _BatchNorm.forward: `momentum`, or 1/n for the
        # n-th batch when momentum is None (a cumulative average).
        factor = 0.0 if self.momentum is None else self.momentum
        count = None
        if self.track_running_stats:
            count = int(self.num_batches_tracked.item()) + 1
            if self.momentum is None:
                factor = 1.0 / count
        out = SyncBatchNormOp.apply(
            x, *weight_and_bias(self.weight, self.bias),
            running_mean=None if self.running_mean is None else self.running_mean.array,
            running_var=None if self.running_var is None else self.running_var.array,
            momentum=factor, eps=self.eps, group=group)
        if count is not None:  # counted once the batch was accepted (the op can raise)
            self.num_batches_tracked.array[...] = count
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """Replace every BatchNorm1d / BatchNorm2d inside `module` by a SyncBatchNorm that
        SHARES its parameters and buffers (the same tensors: an optimizer built before still
        updates them) and its mode. Returns `module` itself, or the new layer if `module` is
        a BatchNorm. As PyTorch's, call it before wrapping the model in
        DistributedDataParallel.

        Example:
            >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(lenet())
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            if not module.num_features:  # a LazyBatchNorm that has not seen a batch
                raise RuntimeError(f"convert_sync_batchnorm: {type(module).__name__} has not seen "
                                   "a batch yet, so its number of features is unknown: run one "
                                   "forward pass before converting")
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats)
            for store in ("_parameters", "_buffers"):
                getattr(converted, store).update(getattr(module, store))
            converted.training = module.training
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child)
                if new is not child:
                    module.add_module(name, new)
        return module
