"""The CPU stand-in for CuPy (tests/standin) behaves as CuPy 14.2 does: each test pins one CuPy
behaviour, named in its docstring. They run in every pass; they need no GPU and no CuPy."""
import inspect
import operator

import numpy as np
import pytest

import standin
import tinygrad_bn as tg
from standin import cupy as cp, cupyx
from standin.names import CLASSES, CUPY_VERSION, MODULES
from tinygrad_bn import backend
from tinygrad_bn.ops.elementwise import Gelu


@pytest.fixture
def a():
    return cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))


# ---------------------------------------------------------------- the namespace
def test_names_are_cupy_14_2s():
    """The recorded namespace is CuPy 14.2's, the version on the GPU machines."""
    assert CUPY_VERSION.startswith("14.2.") and cp.__version__ == CUPY_VERSION


def test_names_file_matches_an_installed_cupy():
    """cupy_names.json is what tools/cupy_names.py reads from CuPy (checked where CuPy is here)."""
    real = pytest.importorskip("cupy")
    if real.__version__ != CUPY_VERSION:
        pytest.skip(f"CuPy {real.__version__} installed; the file records {CUPY_VERSION}")
    assert {n for n in dir(real) if not n.startswith("_")} == set(MODULES["cupy"]) - {"__version__"}
    assert {n for n in dir(real.ndarray) if not n.startswith("_")} <= set(CLASSES["cupy.ndarray"])


@pytest.mark.parametrize("name", ["insert", "geomspace", "longdouble", "errstate", "vecdot", "object_"])
def test_names_numpy_has_but_cupy_lacks_raise_attribute_error(name):
    """`cupy.<name>` raises AttributeError for NumPy names CuPy does not have."""
    assert hasattr(np, name)
    with pytest.raises(AttributeError, match="has no attribute"):
        getattr(cp, name)


def test_every_name_offered_is_cupys():
    """The stand-in offers no name CuPy's module (or ndarray) lacks."""
    for module, path in [(cp, "cupy"), (cp.random, "cupy.random"), (cp.cuda, "cupy.cuda"),
                         (cp.linalg, "cupy.linalg"), (cupyx, "cupyx"),
                         (cupyx.scipy.special, "cupyx.scipy.special")]:
        assert set(dir(module)) <= set(MODULES[path]), path
    public = {n for n, _ in inspect.getmembers(cp.ndarray) if not n.startswith("_")}
    assert public <= set(CLASSES["cupy.ndarray"])


def test_unimplemented_cupy_name_says_so():
    """A CuPy name the stand-in lacks raises AttributeError that says it is the stand-in's gap."""
    with pytest.raises(AttributeError, match="stand-in does not implement"):
        cp.fft


def test_dtypes_and_constants_are_numpys_objects():
    """CuPy re-exports NumPy's dtypes and constants: cupy.float32 is numpy.float32."""
    assert cp.float32 is np.float32 and cp.dtype is np.dtype and cp.newaxis is None and cp.pi == np.pi


@pytest.mark.parametrize("call", [
    lambda a: cp.zeros(3, device="cuda"), lambda a: a.max(initial=0), lambda a: a.sum(where=a > 0),
    lambda a: cp.exp(a, where=a > 0), lambda a: cp.asarray([1.0], like=a),
    lambda a: a.astype(np.int64, device=0), lambda a: cp.random.default_rng(0).integers(0, 3, 2, foo=1),
], ids=["zeros-device", "max-initial", "sum-where", "ufunc-where", "asarray-like", "astype-device",
        "integers"])
def test_keywords_cupy_does_not_take_raise_type_error(a, call):
    """CuPy's functions take their own keywords only (NumPy's `where=`, `initial=`, `device=` ...)."""
    with pytest.raises(TypeError):
        call(a)


