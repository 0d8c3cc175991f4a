# The words the README uses. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
MOTO_PORT ?= 4566
# make up / make demo: an endpoint already running (LocalStack) instead of moto's server.
ENDPOINT ?=
# make up: each function's RIE invoke endpoint, resize on INVOKE_PORT, ingest on the next port.
INVOKE_PORT ?= 9000
# LocalStack without Docker (devstack/localstack): its own Python 3.13 virtualenv.
LOCALSTACK_VENV ?= .venv-localstack
LOCALSTACK_PORT ?= 4566
# MiniStack (devstack/ministack): its own virtualenv, as it pins botocore exactly.
MINISTACK_VENV ?= .venv-ministack
MINISTACK_PORT ?= 4566

.PHONY: help image-check image-check-arm64 install test lint typecheck unit bench bench-classes bench-e2e bench-memory bench-init bench-report bench-results demo up invoke localstack-hook localstack-install localstack test-localstack ministack-install ministack test-ministack deploy deploy-code destroy clean

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
# ENDPOINT=http://127.0.0.1:4566: on LocalStack (make localstack) instead of moto's server.
demo: $(VENV)/.installed  ## the main job on the embedded stack (IMAGES=1: as containers; ENDPOINT=: LocalStack)
	$(BIN)/python -m devstack.demo $(if $(IMAGES),--images) $(if $(ENDPOINT),--endpoint $(ENDPOINT))

# The same stack, left running: moto on 127.0.0.1:$(MOTO_PORT) (or ENDPOINT), the Function URL on
# :$(PORT), each function's invoke endpoint from :$(INVOKE_PORT).
up: $(VENV)/.installed  ## the embedded stack, left running (MOTO_PORT or ENDPOINT, PORT, INVOKE_PORT)
	$(BIN)/python -m devstack.demo --stay-up --port $(PORT) --invoke-port $(INVOKE_PORT) \
		$(if $(ENDPOINT),--endpoint $(ENDPOINT),--moto-port $(MOTO_PORT))

# One invocation with an event file, as `sam local invoke -e`: the answer, then the REPORT line.
invoke: $(VENV)/.installed  ## invoke FUNCTION once with the EVENT file (ENDPOINT=: where its AWS calls go)
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || \
		{ echo "usage: make invoke FUNCTION=resize|ingest EVENT=tests/events/FILE.json [ENDPOINT=URL]"; exit 2; }
	$(BIN)/python -m devstack.invoke $(FUNCTION) $(EVENT) $(if $(ENDPOINT),--endpoint $(ENDPOINT))

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

# LocalStack 4.14 in host mode: Python 3.13 (python3.13 on PATH, pyenv, or LOCALSTACK_PYTHON),
# npm and a JDK 17. Reinstalled when its pins change.
$(LOCALSTACK_VENV)/.installed: devstack/localstack/requirements.txt devstack/localstack/NoopAgent.java | $(VENV)/.installed
	$(BIN)/python -m devstack.localstack install --venv $(LOCALSTACK_VENV)
	touch $@

localstack-install: $(LOCALSTACK_VENV)/.installed  ## install LocalStack for host mode into LOCALSTACK_VENV

# Started with the generated ready hook, left running on 127.0.0.1:$(LOCALSTACK_PORT).
localstack: $(LOCALSTACK_VENV)/.installed  ## LocalStack without Docker on LOCALSTACK_PORT, the ready hook run, left running
	$(BIN)/python -m devstack.localstack start --venv $(LOCALSTACK_VENV) --port $(LOCALSTACK_PORT)

# The localstack tier: the whole flow against a LocalStack it starts on a free port.
test-localstack: $(LOCALSTACK_VENV)/.installed  ## the LocalStack tier (pytest -m localstack)
	LOCALSTACK_VENV=$(abspath $(LOCALSTACK_VENV)) $(BIN)/pytest -m localstack

# MiniStack from PyPI (Python 3.10+: the interpreter of .venv, or MINISTACK_PYTHON), with the aws
# CLI its ready hook calls. Reinstalled when its pins change.
$(MINISTACK_VENV)/.installed: devstack/ministack/requirements.txt | $(VENV)/.installed
	$(BIN)/python -m devstack.ministack install --venv $(MINISTACK_VENV)
	touch $@

ministack-install: $(MINISTACK_VENV)/.installed  ## install MiniStack into MINISTACK_VENV

# Started, the generated ready hook run against it, left running on 127.0.0.1:$(MINISTACK_PORT).
ministack: $(MINISTACK_VENV)/.installed  ## MiniStack on MINISTACK_PORT, the ready hook run, left running
	$(BIN)/python -m devstack.ministack start --venv $(MINISTACK_VENV) --port $(MINISTACK_PORT)

# The ministack tier: the same flow tests against a MiniStack it starts on a free port.
test-ministack: $(MINISTACK_VENV)/.installed  ## the MiniStack tier (pytest -m ministack)
	MINISTACK_VENV=$(abspath $(MINISTACK_VENV)) $(BIN)/pytest -m ministack

# Lint, type check, then every test but the image tier (make image-check).
test: lint typecheck unit  ## lint, type check, then the tests (README's test command)

# The benchmarks need the peers (pyvips, simplejpeg) and matplotlib: the bench extra.
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# A run's JSON, charts and RESULTS.md go to BENCH_OUT (untracked); only `make bench-results`
# writes the committed bench/RESULTS.md and bench/results/*.
BENCH_OUT ?= bench/results/run
BENCH_PYTEST = $(BIN)/pytest --benchmark-only --benchmark-enable -p no:cacheprovider

