# The words the README uses. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
MOTO_PORT ?= 4566

.PHONY: help image-check image-check-arm64 install test lint typecheck unit bench bench-e2e bench-report bench-results demo up localstack-hook deploy deploy-code destroy clean

# A bare `make` lists the targets (the `##` comments below).
help:
	@awk -F':.*## ' '/^[a-z0-9-]+:.*## /{printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the project with its development tools

lint: $(VENV)/.installed  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed  ## mypy (strict on handlers/ and devstack/)
	$(BIN)/mypy

unit: $(VENV)/.installed  ## the tests (pytest), without the image tier
	$(BIN)/pytest

# The main job on the embedded stack (moto's server + awslambdaric): no Docker, no AWS account.
# IMAGES=1: the functions run as the images `make image-check` built (podman), not as processes.
demo: $(VENV)/.installed  ## the main job on the embedded stack (IMAGES=1: as containers)
	$(BIN)/python -m devstack.demo $(if $(IMAGES),--images)

# The same stack, left running: moto on 127.0.0.1:$(MOTO_PORT), the Function URL on :$(PORT).
up: $(VENV)/.installed  ## the embedded stack, left running (moto on MOTO_PORT, the Function URL on PORT)
	$(BIN)/python -m devstack.demo --stay-up --port $(PORT) --moto-port $(MOTO_PORT)

# The image tier of the tests: both Dockerfiles built with podman (amd64), each image checked
# from inside and run through the Runtime API against moto. Not part of `make test`.
image-check: $(VENV)/.installed  ## build both Dockerfiles with podman (amd64) and test the images
	$(BIN)/pytest -m image tests/images

# The same for arm64 under qemu emulation, as deployed: CI runs it too (.ci/run).
image-check-arm64: $(VENV)/.installed  ## the same for arm64, under qemu
	THUMBSTAT_IMAGE_ARCH=arm64 $(BIN)/pytest -m image tests/images

# LocalStack's ready hook is generated from devstack/resources.py; a test checks it is current.
localstack-hook: $(VENV)/.installed  ## regenerate devstack/localstack/ready.sh
	$(BIN)/python -m devstack.resources > devstack/localstack/ready.sh

# Lint, type check, then every test but the image tier (make image-check).
test: lint typecheck unit  ## lint, type check, then the tests (README's test command)

# The benchmarks need the peers (pyvips, simplejpeg) and matplotlib: the bench extra.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# Core benchmarks: naive vs Image.thumbnail vs tuned vs pyvips vs the libjpeg-turbo floor.
bench: $(VENV)/.bench-installed  ## core benchmarks: every method on every generated image
	$(BIN)/pytest bench/ --benchmark-only --benchmark-enable -p no:cacheprovider \
		--benchmark-json=bench/results/core.json

# The same images through the embedded stack, cold and warm, with Lambda-style REPORT figures.
bench-e2e: $(VENV)/.bench-installed  ## every image through the embedded stack, cold and warm
	$(BIN)/python -m bench.e2e

# bench/RESULTS.md and its charts, from bench/results/*.json.
bench-report: $(VENV)/.bench-installed  ## bench/RESULTS.md and charts from bench/results/*.json
	$(BIN)/python -m bench.report

# All three: what bench/RESULTS.md is committed from.
bench-results: bench bench-e2e bench-report  ## bench, bench-e2e and bench-report

# Deploy to the AWS account of your credentials (needs Docker with buildx). ARGS is passed on,
# e.g. make deploy ARGS="--param FunctionUrlAuthType=NONE" or ARGS=--dry-run.
deploy: $(VENV)/.installed  ## deploy to the AWS account of your credentials (ARGS passed on)
	$(BIN)/python -m infra.deploy deploy $(ARGS)

deploy-code: $(VENV)/.installed  ## push new images and point the functions at them
	$(BIN)/python -m infra.deploy deploy-code $(ARGS)

# Keeps the bucket and the tables; DELETE_DATA=1 deletes them too.
destroy: $(VENV)/.installed  ## delete the stack (DELETE_DATA=1: the bucket and tables too)
	$(BIN)/python -m infra.deploy destroy $(if $(DELETE_DATA),--delete-data) $(ARGS)

clean:  ## remove .venv and the caches
	rm -rf $(VENV) .venv-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
