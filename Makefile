# make run   - set everything up, run scenarios/default.yaml locally, print where the report is
# make test  - set everything up, then lint, type-check and run the whole test suite
# make image-check - build the kind image with podman from a local Debian base and run its
#              containers as the kind manifests do (root; several minutes, so not in `make test`)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.meshbench-installed
SCENARIO ?= scenarios/default.yaml

.PHONY: run test setup system lint typecheck pytest bench notebook mutate image-check

setup: $(STAMP)

system:
	@scripts/system-packages.sh

$(STAMP): pyproject.toml
	@scripts/system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: setup system
	@$(BIN)/meshbench run $(SCENARIO) | tee $(VENV)/last-run
	@run_dir=$$(tail -n 1 $(VENV)/last-run) && $(BIN)/meshbench report "$$run_dir" && \
	  echo "results and report: $$run_dir"

lint: setup
	$(BIN)/ruff check meshbench tests bench
	$(BIN)/ruff format --check meshbench tests bench

# strict everywhere; the tests and bench scripts too (module bases: pyproject.toml [tool.mypy])
typecheck: setup
	$(BIN)/mypy meshbench tests bench

pytest: setup
	@scripts/system-packages.sh test
	$(BIN)/pytest

test: lint typecheck pytest

# The kind image for real, without a cluster (tests/image): debootstrap a Debian base, build
# manifests/image/Dockerfile on it with the platform's own build step (podman), then run the
# default chain, the probe Job and a load Job as the rendered manifests run them. 3.5 min on a
# quiet 2-core machine, 9 min on a busy one, nearly all of it debootstrap and the build (which
# download ~100 MB each time): too slow and too network-bound for `make test`.
image-check: setup
	@scripts/system-packages.sh image
	$(BIN)/pytest -m image tests/image -v --durations=0

# Figures, not pass/fail: generator capacity, client overhead next to wrk/h2load, and the
# sidecar overhead seen by meshbench and by the reference tools. Run on a quiet machine.
bench: setup
	@scripts/system-packages.sh bench
	$(BIN)/python bench/generator_capacity.py
	$(BIN)/python bench/client_overhead.py
	$(BIN)/python bench/sidecar_overhead.py
	$(BIN)/python bench/reference_agreement.py

# Analyse a run in JupyterLab: make notebook RUN=results/<run-id>  (default: the sample run)
notebook: setup
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[notebook]'
	MESHBENCH_RUN="$(abspath $(or $(RUN),tests/data/sample-run))" $(BIN)/jupyter lab notebooks/analysis.ipynb

# Mutation testing of the core modules (load/, results/, analysis/, validity and sidecar
# accounting; configured in pyproject.toml [tool.mutmut]); slow, so not part of `make test`.
# mutmut rather than cosmic-ray: mutmut 3 mutates a copy under mutants/ and never the work
# tree (cosmic-ray's local runs rewrite the source files in place), runs only the tests that
# reach each mutated function, and keeps its results between runs with no session database
# to set up. One module at a time: make mutate MUTANTS='meshbench.load.merge.*'
# (mutant names are module.x_function__mutmut_N; inspect one with .venv/bin/mutmut show NAME).
# A full run (~8,400 mutants) takes hours on 2 cores; a stratified sample, once mutants/
# exists: make mutate MUTANTS="$(.venv/bin/python scripts/mutation-score.py --sample 60)"
MUTANTS ?=
mutate: setup
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[mutate]'
	nice -n 19 $(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python scripts/mutation-score.py
