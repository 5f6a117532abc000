# sluice developer targets. `make help` lists them.
GO        ?= go
BIN       := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
LDFLAGS   := -s -w -X main.version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

FUNCTIONS := extract transform load commit
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: help build example lakeread lambdas cfn-lint e2e local-up local-down test test-short fuzz-seeds fuzz bench bench-golden bench-transform bench-stream bench-iceberg bench-lambdas chaos bench-go lint fmt clean

help: ## list targets
	@grep -E '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the sluice CLI into bin/
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sluice ./cmd/sluice

lambdas: ## build the four Lambda bootstraps (linux/arm64) into bin/lambda/ and print their sizes
	@for f in $(FUNCTIONS); do \
	  $(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/lambda/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-10s %s bytes\n' $$f $$(stat -c %s $(BIN)/lambda/$$f/bootstrap); \
	done

# `sam build` runs these (BuildMethod: makefile) with ARTIFACTS_DIR set.
build-%Function:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo $* | tr A-Z a-z)

cfn-lint: ## check template.yaml with cfn-lint
	cfn-lint template.yaml

example: ## run the bundled orders example into out/orders
	$(GO) run ./cmd/sluice run --spec examples/orders/spec.yaml --input examples/orders/orders.csv --output out/orders

lakeread: ## install the independent Iceberg reader (icebird) the table tests use, into internal/lakeread/node_modules
	cd internal/lakeread && npm install --no-audit --no-fund

test: lakeread ## unit, golden, fuzz-seed and moto integration tests with the race detector; the examples' spec tests
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) run ./cmd/sluice test examples/*/spec.yaml

e2e: ## end-to-end: the real bootstraps through the real state machine on the offline stack
	$(GO) test -count=1 -v -timeout 30m ./e2e

LOCAL_DIR := .local
LOCAL_ADDR ?= 127.0.0.1:4566
local-up: build ## start the offline stack on LOCAL_ADDR (logs in .local/stack.log); PARAMS='K=V ...' overrides template parameters
	@mkdir -p $(LOCAL_DIR)
	@if [ -f $(LOCAL_DIR)/stack.pid ] && kill -0 $$(cat $(LOCAL_DIR)/stack.pid) 2>/dev/null; then echo "already running (pid $$(cat $(LOCAL_DIR)/stack.pid))"; exit 0; fi
	$(MAKE) -s lambdas LAMBDA_ENV="GOOS=linux GOARCH=$$($(GO) env GOARCH) CGO_ENABLED=0" >/dev/null
	@$(BIN)/sluice local up --addr $(LOCAL_ADDR) $(foreach p,$(PARAMS),--param '$(p)') > $(LOCAL_DIR)/stack.out 2> $(LOCAL_DIR)/stack.log & echo $$! > $(LOCAL_DIR)/stack.pid
	@for i in $$(seq 100); do grep -q "ready at" $(LOCAL_DIR)/stack.out 2>/dev/null && break; kill -0 $$(cat $(LOCAL_DIR)/stack.pid) 2>/dev/null || { cat $(LOCAL_DIR)/stack.log; exit 1; }; sleep 0.3; done
	@cat $(LOCAL_DIR)/stack.out

local-down: ## stop exactly the offline stack local-up started
	@if [ -f $(LOCAL_DIR)/stack.pid ]; then kill $$(cat $(LOCAL_DIR)/stack.pid) 2>/dev/null; \
	  for i in $$(seq 50); do kill -0 $$(cat $(LOCAL_DIR)/stack.pid) 2>/dev/null || break; sleep 0.2; done; \
	  rm -f $(LOCAL_DIR)/stack.pid; echo "offline stack stopped"; else echo "not running"; fi

test-short: ## the same without the race detector
	$(GO) test -count=1 ./...

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench-go: ## Go micro and stage benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-iceberg: ## the iceberg sink's commit cost (local, Glue on moto) and stream commit rate; rewrite its section of BENCHMARKS.md
	./bench/iceberg.sh

bench-transform: ## the transform function on one 64 MiB chunk: in memory (BASE_REF=<rev> adds that revision's) and on the offline stack; rewrite its section
	./bench/transform.sh

bench-lambdas: ## each bootstrap's size and cold init (BASE_REF=<commit> adds that revision's, side by side); rewrite their section
	./bench/lambdas.sh

bench: build ## sluice against DuckDB on the reference job, and the stream benchmarks; rewrite their sections of BENCHMARKS.md (BASE_REF=<rev> adds the golden comparison)
	BASE_REF="$(BASE_REF)" ./bench/run.sh
	./bench/stream.sh

bench-golden: ## outputs of the working tree against BASE_REF's (default: where this branch left main; HEAD~1 on main), byte for byte and Parquet by value
	./bench/golden.sh $(BASE_REF)

chaos: build ## every fault class against the offline stack; rewrites RELIABILITY.md (CHAOS_SEED=N replays)
	./bench/chaos.sh

bench-stream: ## the stream-path benchmarks; rewrite that section of BENCHMARKS.md
	./bench/stream.sh

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run ./cmd/sluice lint examples/*/spec.yaml

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build and run outputs
	rm -rf $(BIN) out .bench
