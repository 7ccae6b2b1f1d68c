# Every target installs what it needs into .venv itself, so it works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ROWS ?= 200000
# make bench BENCH_ARGS="--rows 500000 --sections balance,prepare"; the full-scale section (160M
# reviews, about 45 minutes and 20 GB of disk) runs only when named: BENCH_ARGS="--sections fullscale"
BENCH_ARGS ?=
# pytest's own -n/-k etc.: make test PYTEST_ARGS="-k balance"
PYTEST_ARGS ?=
# The default Spark is Glue 5's; the job tests run again on Glue 6's (4.1.1) in a second virtualenv.
SPARK ?= 3.5
SPARK4 ?= 4.1.1
SPARK4_VENV ?= .venv-spark4
SPARK4_TESTS ?= tests/test_balance.py tests/test_prepare.py tests/test_import.py tests/test_entry_points.py \
	tests/test_cluster.py tests/test_user_mistakes.py
# checkov and cfn-lint at their current releases, in a virtualenv of their own: current checkov pins
# packages (packaging, boto3) that clash with pytest 9 and sagemaker 3. Beside them the fastText the
# predict-table Glue job installs (fasttext-predict: its module is also named fasttext).
TOOLS_VENV ?= .venv-tools
# MkDocs builds docs/ (strictly, in the tests); the AWS CLI runs the README's AWS recipe against moto.
TOOLS = "checkov>=3.3.30,<4" "cfn-lint>=1.58,<2" "fasttext-predict==0.9.2.4" "mkdocs>=1.6,<2" "awscli>=1.40,<2"

.PHONY: demo test bench docs dist clean help

help:
	@echo "make demo   run the whole pipeline on generated data (local Spark), outputs in demo-output/"
	@echo "make test   run all tests"
	@echo "make bench  benchmarks (about 110 min on 2 cores): bench/results.md and bench/results.json"
	@echo "make docs   docs/ as a site in site/ (MkDocs, strict: a broken link fails)"
	@echo "make dist   dist/reviewcat.zip, the package for spark-submit --py-files and Glue --extra-py-files"
	@echo "make clean  remove .venv and generated outputs"

$(VENV)/.installed-%: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]" "pyspark==$(SPARK).*"
	$(VENV)/bin/reviewcat s3-jars
	touch $@

$(SPARK4_VENV)/.installed: setup.py
	test -x $(SPARK4_VENV)/bin/python || $(PYTHON) -m venv $(SPARK4_VENV)
	$(SPARK4_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SPARK4_VENV)/bin/python -m pip install --quiet -e ".[test]" "pyspark==$(SPARK4)"
	touch $@

$(TOOLS_VENV)/.installed: Makefile
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade $(TOOLS)
	touch $@

demo: $(VENV)/.installed-train
	$(VENV)/bin/reviewcat demo --workdir demo-output --rows $(DEMO_ROWS)

# The three virtualenvs install side by side. The main suite runs on two pytest-xdist workers, a test
# file each at a time in collection order (the longest first: tests/conftest.py), and the Spark 4.1
# job tests run beside it, their output shown when both are done: one lane after the other left
# most of 2 cores idle, waiting on JVM starts, subprocesses and sleeps (37.5 min in one lane, 28 in
# two; docs/performance.md). PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= 2
test:
	$(MAKE) --no-print-directory -j3 $(VENV)/.installed-test $(SPARK4_VENV)/.installed $(TOOLS_VENV)/.installed
	@$(SPARK4_VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) $(SPARK4_TESTS) \
		>$(SPARK4_VENV)/pytest.log 2>&1 & spark4=$$!; \
	REVIEWCAT_TOOLS_BIN=$(abspath $(TOOLS_VENV))/bin $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder --durations=25 $(PYTEST_ARGS) tests benchmarks/tests; main=$$?; \
	wait $$spark4; other=$$?; \
	echo "== the job tests on Spark $(SPARK4) ($(SPARK4_VENV))"; cat $(SPARK4_VENV)/pytest.log; \
	test $$main -eq 0 && test $$other -eq 0

bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks --workdir bench $(BENCH_ARGS)

docs: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/mkdocs build --strict

dist:
	PYTHONPATH=lib $(PYTHON) -m reviewcat.aws.packaging dist/reviewcat.zip

clean:
	rm -rf $(VENV) $(SPARK4_VENV) $(TOOLS_VENV) demo-output bench dist site .pytest_cache
