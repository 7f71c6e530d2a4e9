"""The cuda path end to end: a training step's budget (no host syncs, no host->device copies, a
ceiling of kernel launches), cuda training equal to cpu training, exact resume on cuda, nn.init
on the device, the example scripts and benchmarks with --device cuda, and the smoke test behind
cuda_is_available(). Without a GPU these run on the CPU stand-in for CuPy (pytest
--cuda=standin); the counts need the stand-in and skip on a real GPU."""
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from helpers import check_grad
from test_examples import REPO, args, data_dir, run  # noqa: F401  (data_dir: the fixture)
from tinygrad_bn import backend, nn, optim
from tinygrad_bn.data import DataLoader
from tinygrad_bn.models import lenet

LAUNCH_CEILING = 260  # kernel launches of one LeNet-BN SGD training step (was 480)
TESTS = os.path.dirname(os.path.abspath(__file__))


def cuda_only(device):
    if device != "cuda":
        pytest.skip("a cuda-path test")


def standin():
    import standin as module
    if backend._cupy is not module.cupy:
        pytest.skip("kernel counts need the CPU stand-in for CuPy (tests/standin)")
    return module


def lenet_step(device, optimizer="sgd"):
    """A LeNet-BN model, its optimizer and loader (batch 256), and a function doing one step."""
    tg.manual_seed(0)
    model = lenet().to(device)
    opt = optim.SGD(model.parameters(), lr=1.0) if optimizer == "sgd" else \
        optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 255, (512, 28, 28), dtype=np.uint8), rng.integers(0, 10, 512))
    loader = DataLoader(data, 256, shuffle=True, seed=0, device=device)

    def step(images, labels):
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return model, opt, loader, step


# ---------------------------------------------------------------- a step never waits for the host
def test_training_step_budget(device):
    cuda_only(device)
    counts = standin()
    _, _, loader, step = lenet_step(device)
    batches = list(loader)
    step(*batches[0])  # warm-up: constants are made once
    with counts.count() as c:
        step(*batches[1])
    assert c.syncs == 0 and c.h2d == 0, c
    assert c.launches <= LAUNCH_CEILING, c


def test_eval_forward_budget(device):
    cuda_only(device)
    counts = standin()
    model, _, loader, _ = lenet_step(device)
    model.eval()
    x, _ = next(iter(loader))
    with tg.no_grad(), counts.count() as c:
        model(x).argmax(1)
    assert c.syncs == 0 and c.h2d == 0 and c.launches <= 130, c


def test_adam_step_has_no_syncs_or_copies(device):
    cuda_only(device)
    counts = standin()
    _, _, loader, step = lenet_step(device, "adam")
    batches = list(loader)
    step(*batches[0])
    with counts.count() as c:
        step(*batches[1])
    assert c.syncs == 0 and c.h2d == 0, c


def test_out_of_range_labels_from_a_loader_still_raise(device):
    cuda_only(device)
    model, _, _, _ = lenet_step(device)
    bad = DataLoader((np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 10])), 4, device=device)
    images, labels = next(iter(bad))
    with pytest.raises(IndexError, match="Target 10 is out of bounds for 10 classes"):
        F.cross_entropy(model(images), labels)
    with pytest.raises(IndexError, match="Target -1"):   # a tensor of unknown range: checked
        F.cross_entropy(tg.zeros(2, 3, device=device), tg.tensor([0, -1], device=device))


