# The two commands a newcomer runs: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup lint typecheck test unit lock clean

setup: $(STAMP)

# Idempotent: rebuilds the virtualenv only when the lock or the project metadata changed.
$(STAMP): requirements/dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy layers/ecs_deployer tools/ecs_deployer_tools functions tests

test: setup lint typecheck
	$(BIN)/pytest

# Regenerates both locks: the dev environment (Python 3.11, any platform) and the Lambda
# layer (python3.13 on arm64), the layer constrained to the dev versions so tests run
# exactly the library code that ships.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra tools --extra dev --universal \
		--python-version 3.11 --generate-hashes -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements/dev.lock --python-version 3.13 \
		--python-platform aarch64-manylinux_2_28 --generate-hashes --no-header \
		-o layers/requirements.txt

clean:
	rm -rf $(VENV) .aws-sam node_modules .mypy_cache .pytest_cache .ruff_cache