# Core benchmarks: naive, Image.thumbnail, tuned and the peers to 200 px, and the renditions.
bench: $(VENV)/.bench-installed  ## core benchmarks: every method on every image (into BENCH_OUT)
	mkdir -p $(BENCH_OUT)
	$(BENCH_PYTEST) bench/ --benchmark-json=$(BENCH_OUT)/core.json

# Every input class at 200, 400, 800, 1024 and 1600 px: tuned, the floor, pyvips and sharp on one
# thread, Image.thumbnail at 200 px, interleaved; CPU-time ratios (BENCH_ROUNDS: rounds, 11).
bench-classes: $(VENV)/.bench-installed  ## every class at every rendition size, methods interleaved (into BENCH_OUT)
	mkdir -p $(BENCH_OUT)
	$(BIN)/python -m bench.classes --out $(BENCH_OUT)/classes.json $(if $(BENCH_ROUNDS),--rounds $(BENCH_ROUNDS))

# The images through the embedded stack at 128..1769 MB, cold and warm, under Lambda's CPU share
# and memory limit (cgroups; modelled where they cannot be written).
bench-e2e: $(VENV)/.bench-installed  ## every image end to end at 128..1769 MB, cold and warm (into BENCH_OUT)
	$(BIN)/python -m bench.e2e --out $(BENCH_OUT)/e2e.json

# Peak memory per input class (generated inputs, from the S3 download on) under a cgroup at the
# function's memory size; where cgroups cannot be written it says so and writes no memory.json,
# and the report says the memory was not measured.
bench-memory: $(VENV)/.bench-installed  ## peak memory per input class at 128 MB, under a cgroup (into BENCH_OUT)
	mkdir -p $(BENCH_OUT)
	rm -f $(BENCH_OUT)/memory.json
	$(BIN)/python -m bench.memory_classes --out $(BENCH_OUT)/memory.json

# Init and the first invocation of both images, cold, as Lambda counts them (podman; the images
# are built first). Where podman cannot run it says so, and the report says Init was not measured.
bench-init: $(VENV)/.bench-installed  ## cold starts of both images in podman: Init and the first invocation (into BENCH_OUT)
	mkdir -p $(BENCH_OUT)
	rm -f $(BENCH_OUT)/init.md
	$(BIN)/python -m infra.image_build resize ingest
	$(BIN)/python -m infra.runtime_cost --cold --repeat 7 --out $(BENCH_OUT)/init.md \
		--image localhost/thumbstat-resize:check-amd64 resize
	$(BIN)/python -m infra.runtime_cost --cold --repeat 7 --out $(BENCH_OUT)/init-ingest.md \
		--image localhost/thumbstat-ingest:check-amd64 ingest
	cat $(BENCH_OUT)/init-ingest.md >> $(BENCH_OUT)/init.md && rm $(BENCH_OUT)/init-ingest.md

# RESULTS.md and its charts from BENCH_OUT's JSON (BENCH_MARKDOWN: write the markdown elsewhere).
bench-report: $(VENV)/.bench-installed  ## RESULTS.md and charts from BENCH_OUT's JSON
	$(BIN)/python -m bench.report --results $(BENCH_OUT) $(if $(BENCH_MARKDOWN),--markdown $(BENCH_MARKDOWN))

# All of them into bench/results, then bench/RESULTS.md: what is committed (about 20 minutes on
# the 2-core build machine, plus what bench.memory_classes takes).
bench-results:  ## bench, bench-classes, bench-e2e, bench-memory, bench-init and the report: the committed bench/RESULTS.md
	$(MAKE) bench bench-classes bench-e2e BENCH_OUT=bench/results
	$(MAKE) bench-memory bench-init BENCH_OUT=bench/results
	$(MAKE) bench-report BENCH_OUT=bench/results BENCH_MARKDOWN=bench/RESULTS.md

# Deploy to the AWS account of your credentials (needs Docker with buildx). ARGS is passed on,
# e.g. make deploy ARGS="--param FunctionUrlAuthType=NONE" or ARGS=--dry-run.
deploy: $(VENV)/.installed  ## deploy to the AWS account of your credentials (ARGS passed on)
	$(BIN)/python -m infra.deploy deploy $(ARGS)

deploy-code: $(VENV)/.installed  ## push new images and point the functions at them
	$(BIN)/python -m infra.deploy deploy-code $(ARGS)

# Keeps the bucket and the tables; DELETE_DATA=1 deletes them too.
destroy: $(VENV)/.installed  ## delete the stack (DELETE_DATA=1: the bucket and tables too)
	$(BIN)/python -m infra.deploy destroy $(if $(DELETE_DATA),--delete-data) $(ARGS)

# SAM CLI's virtualenv (.ci/run installs it; minutes to rebuild) survives `make clean`.
SAM_VENV := .venv-sam
CLEAN_PATHS := $(VENV) $(LOCALSTACK_VENV) $(MINISTACK_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks

.PHONY: distclean
clean:  ## remove .venv, the emulators' venvs and the caches; keeps .venv-sam (make distclean removes it)
	rm -rf $(CLEAN_PATHS)

distclean:  ## make clean, and .venv-sam (SAM CLI, minutes to reinstall) too
	rm -rf $(CLEAN_PATHS) $(SAM_VENV)
