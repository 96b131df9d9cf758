# The README's commands. Each creates .venv when it is missing and installs what it needs:
# `make demo` only the runtime dependencies, `make test`, `make test-fast` and `make lint`
# the dev extra too. Installs use uv when it can be installed into the venv (several times
# faster than pip), and fall back to pip when it cannot. uv compiles the bytecode at install
# (pip does by default): where Python may not write it (PYTHONDONTWRITEBYTECODE), every
# command would otherwise compile its imports again, about 10 CPU s per batch run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# In a variable: a comma written inside $(call ...) would split its argument in two.
DEV_REQUIREMENT := -e '.[dev,spark]'

.PHONY: demo test test-fast lint install install-dev clean

# $(call install,REQUIREMENT): uv when it is there or can be had, pip otherwise (or when uv fails).
define install
	@if { test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv; } \
		&& $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode $(1); then \
		echo "installed $(1) with uv"; \
	else \
		echo "uv unavailable or failed: installing $(1) with pip"; \
		$(BIN)/python -m pip install --quiet $(1); \
	fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(call install,-e .)
	touch $@

# The dev extra includes the runtime dependencies, so it satisfies `make demo` as well; the
# spark extra comes with it so the Spark engine's tests run in CI.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(call install,$(DEV_REQUIREMENT))
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/customer-health demo

# One test process per core (pytest-xdist): the slow tests mostly wait on servers, browsers,
# Spark and subprocesses. A module's tests stay in one process, so its fixtures are built once.
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadfile

test: $(DEV_STAMP)
	$(PYTEST)

# Everything but the tests marked slow (real server, notebooks, demo flow, browser, training).
test-fast: $(DEV_STAMP)
	$(PYTEST) -m "not slow"

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) demo mlflow.db mlartifacts
