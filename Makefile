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

# Python tools the project installs itself (pinned in infra/requirements*.txt):
# .venv: moto[server], cfn-lint, aws-sam-translator, aws-sam-cli; .venv-lambda: cargo-lambda.
PYTHON ?= python3
VENV := .venv
VENV_LAMBDA := .venv-lambda
# The AWS adapter tests start their own moto on a free port with this binary.
SPSYNC_MOTO_SERVER ?= $(abspath $(VENV)/bin/moto_server)
export SPSYNC_MOTO_SERVER
MOTO_PORT ?= 4566
# sam validate runs the SAM translator locally; it only needs some credentials and a region.
SAM_OFFLINE := AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
# Deployment environment, a section of infra/samconfig.toml. Only a command-line ENV counts:
# the shell's own ENV variable (a startup-file path in POSIX shells) must not pick the stack.
SAM_ENV := $(if $(filter command line,$(origin ENV)),$(ENV),dev)
SAM_CONFIG := --config-file $(abspath infra/samconfig.toml) --config-env $(SAM_ENV)
# The Lambda functions (crate = binary = SAM BuildProperties Binary).
FUNCTIONS := start-report poll-report import-report enrich-orders shipments-api send-tracking

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: test
test: venv validate ## every test: template validation, unit, simulator, client, AWS adapters on moto, contract suite
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
	@deps() { $(CARGO) tree -p "$$1" -e normal --prefix none || { echo "cargo tree -p $$1 failed" >&2; exit 1; }; }; \
	forbid() { crate="$$1"; pattern="$$2"; why="$$3"; tree=$$(deps "$$crate") || exit 1; \
	  bad=$$(printf '%s\n' "$$tree" | grep -E "$$pattern" | grep -v "^$$crate " | sort -u || true); \
	  if [ -n "$$bad" ]; then echo "$$crate $$why: $$bad"; exit 1; fi; }; \
	forbid spsync-sim '^spsync-' 'must not depend on a spsync crate' && \
	forbid spsync-domain '^(tokio|reqwest|axum|hyper|aws-)' 'must stay free of IO crates' && \
	forbid spsync-workflow '^(reqwest|axum|hyper|aws-|lambda_runtime) ' 'must not depend on AWS, HTTP or Lambda crates' && \
	for fn in $(FUNCTIONS); do \
	  forbid $$fn '^spsync-(testkit|sim|local-runner) ' 'must not depend on test or local tools' || exit 1; \
	done
	@echo "dependency rules hold"

.PHONY: check
check: lint test ## the PR gate: lint + test

.PHONY: bench
bench: ## simulator load, order report parse (rows/s, peak memory), tracking out (recording -> confirmed p95, SP-API calls per shipment)
	$(CARGO) bench -p spsync-tests --bench sim_load
	$(CARGO) bench -p spsync-tests --bench order_report_parse
	$(CARGO) bench -p spsync-tests --bench tracking_out

.PHONY: sim
sim: ## run the SP-API simulator on $(ADDR) (SCENARIO=file.json for your own world)
	$(CARGO) run -p spsync-sim --release -- --addr $(ADDR) $(if $(SCENARIO),--scenario $(SCENARIO),)

.PHONY: demo
demo: venv ## the order import pipeline on a local stack (moto, from template.yaml) against the simulator: 8 simulated hours, summary
	$(CARGO) run -p spsync-local-runner --bin local-run -- --hours 8

.PHONY: dev
.PHONY: demo-client
demo-client: ## the SP-API client alone against the simulator: report, orders, feeds, a 429 storm
	$(CARGO) run -p spsync-tests --example demo

dev: venv ## local-run on SCENARIO (file.json; default two sellers) for HOURS (default 8), printing the transcript
	$(CARGO) run -p spsync-local-runner --bin local-run -- --hours $(or $(HOURS),8) $(if $(SCENARIO),--scenario $(SCENARIO),)

# ---- Python tools -------------------------------------------------------------------------
# Stamp-based: a venv is rebuilt from scratch only when its requirements or scripts/venv.sh
# change (the stamp is the venv's own `pip freeze`, written last).

.PHONY: venv
venv: $(VENV)/.installed ## install moto, cfn-lint, SAM translator and SAM CLI (pinned) into .venv

$(VENV)/.installed: infra/requirements.txt infra/requirements.lock.txt scripts/venv.sh
	PYTHON=$(PYTHON) scripts/venv.sh install $(VENV) infra/requirements.txt infra/requirements.lock.txt

.PHONY: venv-lambda
venv-lambda: $(VENV_LAMBDA)/.installed ## install cargo-lambda + zig (pinned) into .venv-lambda (packaging only)

$(VENV_LAMBDA)/.installed: infra/requirements-lambda.txt scripts/venv.sh
	PYTHON=$(PYTHON) scripts/venv.sh install $(VENV_LAMBDA) infra/requirements-lambda.txt

.PHONY: venv-lock
venv-lock: ## re-resolve infra/requirements.txt into infra/requirements.lock.txt (after changing a pin)
	PYTHON=$(PYTHON) scripts/venv.sh lock infra/requirements.txt infra/requirements.lock.txt

# ---- Template ---------------------------------------------------------------------------------

.PHONY: validate
validate: venv ## template.yaml: sam validate (offline) + cfn-lint with the SAM translator
	$(SAM_OFFLINE) $(VENV)/bin/sam validate --template-file template.yaml --region us-east-1
	$(VENV)/bin/cfn-lint template.yaml
	@echo "template.yaml: sam validate and cfn-lint passed"

# ---- Local AWS (moto) ---------------------------------------------------------------------------

.PHONY: moto-up
moto-up: venv ## start moto_server on 127.0.0.1:$(MOTO_PORT) in the background (pid in .run/)
	MOTO_SERVER=$(VENV)/bin/moto_server scripts/moto.sh up $(MOTO_PORT)

.PHONY: moto-down
moto-down: ## stop the moto_server started by moto-up
	scripts/moto.sh down $(MOTO_PORT)

# ---- Packaging and deployment -----------------------------------------------------------------

.PHONY: package
package: venv-lambda ## Lambda zips with cargo-lambda: dist/x86_64/<fn>.zip, dist/arm64/<fn>.zip when possible
	PATH="$(abspath $(VENV_LAMBDA))/bin:$$PATH" scripts/package.sh $(FUNCTIONS)

.PHONY: build
build: venv venv-lambda ## sam build (cargo-lambda, arm64) into .aws-sam/ (ENV=dev|prod)
	PATH="$(abspath $(VENV_LAMBDA))/bin:$$PATH" SAM_CLI_TELEMETRY=0 \
	  $(VENV)/bin/sam build --template-file template.yaml $(SAM_CONFIG)

.PHONY: deploy
deploy: build ## sam deploy with infra/samconfig.toml (ENV=dev|prod; needs AWS credentials)
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam deploy $(SAM_CONFIG)

.PHONY: fmt
fmt: ## format the workspace
	$(CARGO) fmt --all
