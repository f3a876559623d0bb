GO ?= go
BIN := bin
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: build test unit integration lint proto demo clean

# Packages with unit and in-process tests; test/... starts processes and
# MariaDB servers and runs one package at a time so timing-sensitive fault
# tests do not compete for the two cores.
UNIT_PKGS := $(shell $(GO) list ./... | grep -v /test/)

build:
	$(GO) build -o $(BIN)/ ./cmd/...

proto:
	@command -v protoc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler)
	@command -v protoc-gen-go >/dev/null || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	@command -v protoc-gen-go-grpc >/dev/null || $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	cd proto && protoc -I. --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative fsm.proto admin.proto

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: lint build unit integration

unit:
	$(GO) test -count=1 -timeout 15m $(UNIT_PKGS)

integration:
	$(GO) test -count=1 -p 1 -timeout 40m ./test/...

clean:
	rm -rf $(BIN)

# The demo installs MariaDB when missing (as root), starts a source, a target
# and three nodes, migrates a sample database and shows failover.
MODE ?= all
demo: build
	$(GO) run ./test/demo -mode $(MODE)

.PHONY: bench-cluster
bench-cluster:
	$(GO) run ./test/bench/cluster

# Fault-injection suite. DURATION is the fault phase, SEED replays a run,
# NODES is the cluster size (3 or 5), WORKLOAD is default (bank, set,
# keyless DML, DDL on one source) or shard (two sources merged, ADD COLUMN
# on every shard; SHARD_MODE pessimistic or optimistic).
DURATION ?= 10m
SEED ?=
NODES ?= 3
WORKLOAD ?= default
SHARD_MODE ?= pessimistic
JEPSEN_ENV = JEPSEN_SEED=$(SEED) JEPSEN_NODES=$(NODES) JEPSEN_WORKLOAD=$(WORKLOAD) JEPSEN_SHARD_MODE=$(SHARD_MODE) \
  JEPSEN_REPORT=$(CURDIR)/jepsen-report.txt
.PHONY: jepsen jepsen-short
jepsen: build
	$(JEPSEN_ENV) JEPSEN_DURATION=$(DURATION) $(GO) test -count=1 -v -timeout 0 -run '^TestJepsen$$' ./test/jepsen/
	@cat jepsen-report.txt

jepsen-short: build
	$(JEPSEN_ENV) JEPSEN_DURATION=150s $(GO) test -count=1 -v -timeout 20m -run '^TestJepsen$$' ./test/jepsen/
	@cat jepsen-report.txt

# bench-full: dmraft full copy vs mysqldump | mysql vs mydumper + myloader on
# the same >= 500 MB sysbench-like data (DMRAFT_BENCH_ROWS x DMRAFT_BENCH_TABLES).
bench-full: build
	DMRAFT_BENCH_FULL=1 $(GO) test -count=1 -timeout 90m -run '^TestBenchFull$$' -v ./test/full/

# bench-sync: one sysbench binlog backlog (>= 1M row changes) replayed by
# dmraft (3 nodes, batch default and 1) and by MariaDB replicas (single-
# threaded and slave_parallel_threads=4 optimistic), then steady-state lag.
# BENCH_SYNC_ARGS=-quick for a small run (see go run ./test/bench/sync -h).
BENCH_SYNC_ARGS ?=
.PHONY: bench-sync
bench-sync: build
	@command -v sysbench >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sysbench)
	$(GO) run ./test/bench/sync $(BENCH_SYNC_ARGS)
