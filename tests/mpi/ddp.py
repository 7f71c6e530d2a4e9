"""DistributedDataParallel + SyncBatchNorm over K processes trains exactly like one process with
BatchNorm on the concatenated batch, in float64: gradients after the first backward, then
parameters and buffers after several SGD-with-momentum steps; equal shards (each loss the mean
of its local batch) and unequal shards (each loss weighted by K·b_k/B, which makes the average
of the K gradients that of the global mean); gradient accumulation with no_sync. Also: rank 0's
parameters are broadcast at construction, gradients travel in several buckets whose all-reduce
starts before backward ends, state_dict keys carry 'module.', a parameter left without gradient
is reported. Negative control: DDP with per-process BatchNorm does not match.

    mpiexec -n K python tests/mpi/ddp.py
"""
import numpy as np

from harness import Checks, dist, shard, tg

import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn, optim
from tinygrad_bn.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group()
K, RANK = dist.get_world_size(), dist.get_rank()
checks = Checks()
STEPS = 4


def make_model():
    """A small conv net with both kinds of batch norm, identical on every process (seeded)."""
    tg.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()


def batches(sizes, seed):
    rng = np.random.default_rng(seed)
    total = sum(sizes)
    return [(rng.standard_normal((total, 2, 4, 4)) * 2 + 1, rng.integers(0, 3, total))
            for _ in range(STEPS)]


def reference(data, accumulate=1):
    """One process, plain BatchNorm, the whole batch, mean loss over it."""
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    grads = None
    for step in range(0, len(data), accumulate):
        opt.zero_grad()
        for x, y in data[step:step + accumulate]:
            F.cross_entropy(model(tg.tensor(x)), tg.tensor(y)).backward()
        if grads is None:
            grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
        opt.step()
    return model.state_dict(), grads


def distributed(data, sizes, sync_bn=True, accumulate=1, bucket_cap_mb=25.0):
    """K processes, each on its shard, DDP (+ SyncBatchNorm); returns what reference returns."""
    model = make_model()
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    with tg.no_grad():  # every process but 0 starts elsewhere: DDP must broadcast rank 0's
        for p in model.parameters():
            p += RANK
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    total = sum(sizes)
    grads = None
    for step in range(0, len(data), accumulate):
        opt.zero_grad()
        for i, (x, y) in enumerate(data[step:step + accumulate]):
            last = i == accumulate - 1
            with (ddp.no_sync() if not last else _nothing()):
                logits = ddp(tg.tensor(shard(x, sizes, RANK)))
                loss = F.cross_entropy(logits, tg.tensor(shard(y, sizes, RANK)))
                (loss * (K * sizes[RANK] / total)).backward()  # the weight is 1 for equal shards
        if grads is None:
            grads = {n: p.grad.numpy() for n, p in ddp.module.named_parameters()}
        opt.step()
    return ddp, grads


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def compare(tag, ddp, grads, ref_state, ref_grads, tol=1e-12):
    scale = max(np.abs(g).max() for g in ref_grads.values())  # one scale for all gradients
    for name, g in ref_grads.items():
        checks.close(f"{tag}: first-step grad {name}", grads[name], g, tol, scale)
    state = ddp.module.state_dict()
    for name, value in ref_state.items():
        checks.close(f"{tag}: after {STEPS} steps {name}", state[name], value, tol)
    # every replica holds the same parameters, bit for bit
    mine = np.concatenate([v.ravel().astype(np.float64) for v in state.values()])
    theirs = mine.copy()
    dist._default_group().broadcast_(theirs, 0)
    checks.true(f"{tag}: replicas identical", np.array_equal(mine, theirs))


# --- equal shards: each process's loss is the mean of its own batch
sizes = [3] * K
data = batches(sizes, 1)
ref_state, ref_grads = reference(data)
ddp, grads = distributed(data, sizes, bucket_cap_mb=0.0005)  # 512-byte buckets: several of them
compare("equal shards", ddp, grads, ref_state, ref_grads)
n_params = len(list(ddp.parameters()))
checks.true(f"several buckets ({len(ddp._buckets)})", len(ddp._buckets) >= 3)
checks.true("first bucket started before the last gradient was final",
            ddp._buckets[0].launched_after < n_params)
checks.true("state_dict keys carry 'module.'",
            list(ddp.state_dict()) == ["module." + k for k in ddp.module.state_dict()])

# --- unequal shards, weighted losses
sizes = {2: [2, 5], 3: [1, 2, 5]}.get(K, [k + 3 for k in range(K)])
data = batches(sizes, 2)
ref_state, ref_grads = reference(data)
ddp, grads = distributed(data, sizes)
compare(f"unequal shards {sizes}", ddp, grads, ref_state, ref_grads)

# --- gradient accumulation: two micro-batches per step, the first under no_sync
sizes = [2] * K
data = batches(sizes, 3)
ref_state, ref_grads = reference(data, accumulate=2)
ddp, grads = distributed(data, sizes, accumulate=2, bucket_cap_mb=0.0005)
compare("no_sync accumulation", ddp, grads, ref_state, ref_grads)

# --- negative control (K > 1): DDP with each process's own BatchNorm statistics
if K > 1:
    sizes = [3] * K
    data = batches(sizes, 1)
    ref_state, _ = reference(data)
    ddp, _ = distributed(data, sizes, sync_bn=False)
    checks.differ("control: per-process BatchNorm, conv weight", ddp.module.state_dict()["0.weight"],
                  ref_state["0.weight"], at_least=1e-3)
    checks.differ("control: per-process BatchNorm, running_var", ddp.module.state_dict()["1.running_var"],
                  ref_state["1.running_var"], at_least=1e-3)


# --- a parameter that gets no gradient: reported at the next forward, on every process
class WithUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.net, self.unused = make_model(), nn.Linear(2, 2).double()

    def forward(self, x):
        return self.net(x)


ddp = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(WithUnused()))
x = tg.tensor(np.random.default_rng(RANK).standard_normal((3, 2, 4, 4)))
ddp(x).sum().backward()
checks.raises("unused parameter: clear error at the next forward", RuntimeError,
              lambda: ddp(x), "not used to produce the loss")

checks.report()