def _params(function):
    params, keyword_only = [], False
    for p in inspect.signature(function).parameters.values():
        if p.name == "self":
            continue
        if p.kind == p.KEYWORD_ONLY and not keyword_only:
            params.append("*")
        keyword_only |= p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL)
        params.append({p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name)
    return params


@pytest.mark.parametrize("recorded,function", [
    (MODULES["cupy"][name], getattr(cp, name))
    for name in ["array", "asarray", "asanyarray", "asnumpy", "get_array_module", "take"]] + [
    (CLASSES["cupy.ndarray"][name], getattr(cp.ndarray, name))
    for name in ["get", "set", "item", "tolist", "copy", "astype", "view", "fill", "take"]] + [
    (CLASSES["cupy.random.Generator"][name], getattr(cp.random.Generator, name))
    for name in ["random", "standard_normal", "standard_exponential", "standard_gamma", "uniform",
                 "beta", "integers"]] + [
    (MODULES["cupyx"]["scatter_add"], cupyx.scatter_add)])
def test_hand_written_functions_have_cupys_signatures(recorded, function):
    """What the stand-in writes by hand takes exactly CuPy's parameters."""
    assert _params(function) == [p.partition("=")[0] for p in recorded["params"]]


# ---------------------------------------------------------------- host and device
def test_implicit_conversion_to_numpy_raises(a):
    """cupy.ndarray.__array__ raises TypeError: np.asarray(a) never copies implicitly."""
    for convert in (np.asarray, np.array, lambda x: np.testing.assert_allclose(x, 0)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)


def test_get_returns_a_numpy_copy_and_syncs(a):
    """ndarray.get() returns a NumPy copy of the values (a device->host read: one sync)."""
    with standin.count() as c:
        host = a.get()
    assert type(host) is np.ndarray and c.syncs == 1
    host[0, 0] = 99
    assert a.get()[0, 0] == 0


def test_asnumpy(a):
    """cupy.asnumpy(a) is a.get(); of a NumPy array it is np.asarray (no sync)."""
    host = np.ones(2)
    with standin.count() as c:
        assert type(cp.asnumpy(a)) is np.ndarray and cp.asnumpy(host) is host
    assert c.syncs == 1


def test_asarray_of_host_data_copies_to_the_device():
    """cupy.asarray(numpy_array) is a host->device copy; the device array does not alias host memory."""
    host = np.ones(3, dtype=np.float32)
    with standin.count() as c:
        x = cp.asarray(host)
    host[0] = 5
    assert (c.h2d, c.launches) == (1, 0) and x.get()[0] == 1 and x.dtype == np.float32


def test_list_of_device_arrays_stacks_on_the_device(a):
    """cupy.array([a, a]) stacks device arrays on the device (a launch, no transfer); a list
    mixing device arrays and numbers goes through NumPy and raises (implicit conversion)."""
    with standin.count() as c:
        stacked = cp.asarray([a, a])
    assert stacked.shape == (2, 2, 3) and (c.launches, c.h2d) == (1, 0)
    with pytest.raises(TypeError):
        cp.array([a[0, 0], 1.0])


def test_asarray_of_a_device_array_is_the_array(a):
    """cupy.asarray(a) returns `a` itself when nothing changes (no copy, no launch)."""
    with standin.count() as c:
        assert cp.asarray(a) is a and cp.asarray(a, dtype=np.float32) is a
    assert (c.launches, c.h2d) == (0, 0)


@pytest.mark.parametrize("op", [
    lambda a, h: a + h, lambda a, h: h + a, lambda a, h: a * h, lambda a, h: h < a, lambda a, h: a == h,
    lambda a, h: cp.add(a, h), lambda a, h: cp.concatenate([a, h]), lambda a, h: cp.where(a > 0, a, h),
    lambda a, h: cp.maximum(a, h), lambda a, h: cp.matmul(a.T, h), lambda a, h: a.__iadd__(h),
], ids=["add", "radd", "mul", "lt", "eq", "cp.add", "concatenate", "where", "maximum", "matmul", "iadd"])
def test_numpy_array_operand_raises_type_error(a, op):
    """A NumPy array is not an operand of CuPy's operators, ufuncs or functions."""
    with pytest.raises(TypeError):
        op(a, np.ones((2, 3), dtype=np.float32))


def test_list_is_not_a_ufunc_operand(a):
    """CuPy's ufuncs take arrays and scalars only: a list raises TypeError."""
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.exp([1.0, 2.0])
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.add(a, [1.0, 2.0, 3.0])


def test_scalars_are_operands(a):
    """Python and NumPy scalars are operands on either side."""
    for result in (a * np.float32(2), 2 * a, a ** 2, 1 / (a + 1), np.float32(3) - a, -a, abs(a)):
        assert isinstance(result, cp.ndarray) and result.shape == (2, 3)


@pytest.mark.parametrize("read", [int, float, bool, complex, lambda x: x.item(), lambda x: x.tolist(),
                                  repr, str, lambda x: f"{x:.2f}"],
                         ids=["int", "float", "bool", "complex", "item", "tolist", "repr", "str", "format"])
def test_reading_a_value_on_the_host_syncs(a, read):
    """int(), float(), bool(), .item(), .tolist(), printing: each one device->host read (a sync)."""
    with standin.count() as c:
        read(a[0, 1])
    assert c.syncs == 1


def test_no_index_protocol(a):
    """cupy.ndarray has no __index__: a device integer is not a Python index."""
    with pytest.raises(TypeError):
        operator.index(cp.asarray(np.int64(1))[()])


def test_len_iter_hash(a):
    """len() and iteration over rows (0-d views); 0-d arrays have neither; arrays are unhashable."""
    assert len(a) == 2 and [row.shape for row in a] == [(3,), (3,)]
    with pytest.raises(TypeError):
        len(a[0, 0])
    with pytest.raises(TypeError):
        iter(a[0, 0])
    with pytest.raises(TypeError):
        hash(a)


def test_no_new_attributes(a):
    """cupy.ndarray is a C type: no attributes can be added; flags have no `writeable`."""
    with pytest.raises(AttributeError):
        a.foo = 1
    with pytest.raises(AttributeError):
        a.flags.writeable
    with pytest.raises(AttributeError, match="has no attribute"):
        a.itemset


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("expr,dtype", [
    (lambda f, i, u: f * 2.0, np.float32), (lambda f, i, u: f + np.float64(1), np.float64),
    (lambda f, i, u: i + 0.5, np.float64), (lambda f, i, u: i / 2, np.float64),
    (lambda f, i, u: u + 1, np.uint8), (lambda f, i, u: u * i, np.int64),
    (lambda f, i, u: f + i, np.float64), (lambda f, i, u: (u > 1) + True, np.bool_),
    (lambda f, i, u: i.sum(), np.int64), (lambda f, i, u: u.sum(), np.uint64),
    (lambda f, i, u: f.mean(), np.float32), (lambda f, i, u: i.mean(), np.float64),
], ids=["f32*float", "f32+np.f64", "i64+float", "i64/int", "u8+int", "u8*i64", "f32+i64", "bool+bool",
        "sum-i64", "sum-u8", "mean-f32", "mean-i64"])
def test_type_promotion_follows_nep50(expr, dtype):
    """CuPy 14 promotes as NumPy 2 does (NEP 50): Python scalars are weak, NumPy scalars are not."""
    f = cp.asarray(np.ones(3, np.float32))
    i = cp.asarray(np.arange(3))
    u = cp.asarray(np.arange(3, dtype=np.uint8))
    assert expr(f, i, u).dtype == dtype


def test_out_of_range_python_int_raises_but_compares():
    """NEP 50: uint8_array + 300 raises OverflowError; uint8_array < 300 compares (as int64)."""
    u = cp.asarray(np.arange(3, dtype=np.uint8))
    with pytest.raises(OverflowError):
        u + 300
    assert bool((u < 300).all())


@pytest.mark.parametrize("ufunc,dtype,expected", [
    (lambda: cp.sign, np.bool_, np.int8), (lambda: cupyx.scipy.special.erf, np.float16, np.float64),
    (lambda: cupyx.scipy.special.erf, np.int32, np.float64), (lambda: cp.sqrt, np.int16, np.float32),
])
def test_ufuncs_use_cupys_loops(ufunc, dtype, expected):
    """A ufunc's result dtype is its first CuPy loop the input casts to safely, even where NumPy's
    differs (numpy.sign has no bool loop; scipy's erf of float16 is float32)."""
    assert ufunc()(cp.asarray(np.ones(2, dtype))).dtype == expected


def test_ufunc_takes_out_dtype_casting_only(a):
    """ufunc keywords: out= must be a cupy.ndarray, casting is checked, dtype= picks the loop."""
    out = cp.empty((2, 3), dtype=np.float32)
    assert cp.add(a, 1, out=out) is out and out.get()[0, 0] == 1
    assert cp.add(a, 1, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="Output arguments must be cupy.ndarray"):
        cp.add(a, 1, out=np.empty((2, 3), np.float32))
    i = cp.asarray(np.arange(3))
    with pytest.raises(TypeError, match="casting rule"):
        i += 0.5


def test_reductions_and_integer_indexing_give_0d_arrays(a):
    """CuPy returns 0-d arrays where NumPy returns scalars: a.sum(), a[0, 0], cupy.exp(0-d)."""
    for value in (a.sum(), a[0, 0], a.max(), cp.exp(a[0, 0]), np.sum(a)):
        assert isinstance(value, cp.ndarray) and value.shape == ()


def test_unsupported_dtypes_raise():
    """CuPy arrays hold booleans and numbers only: strings, objects, long doubles raise."""
    for make in (lambda: cp.asarray(np.array(["a"])), lambda: cp.zeros(2, dtype=object),
                 lambda: cp.asarray(np.ones(2, np.longdouble))):
        with pytest.raises(ValueError, match="Unsupported dtype"):
            make()


# ---------------------------------------------------------------- indexing and views
def test_views_know_their_owner(a):
    """A view's .base is the array that owns the memory (never a view); copies have no base."""
    row = a[1]
    assert row.base is a and row[1:].base is a and a.T.base is a and a.reshape(3, 2).base is a
    assert cp.broadcast_to(row, (4, 3)).base is a and a.view().base is a and a[None, ..., 0].base is a
    assert a.base is None and a.copy().base is None and a[cp.asarray([0])].base is None
    assert a.flags.owndata and not row.flags.owndata


def test_flags(a):
    """flags.c_contiguous / f_contiguous / owndata, also as flags['C_CONTIGUOUS']."""
    assert a.flags.c_contiguous and not a.flags.f_contiguous and a.flags["C_CONTIGUOUS"]
    assert a.T.flags.f_contiguous and not a.T.flags.c_contiguous and not a[:, ::2].flags.c_contiguous


def test_out_of_bounds_integer_array_indices_wrap():
    """CuPy wraps out-of-bounds integer-array indices (NumPy raises); plain ints still raise."""
    x = cp.arange(3)
    assert x[[1, 3]].tolist() == [1, 0] and x[cp.asarray([-4])].tolist() == [2]
    x[[1, 3]] = 10
    assert x.tolist() == [10, 10, 2]
    with pytest.raises(IndexError):
        x[3]


def test_mask_indexing_syncs(a):
    """a[mask] reads the number of True values back to the host (a sync) before gathering."""
    with standin.count() as c:
        picked = a[a > 2]
    assert picked.tolist() == [3, 4, 5] and c.syncs == 1


def test_host_indices_travel_to_the_device(a):
    """A list or NumPy array in an index is copied to the device first (CuPy accepts both)."""
    with standin.count() as c:
        a[[0, 1]]
        a[np.array([1])]
    assert c.h2d == 2


def test_basic_index_assignment_takes_scalars_only(a):
    """a[:2] = [1, 2] raises (CuPy fills from a scalar); through an advanced index, host values go."""
    with pytest.raises(ValueError, match="non-scalar"):
        a[0] = [1, 2, 3]
    with pytest.raises(ValueError, match="non-scalar"):
        a[...] = np.zeros((2, 3))
    a[0] = 7
    a[cp.asarray([1]), :] = [1.0, 2.0, 3.0]
    assert a.tolist() == [[7, 7, 7], [1, 2, 3]]


def test_scatter_add_accumulates_and_supports_cupys_dtypes():
    """cupyx.scatter_add accumulates repeated indices; it has atomics for 32/64-bit types only."""
    x = cp.zeros(3, dtype=np.float32)
    cupyx.scatter_add(x, cp.asarray([0, 0, 2]), cp.asarray(np.ones(3, np.float32)))
    assert x.tolist() == [2, 0, 1]
    with pytest.raises(TypeError, match="only supports"):
        cupyx.scatter_add(cp.zeros(3, dtype=np.int8), cp.asarray([0]), 1)


# ---------------------------------------------------------------- NumPy's protocols
def test_numpy_functions_run_cupys(a):
    """np.exp(a) and np.sum(a) run CuPy's (NEP 13/18); a NumPy function CuPy lacks raises TypeError."""
    assert isinstance(np.exp(a), cp.ndarray) and isinstance(np.concatenate([a, a]), cp.ndarray)
    with pytest.raises(TypeError):
        np.insert(a, 0, 1.0)


def test_comparison_with_none_is_false(a):
    """a == None is an all-False array, a != None all-True (CuPy's rule)."""
    assert not bool((a == None).any()) and bool((a != None).all())  # noqa: E711


# ---------------------------------------------------------------- random numbers
def test_generator_api():
    """cupy.random.default_rng(seed): random / standard_normal in float32 or float64, integers."""
    g = cp.random.default_rng(0)
    assert g.random((2, 3), dtype=np.float32).dtype == np.float32
    assert g.standard_normal(4, dtype=np.float32).dtype == np.float32
    assert g.random().shape == () and g.uniform(-1, 1, 3, dtype=np.float32).dtype == np.float32
    ints = g.integers(0, 5, size=100)
    assert ints.dtype == np.int64 and 0 <= int(ints.min()) and int(ints.max()) < 5
    for missing in ("normal", "permutation", "choice", "bit_generator", "shuffle"):
        with pytest.raises(AttributeError):
            getattr(g, missing)


def test_generator_is_seeded_and_differs_from_numpys():
    """The same seed gives the same draws; not NumPy's draws (a GPU's stream is not the CPU's)."""
    first, again = (cp.random.default_rng(7).random(5).get() for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, np.random.default_rng(7).random(5))


# ---------------------------------------------------------------- counters
def test_kernel_launches_are_counted(a):
    """One launch per ufunc, reduction, copy, cast, gather, concatenate, matmul, fill, setitem,
    draw; none for views and empty allocations."""
    cases = [(lambda: a + 1, 1), (lambda: a.sum(), 1), (lambda: a.copy(), 1), (lambda: a.astype(np.int64), 1),
             (lambda: a.astype(np.float32, copy=False), 0), (lambda: a[cp.asarray([0])], 1),
             (lambda: cp.concatenate([a, a]), 1), (lambda: a @ a.T, 1), (lambda: a.T, 0), (lambda: a[0], 0),
             (lambda: a.reshape(6), 0), (lambda: cp.empty(3), 0), (lambda: cp.zeros(3), 1),
             (lambda: a.fill(0), 1), (lambda: a.__setitem__(0, 1), 1),
             (lambda: cp.random.default_rng(0).random(3), 1), (lambda: cp.exp(cp.empty(0)), 0)]
    for make, launches in cases:
        with standin.count() as c:
            make()
        assert c.launches == launches, (inspect.getsource(make).strip(), c)


def test_count_is_live_inside_the_block_and_frozen_after(a):
    """standin.count(): the counts so far inside the block; fixed when the block ends."""
    with standin.count() as c:
        a + 1
        assert c.launches == 1
    a + 1
    assert c.launches == 1 and "launches=1" in repr(c)


def test_device_api():
    """cupy.cuda: one device; synchronising is a sync."""
    assert cp.cuda.runtime.getDeviceCount() == 1 and cp.cuda.is_available()
    with standin.count() as c:
        cp.cuda.Device().synchronize()
        cp.cuda.get_current_stream().synchronize()
        cp.cuda.runtime.deviceSynchronize()
    assert c.syncs == 3


# ---------------------------------------------------------------- the seam in backend.py
@pytest.mark.skipif(tg.cuda_is_available() and not isinstance(backend._cupy, type(cp)),
                    reason="a real GPU runs 'cuda'")
def test_backend_runs_cuda_on_the_standin():
    """backend._use_cuda_module puts the stand-in behind 'cuda' and hands back what it replaced."""
    previous = backend._use_cuda_module(cp, cupyx)
    try:
        assert tg.cuda_is_available()
        x = tg.tensor([1.0, -2.0], device="cuda", requires_grad=True)
        y = (Gelu.apply(x) * tg.randn(2, device="cuda")).sum() + x[[0, 0, 1]].sum()  # erf, scatter_add
        y.backward()
        assert isinstance(x.array, cp.ndarray) and isinstance(x.grad.array, cp.ndarray)
        assert backend.device_of(x.array) == "cuda" and type(x.numpy()) is np.ndarray
    finally:
        backend._use_cuda_module(*previous)
