"""Data-parallel training: tinygrad_bn.distributed, SyncBatchNorm, DistributedDataParallel and
DistributedSampler.

Two kinds of tests:
* here, in this process: what needs no MPI (SyncBatchNorm without a process group is BatchNorm,
  the fused op's math through a one-process group and gradcheck, convert_sync_batchnorm, the
  sampler's arithmetic, the loader's sampler hook, the gradient hooks, the errors);
* under ``mpiexec -n K`` (K = 1, 2, 3), the scripts in ``tests/mpi/``: every process records
  named checks, rank 0 prints them, and the exit status says whether all passed. They run
  when mpi4py and an ``mpiexec`` are installed (``make mpi``, which CI runs), and are skipped
  with the reason otherwise.
"""
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.distributed as dist
import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn
from tinygrad_bn.data import DataLoader, DistributedSampler
from tinygrad_bn.models import lenet
from tinygrad_bn.ops.sync_norm import SyncBatchNorm as SyncBatchNormOp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_SCRIPTS = os.path.join(ROOT, "tests", "mpi")


# ================================================================ without MPI
def _bn_pair(c, ndim, **options):
    ref = (nn.BatchNorm2d if ndim == 4 else nn.BatchNorm1d)(c, **options).double()
    sync = nn.SyncBatchNorm(c, **options).double()
    if ref.weight is not None:
        rng = np.random.default_rng(c)
        w, b = rng.standard_normal(c) + 1, rng.standard_normal(c)
        with tg.no_grad():
            for module in (ref, sync):
                module.weight.copy_(tg.tensor(w))
                module.bias.copy_(tg.tensor(b))
    return ref, sync


@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 7), (4, 2, 3, 3)], ids=["NC", "NCL", "NCHW"])
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"momentum": None},
                                     {"track_running_stats": False}],
                         ids=["default", "no-affine", "cumulative", "no-running-stats"])
def test_sync_batchnorm_without_a_process_group_is_batchnorm_exactly(shape, options):
    ref, sync = _bn_pair(shape[1], len(shape), **options)
    rng = np.random.default_rng(0)
    for training in (True, True, False):
        ref.train(training), sync.train(training)
        x = rng.standard_normal(shape) * 2 + 1
        g = rng.standard_normal(shape)
        xr, xs = tg.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
        yr, ys = ref(xr), sync(xs)
        yr.backward(tg.tensor(g)), ys.backward(tg.tensor(g))
        np.testing.assert_array_equal(ys.numpy(), yr.numpy())
        np.testing.assert_array_equal(xs.grad.numpy(), xr.grad.numpy())
        for (name, a), b in zip(sync.state_dict().items(), ref.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=name)
        for p, q in zip(sync.parameters(), ref.parameters()):
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
            p.grad = q.grad = None


class OneProcess:
    """A process group of one, in this process: the collectives return their input."""
    size, rank = 1, 0

    def allgather(self, array):
        return array[None].copy()

    def allreduce_sum(self, array):
        return array.copy()


def _sync_op(x, weight=None, bias=None, **kwargs):
    wb = () if weight is None else (weight, bias)
    return SyncBatchNormOp.apply(x, *wb, group=OneProcess(), **kwargs)


@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 7), (4, 2, 3, 3)], ids=["NC", "NCL", "NCHW"])
def test_sync_op_through_a_one_process_group_matches_batchnorm(shape):
    """The op's own code path (parallel variance, global sums), with K = 1, against F.batch_norm."""
    rng = np.random.default_rng(1)
    c = shape[1]
    x = rng.standard_normal(shape) * 3 + 10  # a large mean: the variance must not cancel
    g = rng.standard_normal(shape)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    running = rng.standard_normal(c), rng.uniform(1, 2, c)

    def run(fused_op):
        xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
        mean, var = (tg.tensor(a.copy()) for a in running)
        if fused_op is SyncBatchNormOp:
            y = _sync_op(xt, wt, bt, running_mean=mean.array, running_var=var.array, momentum=0.1)
        else:
            y = F.batch_norm(xt, mean, var, wt, bt, training=True, momentum=0.1)
        y.backward(tg.tensor(g))
        return {"y": y, "dx": xt.grad, "dweight": wt.grad, "dbias": bt.grad,
                "running_mean": mean, "running_var": var}

    ours, theirs = run(SyncBatchNormOp), run(None)
    for name in ours:
        a, b = ours[name].numpy(), theirs[name].numpy()
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), name


