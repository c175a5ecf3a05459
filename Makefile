# Spendapp: `make run` runs the product, `make test` runs the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test venv venv-dev lint format check db-stop bench clean

run: $(VENV)/.installed
	$(PY) -m spendapp.launcher

test: $(VENV)/.installed-dev
	DEBUG=1 $(VENV)/bin/pytest

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.installed-dev
	DEBUG=1 $(PY) manage.py check
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Stop an embedded PostgreSQL left running by tests or one-off commands.
db-stop: $(VENV)/.installed
	$(PY) -c "from spendapp.embedded import stop_server; print('stopped' if stop_server() else 'not running')"

bench: $(VENV)/.installed-dev
	DEBUG=1 $(PY) -m benchmarks

clean: db-stop
	rm -rf var/broker var/mail var/static
