# pnstream: build, check, test and run the pipeline locally. `make` lists the targets.
#
# CI runs .ci/run (= `make test`) as root on a fresh Debian with only Go: `deps`
# installs what the tests need there; on a developer machine it installs only
# what is missing, with sudo when not root.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO ?= go
TEST_TIMEOUT ?= 12m

# Ports of `make run` (deploy/local/run.sh reads them from the environment).
NATS_PORT ?= 14222
NATS_MONITOR_PORT ?= 18222
# JetStream's sync_interval for `make run`: empty is nats-server's default
# (2m), `always` fsyncs before every ack (see docs/RELIABILITY.md).
NATS_SYNC_INTERVAL ?=
CLICKHOUSE_TCP_PORT ?= 19000
CLICKHOUSE_HTTP_PORT ?= 18123
INGEST_ADDR ?= 127.0.0.1:8080
SIM_ADDR ?= 127.0.0.1:18090
SIM_CALL_RATE ?= 2

# Debian packages `deps` makes sure of: the ClickHouse server and client the
# tests and `make run` start, a C toolchain because `go test -race` needs cgo,
# curl for run.sh's readiness checks, and prometheus for the promtool that
# checks the alert rules (deploy/k8s/monitoring).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# The S3 gateway the tests and `make run` start (internal/localserver). `deps`
# looks for it as localserver.FindS3Binary does (PATH, $GOBIN, then the first
# GOPATH entry's bin, ~/go/bin by default) and, when it is missing, installs
# it with `go install` into $GOBIN, else that bin, so the tests find what it
# installed.
VERSITYGW_VERSION ?= v1.8.0

# The container image `make image` builds (see the Dockerfile): every
# command in one distroless, non-root image. DOCKER may be podman.
IMAGE ?= pnstream:dev
DOCKER ?= docker

.PHONY: help deps build lint test test-chaos fuzz run clean image test-clickhouse-cluster bench bench-peers

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_\/.-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install clickhouse-server/-client, gcc, curl, prometheus (promtool) and chromium (the console's browser tests) from Debian, and versitygw, if missing (idempotent)
	@missing=(); \
	command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server); \
	command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client); \
	command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev); \
	command -v curl >/dev/null 2>&1 || missing+=(curl); \
	command -v promtool >/dev/null 2>&1 || missing+=(prometheus); \
	command -v chromium >/dev/null 2>&1 || missing+=(chromium); \
	if [ $${#missing[@]} -eq 0 ]; then \
		echo "deps: clickhouse-server, clickhouse-client, cc, curl, promtool and chromium already installed"; \
	else \
		echo "deps: installing $${missing[*]}"; \
		$(SUDO) apt-get update; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y "$${missing[@]}"; \
	fi
	@gopath="$${GOPATH:-$$HOME/go}"; gopath="$${gopath%%:*}"; \
	found="$$(command -v versitygw || true)"; \
	for f in $${GOBIN:+"$$GOBIN/versitygw"} "$$gopath/bin/versitygw"; do \
		if [ -z "$$found" ] && [ -x "$$f" ]; then found="$$f"; fi; \
	done; \
	if [ -z "$$found" ]; then \
		gobin="$${GOBIN:-$$gopath/bin}"; \
		echo "deps: installing versitygw $(VERSITYGW_VERSION) into $$gobin (a build of about 2 minutes)"; \
		GOBIN="$$gobin" $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); \
	else \
		have="$$($(GO) version -m "$$found" 2>/dev/null | awk '$$1 == "mod" { print $$3 }' || true)"; \
		if [ "$$have" = "$(VERSITYGW_VERSION)" ]; then \
			echo "deps: versitygw $$have already installed ($$found)"; \
		else \
			echo "deps: warning: $$found is versitygw $${have:-of unknown version}, not $(VERSITYGW_VERSION);" \
				"remove it to have deps install $(VERSITYGW_VERSION)"; \
		fi; \
	fi

build: ## build every command into bin/
	$(GO) build -o bin/ ./cmd/...

# A file target: rebuilt only when the pinned version in go.mod/go.sum changes.
bin/nats-server: go.mod go.sum ## build nats-server from the version pinned in go.mod
	$(GO) build -o $@ github.com/nats-io/nats-server/v2

lint: ## gofmt, go mod tidy, go vet and staticcheck
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: not formatted:"; echo "$$unformatted"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# PN_REQUIRE_SERVERS=1: a test whose server is missing fails instead of
# skipping (see internal/testenv); CI is passed through for the same reason.
# The peers stage's test runs bin/bento, bin/ingest and bin/recorder.
test: deps lint build bin/bento ## deps, lint, then every test with -race against real servers, then test-chaos
	CI=$${CI:-} PN_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/internal/chaos$$')
	$(MAKE) --no-print-directory test-chaos

# The fault-injection suite (internal/chaos) runs on its own, after the other
# tests: it runs the real binaries for minutes, wants the machine to itself,
# and prints its table (-v).
test-chaos: deps build bin/nats-server ## the fault-injection suite: crashes, outages and re-pushes under load (about 3 min); prints its table
	CI=$${CI:-} PN_REQUIRE_SERVERS=1 PN_CHAOS_BIN=$(CURDIR)/bin $(GO) test -count=1 -v -timeout 20m ./internal/chaos

# Every Fuzz target of the module for FUZZ_TIME each. A crasher is written
# to the package's testdata/fuzz, where `go test` replays it: keep it there
# as a regression case once fixed.
FUZZ_TIME ?= 30s
fuzz: ## run every fuzz target for FUZZ_TIME (default 30s) each
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go); do \
			echo "fuzz: $$dir $$target ($(FUZZ_TIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZ_TIME) $$dir || exit 1; \
		done; \
	done

