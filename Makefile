# The two commands a newcomer runs: `make demo` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Two pytest-xdist workers, one test module (and all the system tests) per unit of work: tests/conftest.py.
WORKERS := -n 2 --dist loadgroup --no-loadscope-reorder

.PHONY: demo try test test-fast lint docs schema airflow bench bench-district venv lock clean compose-env

demo: $(INSTALLED)  ## Run every vendor DAG (a dry run, then its first delivery) against the emulator and local servers
	$(PY) -m aeries_sandbox.demo

try: $(INSTALLED)  ## Run one mapping file (MAPPING=path, a draft anywhere) on the emulator and local servers; print its files' first rows and its report
	$(if $(MAPPING),,$(error give the mapping file: make try MAPPING=include/mappings/xello.yml))
	$(VENV)/bin/aeries-hub try $(MAPPING) $(if $(STUDENTS),--students $(STUDENTS))

test: $(INSTALLED)  ## The whole test suite, on two workers (tests/conftest.py says how it is split)
	$(PY) -m pytest $(WORKERS)

test-fast: $(INSTALLED)  ## The inner loop: every test but the dag.test() runs (e2e) and the system tests, under 2 minutes
	$(PY) -m pytest $(WORKERS) -m "not e2e and not system"

lint: $(INSTALLED)  ## ruff (pyflakes, pycodestyle, import order, bugbear) and mypy; .ci/run runs it before `make test`
	$(PY) -m ruff check .
	$(PY) -m mypy

docs: $(INSTALLED)  ## plugins/aeries_hub/schemas/mapping.schema.json, checks.schema.json and writeback.schema.json from their pydantic models; docs/mapping-reference.md and docs/writeback-reference.md
	$(PY) -m aeries_hub.mapping.reference

schema: docs  ## The same as make docs

airflow: $(INSTALLED)  ## airflow standalone (UI on http://localhost:8080) with the demo servers and connections
	$(PY) -m aeries_sandbox.demo --standalone

bench: $(INSTALLED)  ## Extraction rate against the emulator, and the emulator's own limit
	$(PY) bench/extract_rate.py --students 20000

bench-district: $(INSTALLED)  ## The STEMscopes DAG end to end on 500,000 students: full, 0% and 1% runs (10-17 minutes, 9 GB of memory)
	$(PY) bench/district_scale.py --students 500000

compose-env:  ## First step of `docker compose up`: a .env (mode 0600) with generated secrets; never overwrites one
	$(PYTHON) docker/compose_secrets.py generate --env-file .env

venv: $(INSTALLED)

# The project (aeries_hub, from plugins/) and the sandbox (sandbox/: the emulator, the local servers, the demo) are
# installed editable, so that what Airflow, the tests and the demo import is the working copy itself.
$(INSTALLED): requirements.txt requirements-test.txt constraints.txt pyproject.toml sandbox/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -e . -e sandbox
	touch $@

lock: $(INSTALLED)  ## Re-lock constraints.txt after changing a pin
	{ echo "# Full lock of requirements.txt + requirements-test.txt for Python 3.11 (pip freeze)."; \
	  echo "# Regenerate: make lock"; $(PY) -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .airflow .demo .try .pytest_cache .ruff_cache .mypy_cache
