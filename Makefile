# Baton: the two commands are `make run` and `make test`. `make help` lists the rest.
# Every tool is pinned: Go tools and buf in tools/go.mod, protoc-gen-es in
# tools/package.json (+ lock), Python generators in tools/requirements.txt,
# client test dependencies in clients/*/ (locks and hashed requirements).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO      ?= go
PYTHON  ?= python3
TMP     := .tmp
BIN     := $(TMP)/bin
VENV    := $(TMP)/venv
# Tools on PATH for buf generate (local plugins only, no remote plugins).
TOOLPATH := $(abspath $(BIN)):$(abspath tools/node_modules/.bin):$(abspath $(VENV)/bin):$(PATH)
BUF      := $(BIN)/buf

# `make run` settings. The admin key is a development key so the README's
# curl lines work as pasted; never use it outside your machine.
RUN_ADDR      ?= 127.0.0.1:8080
RUN_DATA_DIR  ?= .baton
DEV_ADMIN_KEY ?= baton-dev-admin-key

# buf breaking compares with the last version of the contract that landed
# (the commit CI passed at the previous stop): that is what clients may have
# been built against. "The newest commit older than four hours", used
# before, could pick an intermediate commit of a merged branch that never
# landed and fail on a change no client ever saw. Move this forward to the
# landed commit at the start of each round of work.
BREAKING_AGAINST ?= 63e5bb1b1dce3ebdb9835c0fb2a80cf730db1e3f

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

# ---------------------------------------------------------------- tools

$(BIN)/.stamp: tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	GOWORK=off $(GO) build -modfile=tools/go.mod -o $(BIN)/ \
		github.com/bufbuild/buf/cmd/buf github.com/fullstorydev/grpcurl/cmd/grpcurl \
		github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	@touch $@

