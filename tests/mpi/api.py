"""The process group and its collectives under mpiexec -n K: rank and size, all_reduce
(SUM, AVG, MAX; float and int; in place, also through a non-contiguous view; the version
bump), broadcast from any rank, barrier, init twice, destroy and init again; and
DistributedSampler with the group's defaults (disjoint shards covering the data, equal length,
the same permutation on every process, a new one per epoch) feeding a DataLoader.

    mpiexec -n K python tests/mpi/api.py
"""
import os

import numpy as np
from mpi4py import MPI  # MPI is initialised before the library's init: that must work

from harness import Checks, dist, tg

from tinygrad_bn import nn
from tinygrad_bn.data import DataLoader, DistributedSampler

checks = Checks()
checks.true("not initialized before init", not dist.is_initialized())
dist.init_process_group()
K, RANK = dist.get_world_size(), dist.get_rank()
checks.true("rank and size are MPI's", (RANK, K) == (MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()))
launcher_rank = os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK"))  # MPICH, Open MPI
checks.true("rank is the launcher's", launcher_rank is None or RANK == int(launcher_rank))
checks.true("backend", dist.get_backend() == "mpi" and dist.is_initialized())
checks.raises("init twice", RuntimeError, dist.init_process_group, "twice")

# --- all_reduce
values = np.arange(6.0).reshape(2, 3) * (RANK + 1)
expected_sum = np.arange(6.0).reshape(2, 3) * sum(range(1, K + 1))
t = tg.tensor(values.copy())
version = t._version.version
dist.all_reduce(t)
checks.close("all_reduce SUM float64", t, expected_sum, tol=0)
checks.true("all_reduce bumps the version", t._version.version == version + 1)
t = tg.tensor(values.copy())
dist.all_reduce(t, op=dist.ReduceOp.AVG)
checks.close("all_reduce AVG", t, expected_sum / K, tol=1e-15)
t = tg.tensor(np.array([RANK, -RANK, 7], dtype=np.int64))
dist.all_reduce(t, op=dist.ReduceOp.MAX)
checks.true("all_reduce MAX int64", t.dtype == np.int64 and t.tolist() == [K - 1, 0, 7])
t = tg.tensor(np.array([RANK + 1], dtype=np.int64))
dist.all_reduce(t)
checks.true("all_reduce SUM int64", t.tolist() == [K * (K + 1) // 2])
t = tg.tensor(values.astype(np.float32))
dist.all_reduce(t)
checks.true("all_reduce keeps float32", t.dtype == np.float32)
checks.close("all_reduce SUM float32", t, expected_sum, tol=0)
base = tg.tensor(values.copy())
view = base.T  # not contiguous: reduced through a contiguous copy written back
dist.all_reduce(view)
checks.close("all_reduce of a non-contiguous view", base, expected_sum, tol=0)
checks.raises("AVG of an int tensor", TypeError,
              lambda: dist.all_reduce(tg.tensor([1, 2]), op=dist.ReduceOp.AVG), "floating point")
checks.raises("op must be a ReduceOp", ValueError, lambda: dist.all_reduce(t, op="sum"), "ReduceOp")
checks.raises("all_reduce of a non-Tensor", TypeError, lambda: dist.all_reduce(values), "Tensor")

# --- broadcast, barrier
for src in sorted({0, K - 1}):
    t = tg.tensor(np.full(4, float(RANK)))
    dist.broadcast(t, src=src)
    checks.true(f"broadcast from rank {src}", t.tolist() == [float(src)] * 4)
checks.raises("broadcast from a rank that does not exist", ValueError,
              lambda: dist.broadcast(t, src=K), "src must be a rank")
dist.barrier()

# --- destroy, then init again
dist.destroy_process_group()
checks.true("destroyed", not dist.is_initialized())
checks.raises("get_rank without a group", RuntimeError, dist.get_rank, "init_process_group")
dist.init_process_group()
checks.true("init again after destroy", dist.get_world_size() == K)

# --- DistributedSampler with the group's defaults
N = 10 * K + 3  # not a multiple of K: padded to a multiple
images, labels = np.zeros((N, 1, 2, 2), np.uint8), np.arange(N)
sampler = DistributedSampler((images, labels), shuffle=True, seed=5)
loader = DataLoader((images, labels), batch_size=4, sampler=sampler)
group = dist._default_group()
for epoch in range(2):
    sampler.set_epoch(epoch)
    mine = np.concatenate([y.numpy() for _, y in loader])
    shards = group.allgather(mine)
    everything = shards.ravel()
    checks.true(f"sampler epoch {epoch}: equal shards of ceil(N/K)",
                shards.shape == (K, -(-N // K)) and len(loader) == -(-len(mine) // 4))
    checks.true(f"sampler epoch {epoch}: all samples covered, padding repeats only",
                set(everything.tolist()) == set(range(N)) and len(everything) - N < K)
    if epoch == 0:
        first = everything.copy()
    else:
        checks.true("sampler: a new permutation each epoch", not np.array_equal(first, everything))
dropping = DistributedSampler((images, labels), shuffle=False, drop_last=True)
cut = group.allgather(dropping.indices())
checks.true("sampler drop_last: disjoint, floor(N/K) each, in order without shuffle",
            cut.shape == (K, N // K) and len(set(cut.ravel().tolist())) == K * (N // K)
            and cut.T.ravel().tolist() == list(range(K * (N // K))))

# Lazy layers must see a batch before DDP or convert_sync_batchnorm (PyTorch's rule): said so
lazy_model = nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())
checks.raises("DDP refuses a model whose Lazy layers have not seen a batch", RuntimeError,
              lambda: nn.parallel.DistributedDataParallel(lazy_model), "run one forward pass")
checks.raises("convert_sync_batchnorm refuses an uninitialised LazyBatchNorm", RuntimeError,
              lambda: nn.SyncBatchNorm.convert_sync_batchnorm(lazy_model), "run one forward pass")
lazy_model(tg.randn(6, 3))
checks.true("after one batch both work",
            isinstance(nn.parallel.DistributedDataParallel(
                nn.SyncBatchNorm.convert_sync_batchnorm(lazy_model)), nn.Module))

checks.report()
