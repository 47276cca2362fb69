# spsync developer commands. `make test` is the whole gate CI runs (see .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
ADDR ?= 127.0.0.1:8787
SCENARIO ?=
# Where Amazon's models and sandbox vectors live for the contract suite (optional).
SPSYNC_SPAPI_DATA ?= $(abspath ../shared/spapi-data)
export SPSYNC_SPAPI_DATA

NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: test
test: ## every test of the workspace (unit, simulator, client, contract suite)
	@if [ -d "$(SPSYNC_SPAPI_DATA)/models" ]; then \
	  echo "contract suite: Amazon's models and sandbox vectors from $(SPSYNC_SPAPI_DATA)"; \
	else \
	  echo "contract suite: NOT RUN - Amazon's models not found at $(SPSYNC_SPAPI_DATA) (set SPSYNC_SPAPI_DATA); its tests pass without checking"; \
	fi
ifeq ($(NEXTEST),yes)
	$(CARGO) test --workspace --doc
	$(CARGO) nextest run --workspace --no-fail-fast
else
	$(CARGO) test --workspace --no-fail-fast
endif

.PHONY: lint
lint: deps-check ## rustfmt check + clippy with warnings as errors + dependency rules
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The simulator speaks SP-API from Amazon's models only: it must never depend on a spsync
# crate (a mistake shared by client and simulator would then pass both sides); the domain
# crate stays free of IO and async.
.PHONY: deps-check
deps-check: ## dependency rules of the house style, checked on the resolved graph
	@bad=$$($(CARGO) tree -p spsync-sim -e normal --prefix none | grep -E '^spsync-' | grep -v '^spsync-sim ' || true); \
	if [ -n "$$bad" ]; then echo "spsync-sim must not depend on: $$bad"; exit 1; fi
	@bad=$$($(CARGO) tree -p spsync-domain -e normal --prefix none | grep -E '^(tokio|reqwest|axum|hyper|aws-) ' || true); \
	if [ -n "$$bad" ]; then echo "spsync-domain must stay free of IO crates: $$bad"; exit 1; fi
	@echo "dependency rules hold"

.PHONY: check
check: lint test ## the PR gate: lint + test

.PHONY: bench
bench: ## simulator load check (prints requests/s on loopback)
	$(CARGO) bench -p spsync-tests --bench sim_load

.PHONY: sim
sim: ## run the SP-API simulator on $(ADDR) (SCENARIO=file.json for your own world)
	$(CARGO) run -p spsync-sim --release -- --addr $(ADDR) $(if $(SCENARIO),--scenario $(SCENARIO),)

.PHONY: demo
demo: ## end-to-end demo: simulator + SP-API client, report and feed flows
	$(CARGO) run -p spsync-tests --example demo

.PHONY: fmt
fmt: ## format the workspace
	$(CARGO) fmt --all
