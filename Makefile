# Two commands set everything up on a fresh machine:
#   make test    virtualenv + package with the test and mpi extras (mpi4py + the MPICH wheel), then
#                the test suite: once as it is (the distributed tests under mpiexec -n 1, 2, 3
#                included), then its cuda tests again on a strict CPU stand-in for CuPy where no
#                GPU is present
#   make train   virtualenv + package with example extras + Fashion-MNIST, then LeNet-BN training
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: test test-standin train data bench clean mpi

# A virtualenv of our own; each target installs the extras it needs into it, once.
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.test-installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.examples-installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[examples]'
	touch $@

$(VENV)/.mpi-installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[mpi]'
	touch $@

mpi: $(VENV)/.mpi-installed

# Fashion-MNIST: found on disk, downloaded, or unpacked from Debian's package; always verified
# (see scripts/fetch_data.py)
data: $(VENV)/.examples-installed
	$(PY) scripts/fetch_data.py fashion-mnist

# LeNet-BN on Fashion-MNIST, CPU, the reference settings; pass options with ARGS="--epochs 2 ..."
train: data
	$(PY) examples/train_lenet.py $(ARGS)

bench: $(VENV)/.examples-installed
	$(PY) benchmarks/bench_norm.py
	$(PY) benchmarks/bench_lenet.py

test: $(VENV)/.test-installed $(VENV)/.mpi-installed
	$(PY) -m pytest -q
	$(PY) -m pytest -q --cuda=standin

# Only the cuda copies of the device tests, on tests/standin (a real GPU, if present, wins)
test-standin: $(VENV)/.test-installed
	$(PY) -m pytest -q --cuda=standin $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
