# Two commands for users: `make demo` (the main job) and `make test` (the test suite).
# Both create and fill .venv on first use; torch is installed from the pinned CPU build
# (`pip install torch==2.13.0`) when absent, because a looser pin pulls GBs of CUDA packages.
# `make demo` needs only the package; `make test` adds the `dev` extra (linters, and the
# optional extras the tests exercise: Ray, SUMO, plotly, Selenium, Stable-Baselines3).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.vtwin-core-installed
STAMP  := $(VENV)/.vtwin-installed
OUT    ?= out

.PHONY: demo test lint format venv clean

$(CORE): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vtwin needs Python >= 3.11, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c 'import torch' 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

$(STAMP): $(CORE)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(CORE)
	$(BIN)/vtwin reproduce paper-a-uav --quick --out $(OUT)/runs --workers 2
	@echo "Report: $(OUT)/runs/paper-a-uav/REPORT.html (and REPORT.md); all: $(OUT)/runs/index.html"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not slow"

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .hypothesis