def test_sync_op_passes_gradcheck(device):
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True, device=device)
    w = tg.tensor(rng.standard_normal(3) + 1, requires_grad=True, device=device)
    b = tg.tensor(rng.standard_normal(3), requires_grad=True, device=device)
    assert tg.gradcheck(lambda x, w, b: _sync_op(x, w, b), [x, w, b])
    assert tg.gradcheck(lambda x: _sync_op(x), [x])


def test_convert_sync_batchnorm_shares_parameters_buffers_and_mode():
    model = lenet()
    model[5].eval()
    before = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    keys = list(model.state_dict())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    bns = [m for m in model.modules() if isinstance(m, nn.SyncBatchNorm)]
    assert len(bns) == 4 and not any(type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) for m in model.modules())
    for name, p in model.named_parameters():
        assert p is before[name], name  # the same tensors: an optimizer built before still works
    for name, t in model.named_buffers():
        assert t is buffers[name], name
    assert list(model.state_dict()) == keys
    assert [m.training for m in bns] == [True, False, True, True]
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3, eps=1e-3, momentum=None))
    assert isinstance(single, nn.SyncBatchNorm) and (single.eps, single.momentum) == (1e-3, None)
    assert repr(single) == "SyncBatchNorm(3, eps=0.001, momentum=None, affine=True, track_running_stats=True)"


def test_sync_batchnorm_validates_input():
    bn = nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match="expected 2D or 3D or 4D input"):
        bn(tg.zeros(2, 3, 1, 1, 1))
    with pytest.raises(ValueError, match="expected 3 channels"):
        bn(tg.zeros(2, 4))
    with pytest.raises(ValueError, match="num_features"):
        nn.SyncBatchNorm(0)


def test_post_accumulate_grad_hook_sees_the_final_gradient_once():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (w * w + w * 3).sum().backward()  # two paths into w: the hook sees their sum, once
    assert len(seen) == 1 and seen[0].tolist() == [5.0, 7.0]
    (w * 1).sum().backward()
    assert seen[1].tolist() == [6.0, 8.0]  # after accumulation into .grad
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


@pytest.mark.parametrize("n,k,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 3, False)])
def test_distributed_sampler_shards(n, k, drop_last):
    samplers = [DistributedSampler(range(n), num_replicas=k, rank=r, seed=3, drop_last=drop_last)
                for r in range(k)]
    expected = n // k if drop_last else -(-n // k)  # PyTorch's sizes
    for epoch in (0, 1):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [s.indices() for s in samplers]
        assert all(len(s) == len(idx) == expected for s, idx in zip(samplers, shards))
        everything = np.concatenate(shards)
        if drop_last:
            assert len(set(everything.tolist())) == len(everything)  # disjoint
        else:
            assert set(everything.tolist()) == set(range(n))  # covered; padding repeats
        permutation = np.random.default_rng(3 + epoch).permutation(n)
        assert shards[0].tolist() == np.resize(permutation, expected * k)[0::k].tolist()
    plain = DistributedSampler(range(n), num_replicas=k, rank=k - 1, shuffle=False)
    assert plain.indices().tolist() == np.resize(np.arange(n), len(plain) * k)[k - 1::k].tolist()


def test_distributed_sampler_arguments():
    with pytest.raises(ValueError, match="invalid rank 3"):
        DistributedSampler(range(10), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(10), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(10))  # no process group to ask
    data = (np.zeros((7, 2, 2), np.uint8), np.arange(7))
    assert len(DistributedSampler(data, num_replicas=2, rank=0)) == 4


def test_loader_takes_a_sampler():
    data = (np.zeros((10, 1, 2, 2), np.uint8), np.arange(10))
    sampler = DistributedSampler(data, num_replicas=3, rank=1, seed=0)
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    assert loader.num_samples == 4 and len(loader) == 2
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        labels = np.concatenate([y.numpy() for _, y in loader])
        assert labels.tolist() == sampler.indices().tolist()
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(data, batch_size=3, sampler=sampler, shuffle=True)


def test_without_a_process_group():
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(tg.zeros(2)),
               lambda: dist.broadcast(tg.zeros(2)), dist.destroy_process_group,
               lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2))):
        with pytest.raises(RuntimeError, match="init_process_group"):
            fn()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


