# Two commands do all set-up on a fresh machine:
#   make serve   - the FHIR server on the embedded default (SQLite in ./data, no Redis), dev mode on loopback
#   make test    - the test suite (SQLite always; PostgreSQL too when FHIR_TEST_POSTGRES_URL or the local default answers)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint bench-rest

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/fhir-server serve --dev

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench-rest: $(BIN)/.installed
	$(BIN)/python bench/rest_load.py
