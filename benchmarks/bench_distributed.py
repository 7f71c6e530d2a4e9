"""Data-parallel scaling of LeNet-BN training: examples/s on one process and on K processes
(one BLAS thread each), at the same global batch, and the scaling efficiency.

    mpiexec -n 2 python benchmarks/bench_distributed.py [--batch-size 256] [--steps 20] [--blocks 3]

Strong scaling: the global batch B is fixed. One step = forward + cross-entropy + backward +
SGD update, on a batch held in memory.

* 1 process: rank 0 alone trains the plain LeNet-BN (BatchNorm, no DistributedDataParallel) at
  batch B, the baseline a user would otherwise run; the other processes sleep meanwhile (they
  poll a non-blocking barrier with sleeps, so they leave their core idle).
* K processes: all of them train LeNet-BN with SyncBatchNorm under DistributedDataParallel at
  B/K each (per step: 4 all-gathers of batch-norm statistics, 4 all-reduces of their backward
  sums, 1 all-reduce of the gradient bucket, and the buffer broadcasts).

* K processes without communication: each trains the plain LeNet-BN on its B/K alone (a
  different algorithm, only timed): what the cores deliver at B/K when nobody waits for
  anybody, so the gap between this row and the previous one is the cost of communicating
  (and of waiting for the slower process), and the gap to K × the first row is the machine's
  (shared memory bandwidth and caches, the smaller batch).

The settings are timed in alternating blocks (1, K, K without communication, 1, ...) so all
see the same machine conditions; the medians are printed. Efficiency = (examples/s on K) /
(K · examples/s on 1).
"""
import argparse
import os
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="LeNet-BN data-parallel scaling (run under mpiexec).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--batch-size", type=int, default=256, help="the global batch")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per process")
    p.add_argument("--steps", type=int, default=20, help="timed steps per block")
    p.add_argument("--blocks", type=int, default=3, help="alternating timed blocks per setting")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    return p.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.distributed as dist  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import nn, optim  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402


def trainer(model, images, labels):
    opt = optim.SGD(model.parameters(), lr=1.0)
    x, y = tg.tensor(images), tg.tensor(labels)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def timed_block(step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def idle_until_rank0_done(comm):
    """Wait for rank 0 without spinning: MPI's blocking barrier busy-polls a core, which would
    slow down the single-process baseline running beside it."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.002)


def main():
    dist.init_process_group()
    rank, k = dist.get_rank(), dist.get_world_size()
    comm = dist._default_group().comm
    b = ARGS.batch_size
    if b % k:
        sys.exit(f"error: --batch-size {b} must be a multiple of the {k} processes")
    rng = np.random.default_rng(0)
    images = rng.random((b, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, b)

    tg.manual_seed(0)
    single = trainer(lenet(activation=ARGS.activation), images, labels) if rank == 0 else None
    tg.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(
        nn.SyncBatchNorm.convert_sync_batchnorm(lenet(activation=ARGS.activation)))
    part = slice(rank * b // k, (rank + 1) * b // k)
    parallel = trainer(ddp, images[part], labels[part])
    tg.manual_seed(0)
    alone = trainer(lenet(activation=ARGS.activation), images[part], labels[part])

    def run_single(steps):
        seconds = None
        if rank == 0:
            seconds = timed_block(single, steps)
        if k > 1:
            if rank == 0:
                comm.Ibarrier().Wait()
            else:
                idle_until_rank0_done(comm)
        return seconds

    def run_parallel(step, steps):
        dist.barrier()
        seconds = tg.tensor([timed_block(step, steps)])
        dist.all_reduce(seconds, op=dist.ReduceOp.MAX)  # the slowest process sets the pace
        return seconds.item()

    run_single(ARGS.warmup)
    run_parallel(parallel, ARGS.warmup)
    run_parallel(alone, ARGS.warmup)
    one, many, independent = [], [], []
    for _ in range(ARGS.blocks):
        one.append(run_single(ARGS.steps))
        many.append(run_parallel(parallel, ARGS.steps))
        independent.append(run_parallel(alone, ARGS.steps))
    if rank == 0:
        eps_1 = b * ARGS.steps / statistics.median(one)
        eps_k = b * ARGS.steps / statistics.median(many)
        eps_free = b * ARGS.steps / statistics.median(independent)
        print(f"LeNet-BN ({ARGS.activation}), global batch {b}, {ARGS.threads} BLAS thread(s) "
              f"per process, {os.cpu_count()} cores, median of {ARGS.blocks} blocks of "
              f"{ARGS.steps} steps")
        print(f"{'processes':>9}  {'batch/process':>13}  {'ms/step':>8}  {'examples/s':>10}")
        print(f"{1:>9}  {b:>13}  {1e3 * b / eps_1:8.1f}  {eps_1:10.0f}   (BatchNorm, no DDP)")
        print(f"{k:>9}  {b // k:>13}  {1e3 * b / eps_k:8.1f}  {eps_k:10.0f}   "
              "(SyncBatchNorm + DistributedDataParallel)")
        print(f"{k:>9}  {b // k:>13}  {1e3 * b / eps_free:8.1f}  {eps_free:10.0f}   "
              "(BatchNorm each, no communication: the bound)")
        print(f"speedup {eps_k / eps_1:.2f}x on {k} processes, scaling efficiency "
              f"{eps_k / (k * eps_1):.0%}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
