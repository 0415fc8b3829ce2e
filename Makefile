# Two commands for a newcomer: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint types install install-dev chromium migrate demo clean help prod-check

help:
	@echo "make run   install, migrate, load demo data, start web + worker + Dots emulator"
	@echo "make test  install everything, run lint and types, then the whole test suite"
	@echo "make lint  ruff: lint, import order and format check"
	@echo "make types mypy with django-stubs"
	@echo "make prod-check  gunicorn + worker with DEBUG=false on PostgreSQL and Redis: smoke test and bench/load.py --quick"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files make a second `make run` skip the install when nothing changed.
$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed

install-dev: $(VENV)/.dev-installed

.env:
	cp .env.example .env

migrate: install .env
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo_data
	$(PY) manage.py setup_schedules

run: demo
	@echo "Starting web (http://127.0.0.1:8000/admin/), worker and Dots emulator (http://127.0.0.1:8100/_emulator/). Ctrl-C stops all."
	$(VENV)/bin/honcho start -f Procfile

# Browser tests drive Debian's Chromium; Playwright never downloads a browser here.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "Installing Debian's chromium for the browser tests"; \
			(apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)) ; \
		else \
			echo "WARNING: /usr/bin/chromium is missing and this is not root: browser tests will be skipped"; \
		fi; \
	fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: install-dev
	$(VENV)/bin/mypy

test: lint types chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# As production runs it (gunicorn, a qcluster, DEBUG=false) against PostgreSQL and Redis on 127.0.0.1
# (as CI has them), in a throwaway database: smoke test, then the quick load test. Stops all it started.
prod-check: install-dev
	$(PY) bench/prod_check.py

clean:
	rm -rf $(VENV) var/*.sqlite3*
