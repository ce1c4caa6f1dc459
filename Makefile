# Ledgerline developer commands. Everything runs from a local virtualenv in .venv/.
#   make run    local server on embedded defaults (SQLite under var/, in-process cache);
#               PORT=8001 make run (or make run PORT=8001) serves on another port
#   make test   the test suite; DATABASE_URL / REDIS_URL switch it to PostgreSQL / Redis; the
#               browser suite (tests/e2e) runs when `chromium` is installed, else is skipped
#   make lint   ruff
#   make check  fail if a model change has no migration
#   make clean  remove .venv/ and var/

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
PYTEST_ARGS ?=
PORT ?= 8000

.PHONY: run test lint check clean

$(PY):
	python3 -m venv $(VENV)

# Stamp files: reinstall only when a requirements file is newer than the last install.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) -r requirements-dev.txt
	touch $@ $(VENV)/.installed

run: export DEBUG := true
run: $(VENV)/.installed
	$(PY) manage.py migrate
	@# The demo goes only into an empty database: a restart keeps what staff changed.
	$(PY) manage.py loaddata demo --if-empty
	$(PY) manage.py demo_access --port $(PORT)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# pytest exit code 5 means "no tests collected": that is a failure, and says so.
test: $(VENV)/.installed-dev
	@echo "$(PY) -m pytest $(PYTEST_ARGS)"
	@$(PY) -m pytest $(PYTEST_ARGS) || { rc=$$?; \
	  [ $$rc -ne 5 ] || echo "make test: pytest collected no tests (exit 5); treating that as a failure." >&2; \
	  exit $$rc; }

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

check: export DEBUG := true
check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
