# The words the README uses. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
MOTO_PORT ?= 4566

.PHONY: install test lint typecheck unit bench demo up deploy deploy-code destroy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

# The main job on the embedded stack (moto's server + awslambdaric): no Docker, no AWS account.
demo: $(VENV)/.installed
	$(BIN)/python -m handlers.local.demo

# The same stack, left running: moto on 127.0.0.1:$(MOTO_PORT), the Function URL on :$(PORT).
up: $(VENV)/.installed
	$(BIN)/python -m handlers.local.demo --stay-up --port $(PORT) --moto-port $(MOTO_PORT)

# Lint, type check, then every test.
test: lint typecheck unit

# Core benchmarks (naive vs tuned vs peers); pip install -e '.[dev,bench]' adds the peers.
bench: $(VENV)/.installed
	$(BIN)/pytest bench/ --benchmark-only --benchmark-enable -p no:cacheprovider

# Deploy to the AWS account of your credentials (needs Docker with buildx). ARGS is passed on,
# e.g. make deploy ARGS="--param FunctionUrlAuthType=NONE" or ARGS=--dry-run.
deploy: $(VENV)/.installed
	$(BIN)/python -m infra.deploy deploy $(ARGS)

deploy-code: $(VENV)/.installed
	$(BIN)/python -m infra.deploy deploy-code $(ARGS)

# Keeps the bucket and the tables; DELETE_DATA=1 deletes them too.
destroy: $(VENV)/.installed
	$(BIN)/python -m infra.deploy destroy $(if $(DELETE_DATA),--delete-data) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
