# Spendapp: `make run` runs the product, `make test` runs the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test venv venv-dev lint format check lock db-stop bench clean openapi

run: $(VENV)/.installed
	$(PY) -m spendapp.launcher

test: $(VENV)/.installed-dev
	DEBUG=1 $(VENV)/bin/pytest

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
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

# The production dependency set (pyproject's [project] dependencies, no extras), pinned with
# hashes for Linux x86_64 and Python 3.11 like the image. Run after changing dependencies;
# the Dockerfile and the production smoke test install exactly this file.
lock: $(VENV)/.installed-dev
	$(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes --no-header \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command "make lock" -o requirements/production.lock

# The API's OpenAPI document, committed so that changes show in review (a test compares).
openapi: $(VENV)/.installed-dev
	DEBUG=1 $(PY) manage.py openapi_schema > docs/api/openapi.json

# Stop an embedded PostgreSQL left running by tests or one-off commands.
db-stop: $(VENV)/.installed
	$(PY) -c "from spendapp.embedded import stop_server; print('stopped' if stop_server() else 'not running')"

bench: $(VENV)/.installed-dev
	DEBUG=1 $(PY) -m benchmarks

clean: db-stop
	rm -rf var/broker var/mail var/static
