"""Data-parallel training on MPI: the process group and its collectives (``import
tinygrad_bn.distributed as dist``), PyTorch's ``torch.distributed`` names.

K copies of one script run side by side, started by MPI's launcher::

    mpiexec -n 2 python train.py

Each copy is a *process* with a *rank* (0 .. K-1) in a *world* of K processes. Each holds a
full replica of the model and a shard of every batch; they agree by exchanging arrays in
*collectives*, calls that every process makes together:

==================  ==============================================================
``all_reduce``      every process ends with the sum (or mean, or max) of all copies
``broadcast``       every process ends with the copy of process `src`
``barrier``         no process returns until all have arrived
==================  ==============================================================

The engine is MPI, through mpi4py (``pip install -e '.[mpi]'`` brings mpi4py and the MPICH
wheel, whose ``mpiexec`` lands in the virtualenv's ``bin``); this file adds no transport of its
own. The collectives work IN PLACE on a tensor's array: mpi4py's upper-case methods (``Allreduce``,
``Bcast``) hand MPI the NumPy buffer itself, no pickling and no copy (a non-contiguous array is
copied to a contiguous one and back, the only exception).

The process group is one MPI communicator, a duplicate of ``MPI_COMM_WORLD``: the library's
messages can never be mixed up with MPI calls the user's own code makes. `ProcessGroup` is the
object the layers above receive (SyncBatchNorm's op, DistributedDataParallel): a handful of
array-level collectives and nothing else. CPU tensors only (no GPU path has been written yet).
"""
from __future__ import annotations

import atexit
import enum
import os
import sys

import numpy as np

from . import backend, threads
from .tensor import Tensor

__all__ = ["ReduceOp", "ProcessGroup", "init_process_group", "is_available", "is_initialized",
           "get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast", "barrier",
           "destroy_process_group"]

# Set by mpiexec / mpirun / srun in each process they start (MPICH's Hydra, Open MPI, PMIx,
# Cray PALS, MVAPICH): how we tell "started by a launcher" from "started as a plain script".
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                      "MPI_LOCALNRANKS", "PALS_RANKID", "MV2_COMM_WORLD_SIZE")

INSTALL_HINT = "pip install -e '.[mpi]' (mpi4py and the MPICH wheel)"


class ReduceOp(enum.Enum):
    """How `all_reduce` combines the processes' values."""
    SUM = "sum"
    AVG = "avg"   # the sum divided by the world size (MPI has no mean: we divide after the sum)
    MAX = "max"


def _mpi():
    """mpi4py's MPI module (importing it initialises MPI, unless ``mpi4py.rc.initialize`` was
    set to False; `init_process_group` then initialises it)."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise RuntimeError(f"tinygrad_bn.distributed needs mpi4py and an MPI library: "
                           f"{INSTALL_HINT}") from err
    return MPI


def is_available() -> bool:
    """True when mpi4py can be imported (does not initialise MPI)."""
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


# ================================================================ the process group
class ProcessGroup:
    """The K processes of a job and the collectives the library needs, on backend arrays.

    Every method is a collective: every process of the group must call it, in the same order,
    with arrays of the same shape and dtype (a process that skips one makes the others wait
    forever). ``rank`` and ``size`` are this process's rank and the number of processes.
    """

    def __init__(self, comm, mpi):
        self.comm, self.mpi = comm, mpi
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._ops = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.MAX: mpi.MAX}

    def allreduce_(self, array, op: ReduceOp = ReduceOp.SUM) -> None:
        """Reduce `array` over the processes, in place."""
        with _contiguous(array) as buffer:
            self.comm.Allreduce(self.mpi.IN_PLACE, buffer, op=self._ops[op])
            if op is ReduceOp.AVG:
                buffer /= self.size

    def iallreduce_sum_(self, array):
        """Start summing the contiguous `array` in place over the processes and return at once
        with an MPI request: ``request.Wait()`` returns when `array` holds the sum."""
        return self.comm.Iallreduce(self.mpi.IN_PLACE, array, op=self.mpi.SUM)

    def allreduce_sum(self, array):
        """A new array: the sum of `array` over the processes (`array` is left as it is)."""
        out = np.empty_like(array)
        self.comm.Allreduce(np.ascontiguousarray(array), out, op=self.mpi.SUM)
        return out

    def allgather(self, array):
        """A new (size, *array.shape) array: row k is process k's `array`, on every process."""
        out = np.empty((self.size,) + array.shape, dtype=array.dtype)
        self.comm.Allgather(np.ascontiguousarray(array), out)
        return out

    def broadcast_(self, array, src: int = 0) -> None:
        """Overwrite `array`, in place, with process `src`'s."""
        with _contiguous(array) as buffer:
            self.comm.Bcast(buffer, root=src)

    def barrier(self) -> None:
        self.comm.Barrier()


class _contiguous:
    """``with _contiguous(array) as buffer``: `array` itself when MPI can use its memory as is
    (C-contiguous), otherwise a contiguous copy that is written back on exit."""

    def __init__(self, array):
        if not isinstance(array, np.ndarray):
            raise NotImplementedError(f"tinygrad_bn.distributed works on CPU (NumPy) arrays "
                                      f"only; got a {backend.device_of(array)} array")
        self.array = array
        self.buffer = array if array.flags.c_contiguous else np.ascontiguousarray(array)

    def __enter__(self):
        return self.buffer

    def __exit__(self, *exc):
        if self.buffer is not self.array and exc[0] is None:
            self.array[...] = self.buffer
        return False


