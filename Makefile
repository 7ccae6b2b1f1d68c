# Every target installs what it needs into .venv itself, so it works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ROWS ?= 200000
# make bench BENCH_ARGS="--rows 500000 --sections balance,prepare"
BENCH_ARGS ?=
# pytest's own -n/-k etc.: make test PYTEST_ARGS="-k balance"
PYTEST_ARGS ?=

.PHONY: demo test bench dist clean help

help:
	@echo "make demo   run the whole pipeline on generated data (local Spark), outputs in demo-output/"
	@echo "make test   run all tests"
	@echo "make bench  benchmarks (about 80 min on 2 cores): bench/results.md and bench/results.json"
	@echo "make dist   dist/reviewcat.zip, the package for spark-submit --py-files and Glue --extra-py-files"
	@echo "make clean  remove .venv and generated outputs"

$(VENV)/.installed-%: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-train
	$(VENV)/bin/reviewcat demo --workdir demo-output --rows $(DEMO_ROWS)

test: $(VENV)/.installed-test
	$(PY) -m pytest $(PYTEST_ARGS) tests

bench: $(VENV)/.installed-bench
	$(VENV)/bin/reviewcat bench --workdir bench $(BENCH_ARGS)

dist:
	PYTHONPATH=lib $(PYTHON) -m reviewcat.packaging dist/reviewcat.zip

clean:
	rm -rf $(VENV) demo-output bench dist .pytest_cache