# The code generators, from tools/gen/go.mod at tagged versions (a module of
# their own: see its comment), and Baton's OpenAPI generator.
$(BIN)/.genstamp: tools/gen/go.mod tools/gen/go.sum $(wildcard tools/gen/protoc-gen-baton-openapi/*)
	@mkdir -p $(BIN)
	cd tools/gen && GOWORK=off $(GO) build -o $(abspath $(BIN))/ \
		google.golang.org/protobuf/cmd/protoc-gen-go connectrpc.com/connect/cmd/protoc-gen-connect-go ./protoc-gen-baton-openapi
	@touch $@

tools/node_modules/.stamp: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.stamp: tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

# playwright-core for the cross-site browser tests; it drives Debian's
# Chromium and downloads no browser.
tools/browser/node_modules/.stamp: tools/browser/package.json tools/browser/package-lock.json
	cd tools/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clients/ts-smoke/node_modules/.stamp: clients/ts-smoke/package.json clients/ts-smoke/package-lock.json
	cd clients/ts-smoke && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

console/node_modules/.stamp: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clients/python-smoke/.venv/.stamp: clients/python-smoke/requirements.txt
	$(PYTHON) -m venv clients/python-smoke/.venv
	clients/python-smoke/.venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r clients/python-smoke/requirements.txt
	@touch $@

.PHONY: tools
tools: $(BIN)/.stamp $(BIN)/.genstamp tools/node_modules/.stamp $(VENV)/.stamp ## Install the pinned code generation tools into .tmp and tools/node_modules

# ---------------------------------------------------------------- code

.PHONY: generate
generate: tools ## Regenerate gen/ (Go, TypeScript, Python) from proto/
	rm -rf gen/go/baton gen/ts gen/python gen/openapi
	PATH=$(TOOLPATH) $(BUF) generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when gen/ is stale
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is stale: run 'make generate' and commit the result"; git status --porcelain -- gen; exit 1; fi

# A real validator (openapi-spec-validator, pinned in tools/requirements.txt)
# on the generated description; Go tests check that it is what /openapi.json
# serves and that it names every path the README's curl lines call.
.PHONY: openapi
openapi: $(VENV)/.stamp ## Validate gen/openapi/openapi.json (OpenAPI 3.1, generated from the protos)
	$(VENV)/bin/openapi-spec-validator gen/openapi/openapi.json

.PHONY: console
console: console/node_modules/.stamp ## Type-check and build the web console (console/ -> server/internal/console/assets, embedded in the binary)
	cd console && node ../clients/ts/scripts/copy-gen.mjs >/dev/null && node_modules/.bin/tsc -p tsconfig.json
	cd console && node build.mjs

.PHONY: checkconsole
checkconsole: console ## Fail when the committed console assets are not what console/ builds (reproducible build)
	@if [ -n "$$(git status --porcelain -- server/internal/console/assets)" ]; then \
		echo "server/internal/console/assets is stale: run 'make console' and commit the result"; \
		git status --porcelain -- server/internal/console/assets; exit 1; fi

GOLANGCI_LINT := $(BIN)/golangci-lint

# golangci-lint (.golangci.yml: the import rules of ARCHITECTURE.md, errcheck,
# errorlint, forbidigo, govet, staticcheck...) on both Go modules, then a
# self-test proving the import rules still reject a forbidden import.
.PHONY: lint
lint: $(BIN)/.stamp ## buf lint and format, gofmt, golangci-lint (import rules, go vet, staticcheck...) and its self-test
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@out=$$(gofmt -l server clients/go 2>/dev/null || true); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GOLANGCI_LINT) run ./...
	cd clients/go && $(abspath $(GOLANGCI_LINT)) run --config $(abspath .golangci.yml) ./...
	tools/lint-selftest.sh $(GOLANGCI_LINT)

.PHONY: breaking
breaking: $(BIN)/.stamp ## buf breaking against the last landed version
	@if [ -z "$(BREAKING_AGAINST)" ] || ! git cat-file -e "$(BREAKING_AGAINST):buf.yaml" 2>/dev/null; then \
		echo "buf breaking: no earlier version to compare with yet"; \
	else \
		echo "buf breaking against $(BREAKING_AGAINST)"; \
		$(BUF) breaking --against ".git#ref=$(BREAKING_AGAINST)"; \
	fi

.PHONY: build
build: ## Build bin/baton
	$(GO) build -o bin/baton ./server/cmd/baton

# ---------------------------------------------------------------- run

.PHONY: run
run: build ## Build and start Baton on the embedded PostgreSQL with demo data (traces go to Jaeger when `make jaeger` runs)
	@if curl -fs -o /dev/null http://127.0.0.1:16686/ 2>/dev/null; then \
		echo "Jaeger is running: sending traces to it (http://127.0.0.1:16686)"; \
		export OTEL_EXPORTER_OTLP_ENDPOINT=$${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318} OTEL_SERVICE_NAME=$${OTEL_SERVICE_NAME:-baton} \
			BATON_JAEGER_URL=$${BATON_JAEGER_URL:-http://127.0.0.1:16686}; \
	fi; \
	BATON_ADDR=$${BATON_ADDR:-$(RUN_ADDR)} BATON_DATA_DIR=$${BATON_DATA_DIR:-$(RUN_DATA_DIR)} \
	BATON_ADMIN_KEY=$${BATON_ADMIN_KEY:-$(DEV_ADMIN_KEY)} BATON_DEMO=true \
	BATON_ADMIN_ADDR=$${BATON_ADMIN_ADDR-127.0.0.1:9464} \
	./bin/baton

.PHONY: jaeger
jaeger: ## Build (pinned, once) and run Jaeger with in-memory storage on 127.0.0.1 (UI :16686, OTLP :4317/:4318)
	tools/jaeger.sh run

.tmp/bin/jaeger: tools/jaeger.sh
	tools/jaeger.sh build

# ---------------------------------------------------------------- test

# The fault and hostile-input tests each append one line (cases tried, cases
# lost) to PROOF_LOG; `make test` prints them as one table at the end.
PROOF_LOG := $(abspath $(TMP)/proof.log)

.PHONY: test
test: checkgenerate openapi checkconsole lint breaking gotest fuzz smoke console-test ## Everything CI runs
	@echo; echo "Fault and hostile-input tests (lost: acknowledged but missing or counted twice; or hostile input that got through):"
	@sort $(PROOF_LOG)

.PHONY: gotest
gotest: .tmp/bin/jaeger tools/browser/node_modules/.stamp ## Go tests with the race detector (real PostgreSQL: embedded, or BATON_TEST_DATABASE_URL; a real Jaeger)
	@mkdir -p $(TMP) && rm -f $(PROOF_LOG)
	BATON_PROOF_LOG=$(PROOF_LOG) BATON_JAEGER_BIN=$(abspath .tmp/bin/jaeger) BATON_JAEGER_CONFIG=$(abspath tools/jaeger.yaml) \
		$(GO) test -race -count=1 ./...

# A count, not a duration: a duration ends with a deadline that an overloaded
# machine can miss ("context deadline exceeded") although nothing failed.
# name:package:inputs. The pure targets are cheap; the HTTP ones (package app)
# send every input to a real Baton and PostgreSQL. FUZZTIME overrides all.
FUZZ_TARGETS := \
	FuzzResolveDeepLink:./server/internal/tracking:500000x FuzzSanitizeSubID:./server/internal/tracking:500000x \
	FuzzFC2:./server/internal/signature:500000x FuzzParseRender:./server/internal/postback:500000x \
	FuzzClickRedirect:./server/internal/app:30000x FuzzFC2Pixel:./server/internal/app:30000x \
	FuzzFC2Post:./server/internal/app:30000x FuzzKickback:./server/internal/app:30000x

.PHONY: fuzz
fuzz: ## A run of every fuzz target for a fixed number of inputs (seed corpora and testdata/fuzz run in gotest too)
	@mkdir -p $(TMP)
	@for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; n=$(if $(FUZZTIME),$(FUZZTIME),$${rest#*:}); \
		echo "go test -run=^$$ -fuzz=^$$name\$$ -fuzztime=$$n $$pkg"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$n $$pkg || exit 1; \
		printf '%-50s tried=%-6s lost=0  %s\n' "hostile: fuzz $$name" "$${n%x}" \
			"$$pkg: generated inputs from the seeds and testdata/fuzz; no panic, no failed check" >> $(PROOF_LOG); \
	done

.PHONY: smoke
smoke: $(BIN)/.stamp clients/ts-smoke/node_modules/.stamp clients/python-smoke/.venv/.stamp ## Generated TS and Python clients against a live Baton
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/baton ./server/cmd/baton
	BATON_BIN=$(BIN)/baton GRPCURL=$(BIN)/grpcurl tools/smoke.sh

# The console's unit tests (formatting, template preview) and its browser
# tests: Debian's Chromium through playwright-core against a real Baton with
# demo data (BATON_REQUIRE_BROWSER=1 turns a missing Chromium into a
# failure). Screenshots go to CONSOLE_ARTIFACTS.
CONSOLE_ARTIFACTS ?= $(abspath $(TMP)/console-artifacts)

.PHONY: console-test
console-test: console/node_modules/.stamp .tmp/bin/jaeger ## The console's unit tests and browser tests (headless Chromium, real Baton and Jaeger)
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/baton ./server/cmd/baton
	cd console && node --test test/unit/
	cd console && BATON_BIN=$(abspath $(BIN)/baton) CONSOLE_ARTIFACTS=$(CONSOLE_ARTIFACTS) \
		BATON_JAEGER_BIN=$(abspath .tmp/bin/jaeger) BATON_JAEGER_CONFIG=$(abspath tools/jaeger.yaml) \
		node --test --test-concurrency=1 test/browser/
	@echo "console screenshots and first-load measurement: $(CONSOLE_ARTIFACTS)"

.PHONY: console-screenshots
console-screenshots: ## Rewrite the README's console screenshots (docs/console/) from a browser test run
	$(MAKE) console-test CONSOLE_ARTIFACTS=$(abspath docs/console)

# ---------------------------------------------------------------- bench

.PHONY: bench
bench: ## Benchmarks with same-run baselines; prints a table and writes bench-results.txt (needs wrk)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } || \
		{ echo "make bench needs wrk, the click suite's load generator: apt-get install -y wrk" >&2; exit 1; }
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/batonbench ./server/cmd/batonbench
	$(BIN)/batonbench -out bench-results.txt

.PHONY: update-bots
update-bots: ## Rewrite the embedded crawler-user-agents list from npm (BOTS_VERSION=x.y.z or latest; default: the pinned one), then test it
	sh tools/update-bots.sh $(BOTS_VERSION)
	cd server && $(GO) test -count=1 -run 'Bot' ./internal/tracking/

.PHONY: clean
clean: ## Remove build output and local tools (keeps .baton data)
	rm -rf $(TMP) bin tools/node_modules console/node_modules clients/*/node_modules clients/*/dist clients/*/.venv clients/ts/src/gen
