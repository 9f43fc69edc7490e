# Two commands for a fresh machine: `make demo` and `make test`.
# Each creates .venv by itself on first use (torch pinned to the CPU wheel).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.brainfit-installed
TORCH_PIN ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test test-slow test-all bench venv clean cowley-v4 zhang-it zoo-demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/brainfit demo --config analyses/demo/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# a 13-model zoo on the synthetic set: a local Dask cluster, then the report (reruns skip finished fits)
zoo-demo: $(STAMP)
	$(BIN)/brainfit zoo run analyses/zoo_demo.yaml
	$(BIN)/brainfit zoo report analyses/zoo_demo.yaml

# real-data analyses (need the data root: BRAINFIT_DATA, default ../shared/data)
cowley-v4: $(STAMP)
	$(BIN)/python analyses/cowley_v4/run.py

zhang-it: $(STAMP)
	$(BIN)/python analyses/zhang_it/run.py

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
