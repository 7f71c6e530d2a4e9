"""tg.save / tg.load: exact round trips, the on-disk format, atomic writes, no pickles."""
import io
import math
import os
import pickle
import resource
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import backend, optim
from tinygrad_bn import serialization
from tinygrad_bn.serialization import load, save


def assert_same(a, b, where="obj"):
    """Recursive exact equality that also checks types (tuple vs list, int vs float, dtypes)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert type(key) is type(next(k for k in b if k == key)), f"{where}: key {key!r}"
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b), where  # -0.0 stays -0.0


def leftover_files(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


# ---------------------------------------------------------------- round trips
def test_flat_state_dict_round_trip(tmp_path, device, rng):
    weight = rng.standard_normal((4, 3)).astype(np.float32)
    state = {
        "features.0.weight": tg.Tensor(weight, device=device),  # a Tensor, possibly on the GPU
        "features.0.bias": np.zeros(4, np.float32),
        "bn.running_var": np.ones(4, np.float64),
        "bn.num_batches_tracked": np.array(7, np.int64),
        "mask": np.array([True, False]),
    }
    path = tmp_path / "model.npz"
    save(state, path)
    loaded = load(path)
    assert list(loaded) == list(state)  # names with '.' are keys, not nesting
    for name, value in loaded.items():
        assert isinstance(value, np.ndarray)
        expected = state[name].numpy() if isinstance(state[name], tg.Tensor) else state[name]
        assert value.dtype == expected.dtype and value.shape == expected.shape
        np.testing.assert_array_equal(value, expected)
    assert loaded["features.0.weight"].dtype == np.float32
    # An ordinary .npz: NumPy alone reads the arrays under their own names.
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["features.0.weight"], weight)


def test_nested_checkpoint_round_trips_exactly(tmp_path):
    checkpoint = {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2, np.float32)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False,
                                        "eps": 1e-8, "params": [0, 1], "maximize": None}]},
        "epoch": 12,
        "rng": backend.get_rng_state(),  # a nested dict with 128-bit ints
        "scalars": [0.1, -0.0, float("inf"), float("nan"), 2 ** 100, -3, True, None, "héllo/ü"],
        "keys": {1: "int", "1": "str", 2.5: "float", None: "none", False: "bool"},
        "empty": {"dict": {}, "list": [], "tuple": ()},
        "nested_tuple": ((1, [2, (3,)]), np.float32(1.5)),
    }
    path = tmp_path / "ckpt.npz"
    save(checkpoint, path)
    loaded = load(path)
    # a NumPy scalar comes back as a 0-d array of the same dtype
    assert loaded["nested_tuple"][1].shape == () and loaded["nested_tuple"][1].dtype == np.float32
    checkpoint["nested_tuple"] = (checkpoint["nested_tuple"][0], np.array(1.5, np.float32))
    assert_same(checkpoint, loaded)
    with np.load(path) as npz:
        assert set(npz.files) == {"model/0.weight", "optimizer/state/0/exp_avg",
                                  "nested_tuple/1", serialization.STRUCTURE_KEY}


def test_top_level_array_and_scalar(tmp_path):
    save(np.arange(3), tmp_path / "a.npz")
    np.testing.assert_array_equal(load(tmp_path / "a.npz"), np.arange(3))
    save(3.25, tmp_path / "b.npz")
    assert load(tmp_path / "b.npz") == 3.25


def test_checkpoint_resumes_training(tmp_path, device, rng):
    p = tg.Tensor(rng.standard_normal(5).astype(np.float32), requires_grad=True, device=device)
    opt = optim.Adam([p], lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    grads = [rng.standard_normal(5).astype(np.float32) for _ in range(4)]
    for g in grads[:2]:
        p.grad = tg.Tensor(g, device=device)
        opt.step()
        scheduler.step()
    save({"param": p, "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
          "epoch": 2}, tmp_path / "ckpt.npz")

    ckpt = load(tmp_path / "ckpt.npz")
    p2 = tg.Tensor(ckpt["param"], requires_grad=True, device=device)
    opt2 = optim.Adam([p2], lr=123.0)
    opt2.load_state_dict(ckpt["optimizer"])
    scheduler2 = optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    scheduler2.load_state_dict(ckpt["scheduler"])
    assert ckpt["epoch"] == 2 and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for g in grads[2:]:
        for param, o, s in ((p, opt, scheduler), (p2, opt2, scheduler2)):
            param.grad = tg.Tensor(g, device=device)
            o.step()
            s.step()
    np.testing.assert_array_equal(p2.numpy(), p.numpy())
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()


def test_plain_npz_loads_as_flat_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", **{"fc.weight": np.ones((2, 2), np.float32)})
    loaded = load(tmp_path / "plain.npz")
    assert list(loaded) == ["fc.weight"] and loaded["fc.weight"].dtype == np.float32


def test_path_is_used_as_given(tmp_path):
    save({"a": np.ones(1)}, str(tmp_path / "weights.ckpt"))  # no .npz suffix appended
    assert os.listdir(tmp_path) == ["weights.ckpt"]
    np.testing.assert_array_equal(load(tmp_path / "weights.ckpt")["a"], np.ones(1))


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("obj, error, match", [
    ({"w": np.array([1, None], dtype=object)}, TypeError, "w: object arrays|cannot save w"),
    ({"s": {1, 2}}, TypeError, "set at s"),
    ({"f": lambda: 0}, TypeError, "function"),
    ({(1, 2): np.ones(1)}, TypeError, r"key \(1, 2\)"),
    ({0: np.ones(1), "0": np.zeros(1)}, ValueError, "'0' is already taken"),
    ({"a/b": np.ones(1), "a": {"b": np.zeros(1)}}, ValueError, "'a/b' is already taken"),
    ({serialization.STRUCTURE_KEY: np.ones(1)}, ValueError, "already taken"),
])
def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, obj, error, match):
    with pytest.raises(error, match=match):
        save(obj, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# A class whose unpickling would run code: loading must refuse it BEFORE unpickling.
UNPICKLED = []


def _side_effect():
    UNPICKLED.append("code ran")
    return 0


class Booby:
    def __reduce__(self):
        return (_side_effect, ())


def test_load_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.ones(2), payload=np.array([Booby()], dtype=object))
    with pytest.raises(serialization.CheckpointError, match="'payload' holds Python objects") as info:
        load(path)
    assert str(info.value).startswith(f"not a tinygrad_bn checkpoint: {path}")
    assert "pickle" not in str(info.value).replace(str(path), "").lower()
    assert UNPICKLED == []


def test_load_rejects_corrupt_structure(tmp_path):
    np.savez(tmp_path / "bad.npz", **{serialization.STRUCTURE_KEY: np.array('{"set": [1]}')})
    with pytest.raises(ValueError, match="unknown type 'set'"):
        load(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad2.npz", **{serialization.STRUCTURE_KEY: np.array('{"array": "w"}')})
    with pytest.raises(ValueError, match="missing array 'w'"):
        load(tmp_path / "bad2.npz")


# ---------------------------------------------------------------- atomic writes
class Crash(Exception):
    pass


def _write_partly_then_crash(fp, array, **kwargs):
    fp.write(b"\x93NUMPY half an array")
    raise Crash("disk on fire")


@pytest.mark.parametrize("failure", ["write", "fsync", "replace", "interrupt"])
def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.npz"
    old = {"w": np.arange(1000, dtype=np.float32)}
    save(old, path)
    old_bytes = path.read_bytes()

    if failure == "write":
        monkeypatch.setattr(np.lib.format, "write_array", _write_partly_then_crash)
    elif failure == "fsync":
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(Crash("fsync")))
    elif failure == "replace":
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(Crash("replace")))
    else:
        def interrupted(fp, array, **kwargs):
            fp.write(b"partial")
            raise KeyboardInterrupt
        monkeypatch.setattr(np.lib.format, "write_array", interrupted)

    with pytest.raises(KeyboardInterrupt if failure == "interrupt" else Crash):
        save({"w": np.zeros(5000, dtype=np.float32)}, path)
    monkeypatch.undo()

    assert path.read_bytes() == old_bytes
    assert leftover_files(tmp_path) == []
    assert_same(old, load(path))


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"epoch": 1}, path)
    save({"epoch": 2}, path)
    assert load(path) == {"epoch": 2}
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# ---------------------------------------------------------------- a flat state_dict is its keys
def test_flat_state_dict_file_holds_exactly_its_keys(tmp_path):
    model = tg.nn.Sequential(tg.nn.Linear(3, 2), tg.nn.BatchNorm1d(2))
    state = model.state_dict()
    save(state, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        assert npz.files == list(state)                     # the keys, in order, nothing else
    loaded = load(tmp_path / "model.npz")
    assert_same(dict(state), loaded)
    model.load_state_dict(loaded)
    # a nested object (or a dict with a non-array value) keeps the structure entry
    save({"model": state, "epoch": 1}, tmp_path / "nested.npz")
    with np.load(tmp_path / "nested.npz") as npz:
        assert serialization.STRUCTURE_KEY in npz.files
    save({"w": np.ones(2), "n": 3}, tmp_path / "mixed.npz")
    assert load(tmp_path / "mixed.npz")["n"] == 3


# ---------------------------------------------------------------- what is not a checkpoint
def not_a_checkpoint(path):
    with pytest.raises(serialization.CheckpointError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"not a tinygrad_bn checkpoint: {path}"), message
    assert "pickle" not in message.replace(str(path), "").lower()
    assert "\n" not in message
    return message


def test_load_refuses_random_bytes_pickles_and_truncated_files(tmp_path):
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(4000))
    not_a_checkpoint(tmp_path / "random.npz")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    not_a_checkpoint(tmp_path / "model.pkl")
    (tmp_path / "empty.npz").write_bytes(b"")
    not_a_checkpoint(tmp_path / "empty.npz")
    save({"w": np.arange(1000.0), "epoch": 3}, tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    for cut in (len(data) // 2, len(data) - 10):           # a copy cut short
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        not_a_checkpoint(tmp_path / "cut.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_load_refuses_members_that_are_not_npy_arrays(tmp_path):
    path = tmp_path / "odd.npz"
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros(2, np.float32))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("1.running_mean.npy", buffer.getvalue())
        archive.writestr("1.num_batches_tracked", b"12")    # raw bytes, not an array
    assert "member '1.num_batches_tracked' is not a .npy array" in not_a_checkpoint(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("w.npy", b"\x93NUMPY garbage")
    assert "entry 'w' is not a valid .npy array" in not_a_checkpoint(path)


def test_corrupt_structure_entry_names_the_path(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, **{serialization.STRUCTURE_KEY: np.array('{"dict": [["epoch", 3]')})
    assert "corrupt structure entry" in not_a_checkpoint(path)
    np.savez(path, **{serialization.STRUCTURE_KEY: np.array([1.0, 2.0])})
    assert "corrupt structure entry" in not_a_checkpoint(path)
    np.savez(path, **{serialization.STRUCTURE_KEY: np.array('{"dict": 5}')})
    not_a_checkpoint(path)


# ---------------------------------------------------------------- symlinks and killed saves
def test_save_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "real.npz"
    save({"epoch": 1}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(os.path.join("runs", "real.npz"))       # a relative link
    save({"epoch": 2}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "real.npz")
    assert load(target) == {"epoch": 2} and load(link) == {"epoch": 2}
    assert leftover_files(tmp_path) == [] and leftover_files(tmp_path / "runs") == []
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "runs" / "new.npz")
    save({"epoch": 3}, dangling)
    assert dangling.is_symlink() and load(tmp_path / "runs" / "new.npz") == {"epoch": 3}


SLOW_SAVE = textwrap.dedent("""
    import sys, time
    import numpy as np
    import tinygrad_bn as tg
    real = np.lib.format.write_array
    def slow(fp, array, **kwargs):
        real(fp, array, **kwargs)
        print("writing", flush=True)
        time.sleep(60)
    np.lib.format.write_array = slow
    tg.save({"w": np.zeros(100000, np.float32)}, sys.argv[1])
