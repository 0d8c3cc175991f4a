# The words the README uses. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
MOTO_PORT ?= 4566

.PHONY: image-check image-check-arm64 install test lint typecheck unit bench bench-e2e bench-report bench-results demo up deploy deploy-code destroy clean

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
# IMAGES=1: the functions run as the images `make image-check` built (podman), not as processes.
demo: $(VENV)/.installed
	$(BIN)/python -m devstack.demo $(if $(IMAGES),--images)

# The same stack, left running: moto on 127.0.0.1:$(MOTO_PORT), the Function URL on :$(PORT).
up: $(VENV)/.installed
	$(BIN)/python -m devstack.demo --stay-up --port $(PORT) --moto-port $(MOTO_PORT)

# The image tier of the tests: both Dockerfiles built with podman (amd64), each image checked
# from inside and run through the Runtime API against moto. Not part of `make test`.
image-check: $(VENV)/.installed
	$(BIN)/pytest -m image tests/images

# The same for arm64 under qemu emulation: a smoke test of the arm64 path, not in CI.
image-check-arm64: $(VENV)/.installed
	THUMBSTAT_IMAGE_ARCH=arm64 $(BIN)/pytest -m image tests/images

# Lint, type check, then every test.
test: lint typecheck unit

# The benchmarks need the peers (pyvips, simplejpeg) and matplotlib: the bench extra.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# Core benchmarks: naive vs Image.thumbnail vs tuned vs pyvips vs the libjpeg-turbo floor.
bench: $(VENV)/.bench-installed
	$(BIN)/pytest bench/ --benchmark-only --benchmark-enable -p no:cacheprovider \
		--benchmark-json=bench/results/core.json

# The same images through the embedded stack, cold and warm, with Lambda-style REPORT figures.
bench-e2e: $(VENV)/.bench-installed
	$(BIN)/python -m bench.e2e

# bench/RESULTS.md and its charts, from bench/results/*.json.
bench-report: $(VENV)/.bench-installed
	$(BIN)/python -m bench.report

# All three: what bench/RESULTS.md is committed from.
bench-results: bench bench-e2e bench-report

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
