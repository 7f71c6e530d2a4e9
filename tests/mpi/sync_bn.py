"""SyncBatchNorm over K processes with local batches b_1..b_K equals BatchNorm on the
concatenated batch, in float64: output, running statistics, num_batches_tracked, dx, and the
all-reduced sums of dγ and dβ; for (N, C), (N, C, L), (N, C, H, W), equal and unequal shards
(including a process with one sample and one with none), affine or not, tracking or not,
momentum or cumulative average, two steps in a row. Negative control: plain BatchNorm per
process differs. Also: eval and one-process groups never communicate; errors are raised on
every process together.

    mpiexec -n K python tests/mpi/sync_bn.py
"""
import zlib

import numpy as np

from harness import Checks, CountingGroup, dist, shard, tg

from tinygrad_bn import nn

dist.init_process_group()
K, RANK = dist.get_world_size(), dist.get_rank()
checks = Checks()

SHARDS = {"equal": [4] * K,
          "unequal": {2: [1, 6], 3: [0, 1, 6]}.get(K, [i + 3 for i in range(K)])}
SHAPES = {"NC": (3,), "NCL": (4, 5), "NCHW": (2, 3, 3)}


def bn_class(shape):
    return nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d


def layers(shape, rng, **options):
    """A BatchNorm and a SyncBatchNorm with the same (random) γ, β and running statistics."""
    c = shape[0]
    ref = bn_class(shape)(c, **options).double()
    sync = nn.SyncBatchNorm(c, **options).double()
    state = {"weight": rng.standard_normal(c), "bias": rng.standard_normal(c),
             "running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2, c)}
    for module in (ref, sync):
        module.load_state_dict({k: v for k, v in state.items() if k in module.state_dict()},
                               strict=False)
    return ref, sync


def compare(tag, shape, sizes, steps=2, **options):
    rng = np.random.default_rng(zlib.crc32(f"{tag}{shape}{sizes}".encode()))  # same on every rank
    ref, sync = layers(shape, rng, **options)
    for step in range(steps):
        total = sum(sizes)
        x_full = rng.standard_normal((total,) + shape) * 3 + 5  # offset: a mean well away from 0
        g_full = rng.standard_normal((total,) + shape)
        x_ref = tg.tensor(x_full, requires_grad=True)
        y_ref = ref(x_ref)
        y_ref.backward(tg.tensor(g_full))
        x = tg.tensor(shard(x_full, sizes, RANK), requires_grad=True)
        y = sync(x)
        y.backward(tg.tensor(shard(g_full, sizes, RANK)))
        name = f"{tag} {'x'.join(map(str, shape))} shards {sizes} step {step}"
        checks.close(f"{name}: output", y, shard(y_ref.numpy(), sizes, RANK))
        checks.close(f"{name}: dx", x.grad, shard(x_ref.grad.numpy(), sizes, RANK))
        if sync.weight is not None:
            for p, q in ((sync.weight, ref.weight), (sync.bias, ref.bias)):
                local = p.grad.detach()
                dist.all_reduce(local)  # the local contributions sum to BatchNorm's gradient
                checks.close(f"{name}: sum of d{'gamma' if p is sync.weight else 'beta'}",
                             local, q.grad)
                p.grad = q.grad = None
        for key, value in ref.state_dict().items():
            checks.close(f"{name}: {key}", sync.state_dict()[key], value)


for shape_name, shape in SHAPES.items():
    for shard_name, sizes in SHARDS.items():
        compare("train", shape, sizes)
compare("no affine", (4, 5), SHARDS["unequal"], affine=False)
compare("momentum None", (2, 3, 3), SHARDS["unequal"], steps=3, momentum=None)
compare("no running stats", (3,), SHARDS["unequal"], track_running_stats=False)

# --- float32: the statistics are combined in float64, the output keeps float32
rng = np.random.default_rng(7)
x_full = rng.standard_normal((4 * K, 3, 4, 4)).astype(np.float32)
ref, sync = nn.BatchNorm2d(3), nn.SyncBatchNorm(3)
y = sync(tg.tensor(shard(x_full, [4] * K, RANK)))
checks.true("float32: dtype kept", y.dtype == np.float32 and sync.running_var.dtype == np.float32)
checks.close("float32: output", y, shard(ref(tg.tensor(x_full)).numpy(), [4] * K, RANK), tol=1e-5)

# --- negative control: BatchNorm on each process's own shard is NOT BatchNorm on the whole
rng = np.random.default_rng(8)
x_full = rng.standard_normal((4 * K, 3, 4, 4)) * (1 + np.arange(4 * K)[:, None, None, None])
g_full = rng.standard_normal(x_full.shape)
ref, local_bn = nn.BatchNorm2d(3).double(), nn.BatchNorm2d(3).double()
x_ref, x = tg.tensor(x_full, requires_grad=True), tg.tensor(shard(x_full, [4] * K, RANK), requires_grad=True)
ref(x_ref).backward(tg.tensor(g_full))
y = local_bn(x)
y.backward(tg.tensor(shard(g_full, [4] * K, RANK)))
checks.differ("control: per-process BatchNorm output", y, shard(ref(x_ref).numpy(), [4] * K, RANK))
checks.differ("control: per-process BatchNorm dx", x.grad, shard(x_ref.grad.numpy(), [4] * K, RANK))
checks.differ("control: per-process BatchNorm running_var", local_bn.running_var, ref.running_var)

# --- what communicates: train forward one all-gather, backward one all-reduce; eval nothing
counting = CountingGroup(dist._default_group())
dist._group = counting
sync = nn.SyncBatchNorm(3).double()
x = tg.tensor(np.random.default_rng(RANK).standard_normal((3, 3, 2, 2)), requires_grad=True)
y = sync(x)
checks.true("train forward: one allgather", counting.calls == ["allgather"])
y.backward(tg.ones(*y.shape, dtype=tg.float64))
checks.true("train backward: one allreduce_sum", counting.calls == ["allgather", "allreduce_sum"])
counting.calls.clear()
sync(tg.tensor(np.ones((2, 3, 2, 2)))).sum().backward()  # x needs no grad: dγ, dβ are local
checks.true("backward without dx: no collective", counting.calls == ["allgather"])
counting.calls.clear()
sync.eval()
if RANK == 0:  # eval on one process alone: would hang if it communicated
    ref = nn.BatchNorm2d(3).double()
    ref.load_state_dict(sync.state_dict())
    ref.eval()
    x_eval = tg.tensor(np.random.default_rng(9).standard_normal((5, 3, 2, 2)))
    checks.close("eval: BatchNorm exactly", sync(x_eval), ref(x_eval), tol=0)
checks.true("eval: no collective", counting.calls == [])
dist._group = counting.group

# --- too few values in the global batch: every process raises the same error
sizes = [1] + [0] * (K - 1)
x = tg.tensor(np.ones((sizes[RANK], 3)))
checks.raises("one value per channel in all: ValueError on every rank", ValueError,
              lambda: nn.SyncBatchNorm(3).double()(x), "Expected more than 1 value per channel")
sync = nn.SyncBatchNorm(3).double()
x = tg.tensor(np.ones((0, 3)), requires_grad=True)
y = sync(x)  # an empty global batch: an empty output, running statistics left alone
y.backward(tg.tensor(np.ones((0, 3))))
checks.true("empty global batch: empty output, stats unchanged",
            y.shape == (0, 3) and np.all(sync.running_mean.numpy() == 0)
            and np.all(sync.running_var.numpy() == 1) and x.grad.shape == (0, 3))

checks.report()
