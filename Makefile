GO ?= go
BIN := bin
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: build test unit lint proto demo clean

build:
	$(GO) build -o $(BIN)/ ./cmd/...

proto:
	cd proto && protoc -I. --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative fsm.proto admin.proto

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: lint build
	$(GO) test -count=1 -timeout 30m ./...

clean:
	rm -rf $(BIN)

.PHONY: bench-cluster
bench-cluster:
	$(GO) run ./test/bench/cluster