# ================================================================ the default group
_group: ProcessGroup | None = None


def init_process_group(backend: str = "mpi") -> None:
    """Join the processes started by ``mpiexec -n K`` into the default process group.

    Works whether or not MPI was already initialised (by importing ``mpi4py.MPI`` or by the
    user's code). Call it once, before building DistributedDataParallel or running a
    SyncBatchNorm in training.

    Args:
        backend (str, optional): only ``'mpi'`` (default: 'mpi').

    Raises:
        RuntimeError: mpi4py is missing; the group is already initialised; or the script was
            not started by an MPI launcher (``python script.py`` alone would silently train as
            one process: start it with ``mpiexec -n K``; ``mpiexec -n 1`` is a valid world of one).
    """
    global _group
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi', got {backend!r}")
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    mpi = _mpi()
    if mpi.Is_finalized():
        raise RuntimeError("init_process_group: MPI was already finalized in this process")
    if not mpi.Is_initialized():  # the user set mpi4py.rc.initialize = False: we initialise
        mpi.Init_thread()
        atexit.register(_finalize_if_needed, mpi)
    world = mpi.COMM_WORLD
    if world.Get_size() == 1 and not any(v in os.environ for v in LAUNCHER_VARIABLES):
        raise RuntimeError("init_process_group: this script was not started by an MPI launcher, "
                           "so it is one process alone. Start K processes with: mpiexec -n K "
                           "python script.py (mpiexec is in the virtualenv's bin/ with the "
                           f"mpi extra: {INSTALL_HINT})")
    _group = ProcessGroup(world.Dup(), mpi)
    if world.Get_size() > 1:
        _abort_on_uncaught_exception(world)
        _share_cores(world, mpi)


def _share_cores(world, mpi) -> None:
    """K processes on one machine, each with as many intra-op threads as the machine has cores,
    would fight over the cores. Unless OMP_NUM_THREADS chooses, each gets its share (what
    torchrun does by setting OMP_NUM_THREADS=1), and rank 0 says so once."""
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return
    local = world.Split_type(mpi.COMM_TYPE_SHARED)
    on_this_node = local.Get_size()
    local.Free()
    share = max(1, threads.get_num_threads() // on_this_node)
    if share != threads.get_num_threads():
        threads.set_num_threads(share)
        if world.Get_rank() == 0:
            print(f"tinygrad_bn.distributed: {on_this_node} processes share this machine's cores: "
                  f"{share} intra-op thread(s) each (set OMP_NUM_THREADS to choose)", file=sys.stderr)


def _abort_on_uncaught_exception(comm) -> None:
    """An exception that ends one process would leave the others waiting in their next
    collective forever: print it, then abort the whole job (what ``python -m mpi4py`` does)."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook


def _finalize_if_needed(mpi) -> None:
    if mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.Finalize()


def destroy_process_group() -> None:
    """Leave the default process group (MPI itself stays initialised until the process exits,
    so `init_process_group` may be called again)."""
    global _group
    group = _require_group("destroy_process_group")
    group.comm.Free()
    _group = None


def is_initialized() -> bool:
    """True between `init_process_group` and `destroy_process_group`."""
    return _group is not None


def _default_group() -> ProcessGroup | None:
    """The default group, or None outside `init_process_group` (for the layers above)."""
    return _group


def _require_group(what: str) -> ProcessGroup:
    if _group is None:
        raise RuntimeError(f"{what}: default process group has not been initialized, please "
                           "make sure to call init_process_group (and start the script with "
                           "mpiexec -n K)")
    return _group


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1."""
    return _require_group("get_rank").rank


def get_world_size() -> int:
    """The number of processes, K of ``mpiexec -n K``."""
    return _require_group("get_world_size").size


def get_backend() -> str:
    _require_group("get_backend")
    return "mpi"


# ================================================================ collectives on tensors
def _checked_array(tensor, what: str):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} expects a Tensor, got {type(tensor).__name__}")
    if tensor.device != "cpu":
        raise NotImplementedError(f"{what}: only CPU tensors are supported, got one on {tensor.device}")
    return tensor.array


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM) -> None:
    """Reduce `tensor` over all processes, IN PLACE: afterwards every process holds the sum
    (``ReduceOp.SUM``), the mean (``AVG``) or the elementwise maximum (``MAX``).

    Like every in-place write it bumps the tensor's version, so a graph that saved the old
    values refuses to backpropagate through them.

    Example:
        >>> t = tg.tensor([float(dist.get_rank())])
        >>> dist.all_reduce(t)            # with 2 processes: tensor([1.]) on both
    """
    group = _require_group("all_reduce")
    if not isinstance(op, ReduceOp):
        raise ValueError(f"all_reduce: op must be a dist.ReduceOp, got {op!r}")
    array = _checked_array(tensor, "all_reduce")
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"all_reduce with ReduceOp.AVG needs a floating point tensor, got {array.dtype}")
    group.allreduce_(array, op)
    tensor._version.bump()


def broadcast(tensor: Tensor, src: int = 0) -> None:
    """Overwrite `tensor` in place on every process with process `src`'s values."""
    group = _require_group("broadcast")
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < group.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {group.size}), got {src!r}")
    group.broadcast_(_checked_array(tensor, "broadcast"), int(src))
    tensor._version.bump()


def barrier() -> None:
    """Wait until every process has called `barrier`."""
    _require_group("barrier").barrier()