# ---------------------------------------------------------------- cuda == cpu
@pytest.mark.parametrize("optimizer,schedule", [("sgd", False), ("adam", True)])
def test_cuda_training_equals_cpu_training(optimizer, schedule, device):
    cuda_only(device)
    states = []
    for dev in ("cpu", device):
        tg.manual_seed(0)
        model = lenet().to(dev)   # initialised on the CPU generator, then moved: the same weights
        # A bias right before a batch norm has a true gradient of 0 (BN subtracts the mean): what
        # it gets is float32 rounding noise, which differs with the order of sums (the CPU runs
        # its fast variants) and which Adam divides by its own size into full steps. Freeze them.
        for name in ("0.bias", "4.bias", "9.bias", "12.bias"):
            dict(model.named_parameters())[name].requires_grad_(False)
        trained = [p for p in model.parameters() if p.requires_grad]
        opt = optim.SGD(trained, lr=0.5, momentum=0.9) if optimizer == "sgd" else optim.Adam(trained, lr=1e-2)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4) if schedule else None
        rng = np.random.default_rng(1)
        data = (rng.integers(0, 255, (128, 28, 28), dtype=np.uint8), rng.integers(0, 10, 128))
        for images, labels in DataLoader(data, 32, shuffle=True, seed=3, device=dev):
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched:
                sched.step()
        states.append(model.state_dict())
    for name, value in states[0].items():
        np.testing.assert_allclose(states[1][name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_init_on_the_device(device):
    cuda_only(device)
    tg.manual_seed(0)
    w = tg.empty(64, 32, device=device)
    for fill, check in ((lambda: nn.init.kaiming_uniform_(w, a=5 ** 0.5),
                         lambda a: abs(a).max() <= 1 / 32 ** 0.5),
                        (lambda: nn.init.xavier_normal_(w), lambda a: 0.1 < a.std() < 0.3),
                        (lambda: nn.init.constant_(w, 0.5), lambda a: (a == 0.5).all()),
                        (lambda: nn.init.uniform_(w, -2, 2), lambda a: a.min() >= -2 and a.max() < 2)):
        assert fill() is w and w.device == device and w.dtype == np.float32
        assert check(w.numpy())
    conv = nn.Conv2d(3, 4, 3).to(device)
    conv.reset_parameters()
    assert conv.weight.device == device and conv.bias.device == device


# ---------------------------------------------------------------- the scripts on cuda
def test_train_lenet_on_cuda_and_exact_resume(data_dir, tmp_path, device):  # noqa: F811
    cuda_only(device)
    full, half = tmp_path / "full.npz", tmp_path / "half.npz"
    histories = run(data_dir, "--device", "cuda", "--epochs", "2", "--save", str(full))
    (history,) = histories.values()
    assert len(history) == 2 and history[-1]["train_loss"] < history[0]["train_loss"]
    run(data_dir, "--device", "cuda", "--epochs", "1", "--save", str(half))
    run(data_dir, "--device", "cuda", "--epochs", "2", "--save", str(half), "--resume", str(half))
    a, b = tg.load(str(full))["model"], tg.load(str(half))["model"]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_train_mlp_on_cuda(data_dir, device):  # noqa: F811
    cuda_only(device)
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import train_mlp
    histories = train_mlp.main(["--data-dir", data_dir, "--no-verify", "--batch-size", "32",
                                "--hidden", "20,20", "--epochs", "1", "--device", "cuda"])
    assert len(histories["batchnorm"]) == 1


@pytest.mark.parametrize("script,extra", [
    ("benchmarks/bench_norm.py", ["--repeats", "2"]),
    ("benchmarks/bench_conv.py", ["--no-torch", "--repeats", "1", "--blocks", "1", "--batch-size", "4"]),
    ("benchmarks/bench_lenet.py", ["--no-torch", "--steps", "2", "--blocks", "1", "--warmup", "1",
                                   "--no-memory"]),
])
def test_benchmarks_on_cuda(script, extra, device):
    cuda_only(device)
    standin()  # the subprocess runs on the stand-in through tests/run_on_standin.py
    out = subprocess.run([sys.executable, os.path.join(TESTS, "run_on_standin.py"),
                          os.path.join(REPO, script), "--device", "cuda", *extra],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "device=cuda" in out.stdout


# ---------------------------------------------------------------- cuda_is_available()
def fake_cupy(kernels_work: bool, devices: int = 1):
    """A CuPy whose runtime counts `devices` GPUs and whose first kernel fails unless `kernels_work`."""
    def arange(*a, **k):
        if not kernels_work:
            raise RuntimeError("nvrtc: cannot open libnvrtc.so.12")
        return np.arange(*a, **k)
    runtime = types.SimpleNamespace(getDeviceCount=lambda: devices)
    device = types.SimpleNamespace(synchronize=lambda: None)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=lambda: device),
                                 arange=arange, random=np.random)


@pytest.mark.parametrize("kernels_work,devices,reason", [
    (False, 1, "its first kernels fail .*libnvrtc.*cuda12"), (True, 0, "sees no GPU"), (True, 1, "")])
def test_cuda_is_available_runs_a_smoke_test_and_says_why_not(kernels_work, devices, reason):
    previous = backend._use_cuda_module(fake_cupy(kernels_work, devices), None)
    try:
        assert tg.cuda_is_available() is (reason == "")
        ok, why = backend.cuda_status()
        assert ok == (reason == "") and (re.search(reason, why) if reason else why == "")
        if reason:
            with pytest.raises(RuntimeError, match=reason.split(" .*")[0]):
                backend.check_device("cuda")
    finally:
        backend._use_cuda_module(*previous)


def test_gpu_check_script_runs_end_to_end_on_the_standin(tmp_path):
    # the script the GPU machine runs, in its QUICK mode, with every part on the stand-in
    env = dict(os.environ, OUT=str(tmp_path), QUICK="1",
               RUN=f"{sys.executable} {os.path.join(TESTS, 'run_on_standin.py')}",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    out = subprocess.run(["bash", os.path.join(REPO, "benchmarks", "gpu_check.sh")], env=env,
                         capture_output=True, text=True, timeout=600)
    summary = (tmp_path / "summary.txt").read_text()
    assert out.returncode == 0, out.stderr[-2000:]
    for part in ("tests", "bench_lenet", "bench_norm", "train_lenet"):
        assert f"== {part}: exit 0" in summary, summary
    assert "examples/s" in (tmp_path / "train_lenet.txt").read_text()


def test_moving_between_devices_passes_gradcheck(device):
    """ToDevice's backward moves the gradient back: float64 through the device and back."""
    cuda_only(device)
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)  # on the CPU
    y = x.to(device)
    assert y.grad_fn.name() == "ToDeviceBackward0"
    check_grad(lambda a: ((a.to(device) * 2).exp().to("cpu") * a), x)
    check_grad(lambda a: (a.to("cpu") * a.to("cpu")).to(device),
               tg.tensor(np.random.default_rng(1).standard_normal(4), requires_grad=True, device=device))


def test_cumulative_average_batch_norm_never_waits_for_the_host(device):
    """BatchNorm(momentum=None) reads its batch count to weigh the new batch (1/n): on the
    device, so a training forward+backward has no host sync, and its running statistics are
    the CPU's."""
    cuda_only(device)
    counts = standin()
    xs = [np.random.default_rng(i).standard_normal((8, 3, 4, 4)).astype(np.float32) for i in range(3)]
    bns = {d: nn.BatchNorm2d(3, momentum=None).to(d) for d in ("cpu", device)}
    for i, x in enumerate(xs):
        for d, bn in bns.items():
            t = tg.tensor(x, device=d)
            if d == device and i == len(xs) - 1:
                with counts.count() as c:
                    bn(t).sum().backward()
                assert c.syncs == 0 and c.h2d == 0, c
            else:
                bn(t).sum().backward()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(bns[device], name).numpy(), getattr(bns["cpu"], name).numpy(),
                                   rtol=1e-6)
