# Two commands set everything up on a fresh machine:
#   make test    virtualenv + package with test extras, then the test suite
#   make train   virtualenv + package with example extras + Fashion-MNIST, then LeNet-BN training
#   make mpi     adds MPI (mpi4py + the MPICH wheel): `make test` then also runs the distributed
#                tests under mpiexec -n 1, 2 and 3 (CI does `make mpi test`)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: test train data bench clean mpi

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

# Fashion-MNIST: found on disk, downloaded, or unpacked from Debian's package (see data/fetch.py)
data: $(VENV)/.examples-installed
	$(PY) -m tinygrad_bn.data.fetch fashion-mnist

# LeNet-BN on Fashion-MNIST, CPU, the reference settings; pass options with ARGS="--epochs 2 ..."
train: data
	$(PY) examples/train_lenet.py $(ARGS)

bench: $(VENV)/.examples-installed
	$(PY) benchmarks/bench_norm.py
	$(PY) benchmarks/bench_lenet.py

test: $(VENV)/.test-installed
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
