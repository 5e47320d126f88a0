# One command to set up and run the demo, one to run the tests (see README.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
PYTEST_ARGS ?=

.PHONY: install demo test test-slow lint bench image-check clean

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q uv

## install: bytecode compiled up front (site-packages by uv, our sources by compileall), so a
## machine that sets PYTHONDONTWRITEBYTECODE does not recompile everything on every command
install: $(UV)
	VIRTUAL_ENV=$(VENV) UV_COMPILE_BYTECODE=1 $(UV) pip install -q -e ".[dev]"
	$(BIN)/python -m compileall -q -j 0 \
	  $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
	$(BIN)/python -m compileall -q -j 0 -x '/(\.venv|build|var)/' .

## demo: install (with the bundled CPU LLM), generate + load the demo MSP, train the models,
## index the knowledge base, show the digest, then serve the API + chat widget on :8000
demo: install
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q -e ".[local-llm]"
	$(BIN)/mspilot demo run --serve --port $(or $(PORT),8000)

## test: install test dependencies and run the default (not slow) test suite
test: install
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -m slow -q $(PYTEST_ARGS)

lint: install
	mkdir -p build/typecheck && ln -sfn ../.. build/typecheck/mspilot
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p mspilot
	$(BIN)/lint-imports
	$(BIN)/hadolint --config .hadolint.yaml Dockerfile

bench: install
	$(BIN)/python -m mspilot.bench.loader_bench

## image-check: build the container image here (debootstrap base, local dockerd) and smoke-test
## the containerised stack: health, a chat answer over SSE, a digest (slow; needs root)
image-check: install
	bash deploy/image-check.sh

clean:
	rm -rf $(VENV) build var .pytest_cache .mypy_cache .ruff_cache