def test_missing_mpi4py_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now raises ImportError
    with pytest.raises(RuntimeError, match=r"needs mpi4py.*pip install -e '\.\[mpi\]'"):
        dist.init_process_group()
    assert not dist.is_initialized()


# ================================================================ under mpiexec
def _mpiexec():
    """The mpiexec that matches mpi4py's MPI: the virtualenv's (the MPICH wheel's) first."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(not (dist.is_available() and MPIEXEC),
                               reason="mpi4py or mpiexec missing: make mpi (pip install -e '.[mpi]')")


def _launcher_options():
    """Open MPI refuses root and more processes than cores unless told; MPICH needs nothing."""
    version = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        return ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return []


def mpirun(k, script, *args, timeout=300, threads="1"):
    """Run `script` on `k` processes; fail with everything they printed if any check failed.
    `threads`: OMP_NUM_THREADS for them (None: unset)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    command = [MPIEXEC, *_launcher_options(), "-n", str(k), sys.executable, script, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited with {result.returncode}:\n{output}"
    return output


@needs_mpi
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("script", ["sync_bn", "ddp", "api", "init_late"])
def test_under_mpiexec(script, k):
    output = mpirun(k, os.path.join(MPI_SCRIPTS, f"{script}.py"))
    assert f"on {k} processes, 0 failed" in output, output


@needs_mpi
@pytest.mark.parametrize("script", ["ddp", "api"])
def test_under_mpiexec_one_process(script):
    """A world of one (mpiexec -n 1): DDP with SyncBatchNorm is one process with BatchNorm."""
    output = mpirun(1, os.path.join(MPI_SCRIPTS, f"{script}.py"))
    assert "on 1 processes, 0 failed" in output, output


@needs_mpi
def test_benchmark_under_mpiexec():
    """bench_lenet.py --distributed hands over to bench_distributed.py on every process."""
    output = mpirun(2, os.path.join(ROOT, "benchmarks", "bench_lenet.py"), "--distributed",
                    "--batch-size", "32", "--steps", "1", "--blocks", "1", "--warmup", "1")
    assert "speedup" in output and "scaling efficiency" in output, output
    assert "SyncBatchNorm + DistributedDataParallel" in output, output


@needs_mpi
@pytest.mark.parametrize("omp, expected", [(None, lambda cores: max(1, cores // 2)), ("3", lambda cores: 3)])
def test_processes_share_the_cores(omp, expected, tmp_path):
    """Two processes on one machine get half its cores each as intra-op threads, unless
    OMP_NUM_THREADS chooses (then they get what it says)."""
    script = tmp_path / "threads.py"
    script.write_text("import sys, tinygrad_bn as tg, tinygrad_bn.distributed as dist\n"
                      "dist.init_process_group()\n"
                      "open(f'{sys.argv[1]}/rank{dist.get_rank()}', 'w').write(str(tg.get_num_threads()))\n")
    output = mpirun(2, str(script), str(tmp_path), threads=omp)
    cores = len(os.sched_getaffinity(0))
    seen = [(tmp_path / f"rank{rank}").read_text() for rank in (0, 1)]
    assert seen == [str(expected(cores))] * 2, output
    assert ("processes share this machine's cores" in output) == (omp is None and cores > 1), output


@needs_mpi
def test_init_outside_mpiexec_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in dist.LAUNCHER_VARIABLES}
    code = "import tinygrad_bn.distributed as d; d.init_process_group()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "not started by an MPI launcher" in result.stderr and "mpiexec -n K" in result.stderr


# ---------------------------------------------------------------- the example
def _write_idx(path, array):
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Small learnable IDX files: class k lights up a 7x7 block at one of 10 places."""
    folder = tmp_path_factory.mktemp("fashion")
    for prefix, n, seed in (("train", 320, 0), ("t10k", 64, 1)):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            r, col = divmod(int(c), 4)
            images[i, 7 * r:7 * r + 7, 7 * col:7 * col + 7] += 180
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images.clip(0, 255))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return str(folder)


@needs_mpi
def test_distributed_example_trains_logs_saves_and_resumes_exactly(data_dir, tmp_path):
    example = os.path.join(ROOT, "examples", "train_lenet.py")
    common = ["--distributed", "--data-dir", data_dir, "--no-verify", "--batch-size", "32",
              "--optimizer", "adam", "--lr", "0.01", "--epochs", "3"]
    full, part, log = tmp_path / "full.npz", tmp_path / "part.npz", tmp_path / "log.jsonl"
    out = mpirun(2, example, *common, "--save", str(full), "--log", str(log))
    assert out.count("epoch  1 ") == 1  # rank 0 alone prints
    assert "2 processes (SyncBatchNorm, 16 per process)" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records[-1]["train_loss"] < 0.6 * records[0]["train_loss"]
    # stopped after 1 epoch, then resumed: the same final model, bit for bit
    mpirun(2, example, *common[:-1], "1", "--save", str(part))
    mpirun(2, example, *common, "--save", str(part), "--resume", str(part))
    a, b = tg.load(str(full))["model"], tg.load(str(part))["model"]
    assert a.keys() == b.keys() and "0.weight" in a  # the bare model's keys: loads into lenet()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    lenet().load_state_dict(a)


@needs_mpi
def test_an_exception_on_one_process_ends_the_whole_job(tmp_path):
    """Rank 1 raises while rank 0 waits in a collective: without the abort, rank 0 would wait
    forever; with it, the job ends at once, non-zero, with rank 1's traceback."""
    script = tmp_path / "boom.py"
    script.write_text("import tinygrad_bn.distributed as dist\n"
                      "dist.init_process_group()\n"
                      "if dist.get_rank() == 1:\n"
                      "    raise ValueError('boom on rank 1')\n"
                      "dist.barrier()\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([MPIEXEC, *_launcher_options(), "-n", "2", sys.executable, str(script)],
                            capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert result.returncode != 0
    assert "ValueError: boom on rank 1" in result.stderr


@needs_mpi
def test_resume_on_another_number_of_processes_only_at_an_epochs_end(data_dir, tmp_path):
    """An epoch's shuffling depends on the number of processes: a checkpoint saved in the
    middle of an epoch (here by a real Ctrl-C) continues only on as many processes as wrote it;
    one saved at an epoch's end may change their number, and says so."""
    example = os.path.join(ROOT, "examples", "train_lenet.py")
    common = ["--data-dir", data_dir, "--no-verify", "--batch-size", "32", "--epochs", "2"]
    part, ended = tmp_path / "part.npz", tmp_path / "ended.npz"
    driver = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "interrupt_driver.py"),
                               "update", "3", *common, "--save", str(part)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in driver.stdout:
        if line.startswith("PAUSED"):
            break
    driver.send_signal(signal.SIGINT)
    driver.communicate(timeout=120)
    assert tg.load(str(part))["batches_done"] == 3
    command = [MPIEXEC, *_launcher_options(), "-n", "2", sys.executable, example, "--distributed",
               *common, "--resume", str(part), "--save", str(part)]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT,
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert refused.returncode != 0 and "can only continue on 1" in refused.stderr, refused.stderr
    subprocess.run([sys.executable, example, *common[:-1], "1", "--save", str(ended)],  # 1 epoch
                   check=True, capture_output=True, cwd=ROOT, timeout=120)
    out = mpirun(2, example, "--distributed", *common, "--resume", str(ended))
    assert "resuming with processes 2 instead of the checkpoint's None" in out