run: deps build bin/nats-server ## run NATS, ClickHouse, recorder, ingest, the platform simulator (calls at SIM_CALL_RATE/s) and the console; Ctrl-C stops all
	NATS_PORT=$(NATS_PORT) NATS_MONITOR_PORT=$(NATS_MONITOR_PORT) NATS_SYNC_INTERVAL=$(NATS_SYNC_INTERVAL) \
	CLICKHOUSE_TCP_PORT=$(CLICKHOUSE_TCP_PORT) CLICKHOUSE_HTTP_PORT=$(CLICKHOUSE_HTTP_PORT) \
	INGEST_ADDR=$(INGEST_ADDR) SIM_ADDR=$(SIM_ADDR) SIM_CALL_RATE=$(SIM_CALL_RATE) deploy/local/run.sh

# The cluster variant of the ClickHouse migrations (PN_CLICKHOUSE_CLUSTER)
# against three real servers on ZooKeeper. Not part of `test`: ZooKeeper
# needs Java, ~600 MB that CI does not install.
test-clickhouse-cluster: deps ## the ClickHouse cluster DDL on ZooKeeper + 3 local servers (installs Debian's zookeeper)
	@[ -r /usr/share/java/zookeeper.jar ] || { $(SUDO) apt-get update; $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper; }
	deploy/local/clickhouse-cluster.sh -- $(GO) test -race -count=1 -tags clickhouse_cluster -run TestCluster ./internal/warehouse

image: ## build the container image $(IMAGE) with $(DOCKER) (every command, distroless, non-root)
	$(DOCKER) build -t $(IMAGE) .

# BENCH_FLAGS picks stages, durations and output, e.g.
# BENCH_FLAGS='-stages ingest -duration 5s -json' (`go run ./cmd/pnbench -help`).
BENCH_FLAGS ?=

bench: deps bin/nats-server ## measure every stage against its raw limit in one run (docs/PERFORMANCE.md); BENCH_FLAGS passes flags
	$(GO) run ./cmd/pnbench -nats-server bin/nats-server $(BENCH_FLAGS)

# Bento 1.20.0 (MIT) for the peers stage, built from a module of its own
# (internal/bench/peers/bento, pinned by its go.sum) with only the
# components the stage runs, so that pnstream's go.mod stays free of
# Bento's dependencies. A file target: rebuilt when that module changes.
BENTO_MODULE := internal/bench/peers/bento
bin/bento: $(BENTO_MODULE)/go.mod $(BENTO_MODULE)/go.sum $(BENTO_MODULE)/main.go ## build Bento 1.20.0 for bench-peers (a few minutes the first time)
	cd $(BENTO_MODULE) && $(GO) build -o $(CURDIR)/$@ .

# bench-peers runs pnstream's side as the commands themselves, bin/ingest
# and bin/recorder (pnbench looks for them beside bin/bento), as Bento runs
# as bin/bento. Phony: go build runs every time and rebuilds only what
# changed.
.PHONY: bin/ingest bin/recorder
bin/ingest bin/recorder:
	$(GO) build -o $@ ./cmd/$(notdir $@)

bench-peers: deps bin/nats-server bin/bento bin/ingest bin/recorder ## pnstream (bin/ingest, bin/recorder) beside Bento 1.20.0 on the same workloads, servers and run (docs/PERFORMANCE.md); BENCH_FLAGS passes flags
	$(GO) run ./cmd/pnbench -nats-server bin/nats-server -bento bin/bento -stages peers $(BENCH_FLAGS)

clean: ## remove bin/ and the local run's data in .local/
	rm -rf bin .local
