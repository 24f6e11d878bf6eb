# One command per job. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.DEFAULT_GOAL := help
.PHONY: fuzz bench-core bench-state
.PHONY: help demo test test-slow check lint typecheck imports unit integration fmt validate worker crash-test bench bench-identity bench-simulate report clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	@touch $@

demo: $(VENV)/.installed ## quick start: embedded Kafka + Redis + a worker, feed examples/events.jsonl, print actions
	$(BIN)/orchestrator demo

validate: $(VENV)/.installed ## check journeys/, the product catalog and templates
	$(BIN)/orchestrator validate

worker: $(VENV)/.installed ## run a worker against KAFKA_BOOTSTRAP_SERVERS and REDIS_URL
	$(BIN)/orchestrator worker

test: check ## install dev dependencies, then lint, type-check, import contracts and the whole test suite

check: lint typecheck imports unit

lint: $(VENV)/.installed-dev ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(VENV)/.installed-dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed-dev ## mypy --strict on the package
	$(BIN)/mypy

imports: $(VENV)/.installed-dev ## the architecture contracts (pure core, layers)
	$(BIN)/lint-imports

unit: $(VENV)/.installed-dev ## pytest: unit, config, contract and integration tests (not the slow suites)
	$(BIN)/pytest -m "not slow"

test-slow: $(VENV)/.installed-dev ## the slow suites: Redis Cluster, TLS, browser, many workers (needs .ci/system-packages)
	$(BIN)/pytest -m slow; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

integration: $(VENV)/.installed-dev ## only the tests against real Kafka and Redis
	$(BIN)/pytest -m integration

fuzz: $(VENV)/.installed-dev ## hostile events (hypothesis) against a live worker on the embedded broker and Redis (~2 min; FUZZ_ARGS=--rounds 100)
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

crash-test: $(VENV)/.installed-dev ## SIGKILL a worker at random moments over a 20k-event stream; check nothing is lost
	$(BIN)/python -m bench.crash_test

bench: $(VENV)/.installed-dev ## engine vs aiokafka and bare faust in interleaved rounds, latency, Redis, scheduled journey, then OneID's (~14 min; BENCH_ARGS=--quick: ~3)
	$(BIN)/python -m bench.bench $(BENCH_ARGS)
	$(BIN)/python -m bench.identity_bench

bench-identity: $(VENV)/.installed-dev ## OneID: Redis bytes per identifier, identify-stage events/s with and without the graph
	$(BIN)/python -m bench.identity_bench

bench-core: $(VENV)/.installed-dev ## the pure core: CPU µs per input (fresh and mature customers), state (de)serialisation µs and bytes (~30 s)
	$(BIN)/python -m bench.core_speed $(CORE_ARGS)

bench-state: $(VENV)/.installed-dev ## a stored state's bytes and write/read CPU µs: plain JSON beside packed (zstd), fresh and mature (~40 s)
	$(BIN)/python -m bench.state_bytes $(STATE_ARGS)

bench-simulate: $(VENV)/.installed-dev ## simulate over CDNOW's history to 1997-09-30 (49k orders, 23,570 customers), shipped journeys: seconds, peak RSS
	$(PIP) install --quiet --no-deps lifetimes==0.11.3
	$(BIN)/python -m bench.simulate.cdnow $(SIMULATE_ARGS)

report: $(VENV)/.installed-dev ## chat intents on real review sentences (bench/intents); purchase predictions on CDNOW (bench/predictive)
	$(BIN)/python -m bench.intents.report
	$(PIP) install --quiet --no-deps lifetimes==0.11.3
	$(BIN)/python -m bench.predictive.report

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
