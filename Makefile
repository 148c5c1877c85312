# sekisho — the two front-door commands are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo demo-reset demo-stop lint typecheck unit e2e bench debs venv translations clean

# Two workers, each with its own daemons and ports (tests/conftest.py); a file's tests stay
# on one worker, so a module's Postfix stack starts once.
test: venv lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadfile

demo: venv
	$(BIN)/python scripts/demo.py start

demo-reset:
	$(BIN)/python scripts/demo.py reset

demo-stop:
	$(BIN)/python scripts/demo.py stop

debs:
	./scripts/install-debs.sh

venv: debs $(STAMP) translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d sekisho/webui/translations

lint: venv
	$(BIN)/ruff check sekisho tests bench scripts
	$(BIN)/ruff format --check sekisho tests bench scripts

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

e2e: venv
	$(BIN)/pytest -q tests/e2e

bench: venv
	$(BIN)/python bench/milter_throughput.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
