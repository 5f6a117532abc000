# sluice developer targets. `make help` lists them.
GO        ?= go
BIN       := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
LDFLAGS   := -s -w -X main.version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

FUNCTIONS := extract transform load
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: help build example lambdas cfn-lint test test-short fuzz-seeds fuzz bench bench-go lint fmt clean

help: ## list targets
	@grep -E '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the sluice CLI into bin/
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sluice ./cmd/sluice

lambdas: ## build the three Lambda bootstraps (linux/arm64) into bin/lambda/ and print their sizes
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

test: ## unit, golden and fuzz-seed tests with the race detector
	$(GO) test -race -count=1 ./...

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

bench: build ## the reference-job benchmark; rewrites BENCHMARKS.md
	./bench/run.sh

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run ./cmd/sluice lint

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build and run outputs
	rm -rf $(BIN) out .bench
