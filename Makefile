# The two commands a newcomer runs: `make demo` and `make test`. Each sets up what it needs:
# the demo only the Python environment; the tests, and `make build`, the rest too.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The AWS SAM CLI pins boto3/aws-sam-translator/cfn-lint ranges that clash with ours, so it
# lives in a virtualenv of its own, installed from its own hashed lock.
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
# checkov, the template's security scanner, likewise: its pins clash with ours too.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
# Wheels of the Lambda layer (python3.13/aarch64), fetched once so `make build` and the
# build test run offline.
WHEELHOUSE := build/layer-wheels
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.downloaded-stamp
NPM_STAMP := node_modules/.installed-stamp
# python3.13, the Lambda runtime's, which compiles the layer's bytecode (layers/Makefile):
# the machine's own python3.13 if it has one, else Debian 13's build, unpacked here, as
# layers/fetch_target_python.sh decides.
TARGET_PYTHON := build/python3.13/bin/python3.13
LAYER_PLATFORM := --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
	--implementation cp --python-version 3.13 --only-binary=:all:

.PHONY: setup python-env sam-cli checkov-cli wheelhouse target-python node-packages lint \
	typecheck checkov test unit lock sam-lock checkov-lock build clean schema demo bench

# Everything `make test` needs: the Python environment, the SAM CLI (the build test),
# checkov, the layer's wheelhouse (the build test, offline), python3.13 (the layer's
# bytecode) and Node.js packages (the ASL validator).
setup: python-env sam-cli checkov-cli wheelhouse target-python node-packages
python-env: $(STAMP)
sam-cli: $(SAM_STAMP)
checkov-cli: $(CHECKOV_STAMP)
wheelhouse: $(WHEELHOUSE_STAMP)
target-python: $(TARGET_PYTHON)
node-packages: $(NPM_STAMP)

# Idempotent: rebuilds the virtualenv only when the lock or the project metadata changed.
$(STAMP): requirements/dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Order-only on .venv (for uv): a newer pyproject.toml must not reinstall it from `make build`.
$(SAM_STAMP): requirements/sam.lock | $(STAMP)
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(BIN)/uv pip sync --quiet --python $(SAM_VENV)/bin/python --require-hashes requirements/sam.lock
	touch $@

$(CHECKOV_STAMP): requirements/checkov.lock | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/uv pip sync --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes requirements/checkov.lock
	touch $@

$(WHEELHOUSE_STAMP): layers/requirements.txt | $(STAMP)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check $(LAYER_PLATFORM) \
		--require-hashes --dest $(WHEELHOUSE) -r layers/requirements.txt
	touch $@

$(TARGET_PYTHON): layers/fetch_target_python.sh
	sh layers/fetch_target_python.sh build/python3.13

# asl-validator checks statemachine/deploy.asl.json in the tests.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/ecs_deployer layers/trim_botocore.py layers/compile_layer.py tools/ecs_deployer_tools functions tests benchmarks

# The template's security checks; .checkov.yaml says what is skipped and why. No look-up of
# a newer checkov: the lock decides the version.
checkov: $(CHECKOV_STAMP)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

test: setup lint typecheck checkov
	$(BIN)/pytest -n 2

# Regenerates both locks: the dev environment (Python 3.11, any platform) and the Lambda
# layer (python3.13 on arm64), the layer constrained to the dev versions so tests run
# exactly the library code that ships.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra tools --extra dev --universal \
		--python-version 3.11 --generate-hashes -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements/dev.lock --python-version 3.13 \
		--python-platform aarch64-manylinux_2_28 --generate-hashes --no-header \
		-o layers/requirements.txt

# sam build for python3.13/arm64 without Docker: every function and the layer use
# BuildMethod makefile (functions/Makefile, layers/Makefile); flags come from samconfig.toml.
# The layer installs from the wheelhouse, with hashes, without the index, and python3.13
# compiles its bytecode.
# SAM_BUILD_FLAGS adds sam build options, e.g. the build test's private --build-dir.
SAM_BUILD_FLAGS ?=
build: $(SAM_STAMP) $(WHEELHOUSE_STAMP) $(TARGET_PYTHON)
	SAM_CLI_TELEMETRY=0 PYTHON="$(CURDIR)/$(BIN)/python" WHEELHOUSE="$(CURDIR)/$(WHEELHOUSE)" \
		TARGET_PYTHON="$(CURDIR)/$(TARGET_PYTHON)" $(SAM_VENV)/bin/sam build $(SAM_BUILD_FLAGS)

# Regenerates the SAM CLI's lock from requirements/sam.in.
sam-lock: $(STAMP)
	$(BIN)/uv pip compile requirements/sam.in --universal --python-version 3.11 \
		--generate-hashes -o requirements/sam.lock

# Regenerates checkov's lock from requirements/checkov.in.
checkov-lock: $(STAMP)
	$(BIN)/uv pip compile requirements/checkov.in --universal --python-version 3.11 \
		--generate-hashes -o requirements/checkov.lock

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) build .aws-sam node_modules .mypy_cache .pytest_cache .ruff_cache

# Regenerates the JSON Schemas in schema/ from the models (a test checks they are current).
schema: $(STAMP)
	$(BIN)/python -m ecs_deployer_tools.schemas

# Redraws the state machine diagram in docs/state-machine.md and README.md (a test checks it).
diagram: $(STAMP)
	$(BIN)/python -m ecs_deployer_tools.diagram

# A whole deployment of the sample app on the local cloud (no AWS account needed).
demo: $(STAMP)
	$(BIN)/ecs-deployer local demo

# Figures, not assertions: the layer's size, cold-start imports, API calls and state
# transitions per deployment, the side by side with peers (simulated time), and the chart
# docs/benchmarks.png, and each tool's verdicts at S = 1, 10 and 50. About an hour on two
# shared cores, most of it ecs-deploy's polling. The same as `ecs-deployer local bench`.
bench: $(STAMP)
	$(BIN)/ecs-deployer local bench
