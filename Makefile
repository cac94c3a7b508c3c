# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
LOCKED := $(VENV)/.locked
STAMP := $(VENV)/.installed
# `make lock`'s own environment: uv (which resolves) and packaging (tools/lockfile.py).
LOCKENV := .venv-lock
UV_VERSION := 0.13.10
PACKAGING_VERSION := 26.4

.PHONY: run test lint typecheck bench bench-spread serve notify lock clean

# Exactly the lock (tools/lockfile.py): every file checked against its hash, wheels only (no
# build runs, so nothing unhashed is fetched), pip itself included. A changed lock makes the
# environment anew, so that no package the lock has dropped stays behind.
$(LOCKED): $(LOCK)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	touch $(LOCKED)

# Our own package, editable, built by the locked hatchling without build isolation; refused
# while the lock disagrees with pyproject.toml (the message says to run `make lock`).
$(STAMP): $(LOCKED) pyproject.toml
	$(BIN)/python tools/lockfile.py check
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	# An editable install leaves our own modules uncompiled, and with PYTHONDONTWRITEBYTECODE
	# set every command would compile them again (0.07 s a start): compile once, as pip does
	# for installed packages. A stale .pyc is ignored by Python, so this never serves old code.
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

## Publish every dataset to the embedded default store ./public and say where to look.
run: $(STAMP)
	$(BIN)/opendata publish --offline

## Lint, type-check and run the whole test suite, one worker per core (at most four: each
## worker starts its own S3 and Prefect servers).
test: $(STAMP) lint typecheck
	$(BIN)/pytest -q -n auto --maxprocesses 4 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.cli
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.publish_10m
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.parallel
	$(BIN)/python -m bench.guards

## One spread run of 1,000 datasets over three workers with Prefect's server on SQLite, then on
## PostgreSQL (Debian's postgresql), side by side: tens of minutes, so not part of `make bench`.
##   BENCH_SPREAD_DATASETS=200 make bench-spread   for fewer
bench-spread: $(STAMP)
	$(BIN)/python -m bench.spread

serve: $(STAMP)
	$(BIN)/opendata serve

## Create or update the failure notification on the Prefect server PREFECT_API_URL points at:
##   make notify OPENDATA_NOTIFY_WEBHOOK=https://hooks.example.org/...
## (automations/notify-on-failure.yaml; the URL is kept in Prefect, never printed).
notify: $(STAMP)
	$(BIN)/python -m flows.notify

## Re-resolve requirements.lock from pyproject.toml with uv, keeping every pin it still allows;
##   make lock UPGRADE=NAME   moves package NAME (several: UPGRADE="NAME1 NAME2") to its newest
## release that fits, and what it needs with it (README, "Dependencies: requirements.lock").
lock: $(LOCKENV)/.installed
	$(LOCKENV)/bin/python tools/lockfile.py lock --uv $(LOCKENV)/bin/uv \
		$(foreach name,$(UPGRADE),--upgrade-package $(name))

$(LOCKENV)/.installed:
	$(PYTHON) -m venv $(LOCKENV)
	$(LOCKENV)/bin/pip install --quiet uv==$(UV_VERSION) packaging==$(PACKAGING_VERSION)
	touch $@

clean:
	rm -rf $(VENV) $(LOCKENV) public
