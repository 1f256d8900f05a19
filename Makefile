# Two commands for a new user: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup system-deps index run test test-unit lint bench bench-quick eval reliability reliability-report clean

setup: $(STAMP) system-deps

# Python deps. torch comes first from pip, pinned to the local CPU wheel, so
# nothing later can pull a multi-GB CUDA build. pip caches the llama-cpp-python
# wheel it compiles, so only the first setup on a machine pays for the build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages: Chromium (browser tests), WordNet (the judge's antonyms) and PostgreSQL (the
# shared-database and deployment tests start their own server); skipped when present. Debian keeps
# the PostgreSQL server binaries out of PATH, in /usr/lib/postgresql/<version>/bin.
system-deps:
	@(command -v chromium && test -f /usr/share/wordnet/data.verb \
	  && (command -v initdb || ls /usr/lib/postgresql/*/bin/initdb)) >/dev/null 2>&1 || sh scripts/install-system-deps.sh

index: setup
	$(BIN)/assistant ingest seeds/

run: index
	$(BIN)/assistant serve --host 127.0.0.1 --port 7860

test: setup
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit -q

lint: setup
	$(BIN)/ruff check assistant tests
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/run.py
	$(BIN)/python bench/collections_latency.py
	$(BIN)/python bench/ray_scaling.py
	$(BIN)/python bench/embeddings_server.py

bench-quick: setup
	$(BIN)/python bench/run.py --quick

eval: setup
	$(BIN)/assistant eval

# Faults, load, bad input and security (tests/reliability), then docs/reliability.md.
# pip-audit is run from its own environment when present (pip install pip-audit).
reliability: setup
	$(BIN)/python -m pytest tests/reliability -q
	$(MAKE) reliability-report

reliability-report:
	-$(BIN)/python -m tests.reliability.audit $$(command -v pip-audit || true)
	$(BIN)/python -m tests.reliability.report

clean:
	rm -rf $(VENV) indexes/chroma indexes/lexical indexes/documents indexes/manifest.json
