# Two entry points: `make run` serves the example app over HTTPS,
# `make test` runs the linters, the type checker and the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest install bench bench-smoke fuzz soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@if command -v npm >/dev/null 2>&1 && [ -f tests/interop/package.json ]; then \
		cd tests/interop && npm ci --silent --no-audit --no-fund; \
	fi
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m example_app

lint: $(STAMP)
	$(BIN)/ruff check src tests example_app $(wildcard benchmarks scripts)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The benchmark suite (figures for the README), and its seconds-long smoke run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks.run --quick

# The long fuzz and soak runs; CI runs short versions inside the test suite.
fuzz: $(STAMP)
	$(BIN)/python -m scripts.fuzz_asgi --count 1000000

soak: $(STAMP)
	$(BIN)/python -m scripts.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
