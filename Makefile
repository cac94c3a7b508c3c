# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench serve notify clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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

serve: $(STAMP)
	$(BIN)/opendata serve

## Create or update the failure notification on the Prefect server PREFECT_API_URL points at:
##   make notify OPENDATA_NOTIFY_WEBHOOK=https://hooks.example.org/...
## (automations/notify-on-failure.yaml; the URL is kept in Prefect, never printed).
notify: $(STAMP)
	$(BIN)/python -m flows.notify

clean:
	rm -rf $(VENV) public
