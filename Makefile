# Two commands do all the set-up: `make run` (the bot) and `make test` (the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench walkthrough clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/certops run

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmarks' figures, written to docs/performance.md (a few minutes; needs PostgreSQL
# on 127.0.0.1:5432 for its figures, and the sqlite3 and openssl command lines for the
# peers measured beside certops, each skipped with the reason otherwise).
bench: $(STAMP)
	$(BIN)/python bench/report.py

# The README's walk-through typed into a real console (lab DNS, data in a scratch
# directory): the transcript the README shows comes from this output.
walkthrough: $(STAMP)
	$(BIN)/python -m tests.support.walkthrough

clean:
	rm -rf $(VENV)
