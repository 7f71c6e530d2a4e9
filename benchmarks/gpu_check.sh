#!/usr/bin/env bash
# The GPU check, in one call, on a machine with a GPU, CuPy, NumPy, PyTorch and pytest already
# installed (it installs nothing and needs no network):
#
#   OUT=/path/for/logs bash benchmarks/gpu_check.sh
#
#   1. the test suite's cuda copies, on the GPU          -> $OUT/tests.txt
#   2. bench_lenet on cuda, with PyTorch's figure        -> $OUT/bench_lenet.txt
#   3. bench_norm on cuda                                -> $OUT/bench_norm.txt
#   4. one timed epoch of train_lenet.py --device cuda   -> $OUT/train_lenet.txt
#   and $OUT/summary.txt: the environment, each part's exit status and its key lines.
#
# Fashion-MNIST is taken from data/fashion-mnist (carry it with the working tree; the GPU machine
# has no network) or the usual places; without it the epoch runs on generated images of the
# same size (said in the log). CuPy compiles each kernel once, into $CUPY_CACHE_DIR (default
# .cupy_cache): carry that folder too and a second run skips the compiles. The parts are bounded
# so the whole check ends within about 8 minutes. QUICK=1 makes every part tiny (used by the
# test suite, which runs this script on the CPU stand-in: RUN="python tests/run_on_standin.py").
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=.
export CUPY_CACHE_DIR="${CUPY_CACHE_DIR:-.cupy_cache}"
OUT="${OUT:-runs/gpu_check}"
RUN="${RUN:-python}"
QUICK="${QUICK:-0}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

part() {  # part NAME SECONDS COMMAND...: run one part under a time limit, log it, record its status
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local status=$?
    echo "== $name: exit $status in $((SECONDS - start)) s" >> "$SUMMARY"
    tail -n 6 "$OUT/$name.txt" | sed 's/^/   /' >> "$SUMMARY"
}

python - >> "$SUMMARY" 2>&1 <<'PY'
import sys
import numpy
from tinygrad_bn import backend
print("python", sys.version.split()[0], "| numpy", numpy.__version__)
try:
    import cupy
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    print("cupy", cupy.__version__, "|", name.decode() if isinstance(name, bytes) else name)
except Exception as err:  # noqa: BLE001  (reported, not raised: the log says what is missing)
    print("cupy unavailable:", err)
print("cuda_status:", backend.cuda_status())
PY

DATA_ARGS=()
if [ -f data/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    DATA_ARGS=(--data-dir data/fashion-mnist)
elif ! python -c "from tinygrad_bn.data import FashionMNIST; FashionMNIST(download=False)" 2>/dev/null; then
    DATA_ARGS=(--data-dir "$(python benchmarks/make_fake_fashion.py "$OUT/fake-fashion-mnist" "$QUICK")" --no-verify)
    echo "no Fashion-MNIST here: the epoch runs on generated images of the same size" >> "$SUMMARY"
fi

if [ "$QUICK" = 1 ]; then
    part tests 120 python -m pytest -q -p no:cacheprovider --cuda=standin tests/test_cuda_path.py -k budget
    part bench_lenet 120 $RUN benchmarks/bench_lenet.py --device cuda --no-torch --steps 2 --blocks 1 --warmup 1 --no-memory
    part bench_norm 120 $RUN benchmarks/bench_norm.py --device cuda --repeats 2
    part train_lenet 120 $RUN examples/train_lenet.py --device cuda --epochs 1 --subset 256 "${DATA_ARGS[@]}"
else
    part tests 270 python -m pytest -q -p no:cacheprovider --cuda=standin   # on a GPU: its cuda copies
    part bench_lenet 90 $RUN benchmarks/bench_lenet.py --device cuda
    part bench_norm 45 $RUN benchmarks/bench_norm.py --device cuda
    part train_lenet 75 $RUN examples/train_lenet.py --device cuda --epochs 1 "${DATA_ARGS[@]}"
fi
cat "$SUMMARY"
