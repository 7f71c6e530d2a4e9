"""LeNet-BN training throughput: steady-state examples/s, median step, peak memory; and the same
model in PyTorch, in the same process, when PyTorch is importable (it is never a dependency).

    python benchmarks/bench_lenet.py [--device cpu|cuda] [--batch-size 256] [--threads 2]
                                     [--activation sigmoid|relu] [--no-bn] [--profile]
    mpiexec -n 2 python benchmarks/bench_lenet.py --distributed [--batch-size 256] [--threads 1]

`--threads N` gives both frameworks N intra-op threads (``tg.set_num_threads`` and
``torch.set_num_threads``; OMP_NUM_THREADS and the BLAS variables are set to N before NumPy
loads). Run it once with --threads 1 and once with --threads 2 for the two figures.

One step = forward + cross-entropy + backward + SGD update (lr 1.0), on data held in memory
(a Fashion-MNIST-sized array of 60,000 images: it counts in the memory figure as in a real run).
Steps are timed in alternating blocks (ours, PyTorch's, ours, ...) so that both frameworks see
the same machine conditions; the ratio is printed last. Peak RSS is measured in a separate
process per framework, so neither's allocations count against the other. `--profile` prints the
time spent in each op's forward and backward over the timed steps. `--distributed` runs
benchmarks/bench_distributed.py instead (data-parallel scaling over the MPI processes; the other
flags it takes are passed on, and it uses one BLAS thread per process unless --threads says so).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run_distributed_instead(argv):
    """`--distributed`: replace this process with bench_distributed.py (same MPI rank and flags)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_distributed.py")
    rest = [a for a in argv if a != "--distributed"]
    os.execv(sys.executable, [sys.executable, script, *rest])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="LeNet-BN training throughput.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--no-bn", action="store_true")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads, ours and PyTorch's")
    p.add_argument("--steps", type=int, default=20, help="timed steps per block")
    p.add_argument("--blocks", type=int, default=3, help="alternating timed blocks per framework")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--profile", action="store_true", help="time per op forward/backward")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (separate processes)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel scaling under mpiexec (runs bench_distributed.py)")
    p.add_argument("--memory-only", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for flag, least in (("batch_size", 1), ("threads", 1), ("steps", 1), ("blocks", 1), ("warmup", 0)):
        if getattr(args, flag) < least:
            p.error(f"--{flag.replace('_', '-')} must be at least {least}, got {getattr(args, flag)}")
    return args


if "--distributed" in sys.argv[1:]:
    run_distributed_instead(sys.argv[1:])
ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import backend, optim  # noqa: E402
from tinygrad_bn.profiler import Profiler  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402
from common import synchronize  # noqa: E402

N_DATA = 60_000


def peak_rss_mb() -> float:
    """This process's peak resident memory. Read from /proc (VmHWM), not getrusage: Linux carries
    ru_maxrss over fork+exec, so a child would report its parent's peak if that was higher."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- ours
class Ours:
    name = "tinygrad_bn"

    def __init__(self, args, images, labels):
        tg.manual_seed(0)
        tg.set_num_threads(args.threads)
        self.device = args.device
        self.model = lenet(batch_norm=not args.no_bn, activation=args.activation).to(args.device)
        self.opt = optim.SGD(self.model.parameters(), lr=1.0)
        self.images = backend.to_device(images, args.device)
        self.labels = backend.to_device(labels, args.device)
        self.b, self.i = args.batch_size, 0

    def step(self):
        n = self.images.shape[0]
        start = self.i % (n - self.b)
        self.i += self.b
        x = tg.Tensor._wrap(self.images[start:start + self.b])
        y = tg.Tensor._wrap(self.labels[start:start + self.b])
        loss = F.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def sync(self):
        synchronize(self.device)


# ---------------------------------------------------------------- PyTorch
class Torch:
    name = "PyTorch"

    def __init__(self, args, images, labels):
        import torch
        from torch import nn
        torch.manual_seed(0)
        torch.set_num_threads(args.threads)
        self.torch = torch
        self.device = args.device
        act = nn.Sigmoid if args.activation == "sigmoid" else nn.ReLU

        def norm(cls, c):
            return [] if args.no_bn else [cls(c)]
        self.model = nn.Sequential(
            nn.Conv2d(1, 6, 5), *norm(nn.BatchNorm2d, 6), act(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), *norm(nn.BatchNorm2d, 16), act(), nn.MaxPool2d(2, 2), nn.Flatten(),
            nn.Linear(256, 120), *norm(nn.BatchNorm1d, 120), act(),
            nn.Linear(120, 84), *norm(nn.BatchNorm1d, 84), act(), nn.Linear(84, 10)).to(args.device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=1.0)
        self.loss_fn = nn.CrossEntropyLoss()
        self.images = torch.from_numpy(images).to(args.device)
        self.labels = torch.from_numpy(labels).to(args.device)
        self.b, self.i = args.batch_size, 0

    def step(self):
        n = self.images.shape[0]
        start = self.i % (n - self.b)
        self.i += self.b
        loss = self.loss_fn(self.model(self.images[start:start + self.b]), self.labels[start:start + self.b])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def time_block(runner, steps):
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        runner.step()
        runner.sync()
        times.append(time.perf_counter() - start)
    return times


def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def fake_data():
    """A Fashion-MNIST-sized data set, made directly in float32 (no float64 temporary that would
    inflate the peak memory figure)."""
    rng = np.random.default_rng(0)
    images = rng.random((N_DATA, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, N_DATA)
    return images, labels


def peak_memory(framework):
    """Peak RSS (CPU) or peak GPU pool bytes of a run of `framework`, in a fresh process."""
    argv = [sys.executable, os.path.abspath(__file__), "--memory-only", framework] + \
        [a for a in sys.argv[1:] if a != "--profile"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def memory_only(args):
    images, labels = fake_data()
    runner = (Ours if args.memory_only == "ours" else Torch)(args, images, labels)
    for _ in range(args.warmup + args.steps):
        runner.step()
    runner.sync()
    if args.device == "cuda" and args.memory_only == "ours":
        peak = backend.get_array_module("cuda").get_default_memory_pool().total_bytes() / 2**20
    elif args.device == "cuda":
        peak = runner.torch.cuda.max_memory_reserved() / 2**20
    else:
        peak = peak_rss_mb()
    print(json.dumps({"peak_mb": peak}))


def main(args):
    if args.device == "cuda" and not tg.cuda_is_available():
        sys.exit("error: device 'cuda' is not available (CuPy or a GPU is missing)")
    images, labels = fake_data()
    runners = [Ours(args, images, labels)]
    if not args.no_torch and torch_available():
        runners.append(Torch(args, images, labels))
    model = "LeNet" + ("" if args.no_bn else "-BN")
    print(f"{model}, {args.activation}, batch {args.batch_size}, float32, device={args.device}, "
          f"threads={args.threads}, {args.blocks} blocks x {args.steps} steps after {args.warmup} warm-up")
    for r in runners:
        time_block(r, args.warmup)
    times = {r.name: [] for r in runners}
    profiler = Profiler() if args.profile else None
    for _ in range(args.blocks):
        for r in runners:
            if profiler is not None and r.name == "tinygrad_bn":
                with profiler:
                    times[r.name] += time_block(r, args.steps)
            else:
                times[r.name] += time_block(r, args.steps)
    results = {}
    for r in runners:
        step = statistics.median(times[r.name])
        results[r.name] = args.batch_size / step
        unit = "peak RSS" if args.device == "cpu" else "peak GPU pool"
        memory = "" if args.no_memory else \
            f"   {unit} {peak_memory('ours' if r.name == 'tinygrad_bn' else 'torch'):7.0f} MB"
        print(f"{r.name:>12}: {args.batch_size / step:9.0f} examples/s   median step {step * 1e3:7.2f} ms"
              + memory)
    if profiler is not None:
        print()
        print(profiler.table())
    if "PyTorch" in results:
        print(f"ratio tinygrad_bn / PyTorch: {results['tinygrad_bn'] / results['PyTorch']:.2f}")


if __name__ == "__main__":
    if ARGS.memory_only:
        memory_only(ARGS)
    else:
        main(ARGS)