""")


def test_temp_file_of_a_killed_save_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3, np.float32)}, path)
    old = path.read_bytes()
    for _ in range(2):  # two saves killed with SIGKILL in the middle of writing
        child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(path)], stdout=subprocess.PIPE,
                                 text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        # only the last killed save's file is left: the second save removed the first one's
        (stale,) = leftover_files(tmp_path)
        assert stale.startswith(f".ckpt.npz.{child.pid}.")
        assert path.read_bytes() == old                     # the old file is intact
    # a save in progress in a live process is not disturbed
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".ckpt.npz.{live.pid}.0123abcd.tmp").write_bytes(b"in progress")
        (tmp_path / ".other.npz.99999999.0123abcd.tmp").write_bytes(b"another file's")
        save({"w": np.zeros(3, np.float32)}, path)
        assert leftover_files(tmp_path) == [f".ckpt.npz.{live.pid}.0123abcd.tmp",
                                            ".other.npz.99999999.0123abcd.tmp"]
    finally:
        live.kill()
        live.wait()
    np.testing.assert_array_equal(load(path)["w"], np.zeros(3, np.float32))


@pytest.mark.parametrize("count", [5 * 10**8, 10**12, 2**62])
def test_a_forged_header_is_refused_before_anything_is_allocated(tmp_path, count):
    """A .npy header promising more data than the file holds: one CheckpointError, at once
    (no 2 GB allocation, no MemoryError or OverflowError)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (count,)})
    member = header.getvalue() + bytes(16)  # magic and header, then 16 bytes of data
    single = tmp_path / "forged.npy"
    single.write_bytes(member)
    archive = tmp_path / "forged.npz"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("w.npy", member)
    for path in (single, archive):
        with pytest.raises(serialization.CheckpointError, match="truncated.*promises"):
            load(path)


def test_real_ctrl_c_during_a_save_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    """A real SIGINT to a process in the middle of writing a checkpoint."""
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3, np.float32)}, path)
    old = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0 and "KeyboardInterrupt" in err
    assert leftover_files(tmp_path) == [] and path.read_bytes() == old


def test_a_real_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    """The file-size limit (RLIMIT_FSIZE) makes the kernel refuse the write: a real EFBIG."""
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3, np.float32)}, path)
    old = path.read_bytes()
    big = textwrap.dedent("""
        import sys
        import numpy as np
        import tinygrad_bn as tg
        try:
            tg.save({"w": np.zeros(10**6, np.float32)}, sys.argv[1])
        except OSError as err:
            print("failed:", err.errno)
    """)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG, no signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = subprocess.run([sys.executable, "-c", big, str(path)], capture_output=True, text=True,
                         preexec_fn=limit, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert "failed: 27" in out.stdout, out.stdout + out.stderr  # errno 27: EFBIG, file too large
    assert leftover_files(tmp_path) == [] and path.read_bytes() == old
