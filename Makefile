# db9 — see README.md. `./scripts/setup` installs what these targets need.
GO      ?= go
BIN     ?= bin/db9
# As root the server runs PostgreSQL as the postgres user, which must reach
# the data directory: /var/lib/db9 is reachable, ./db9-data under /root is not.
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/db9,./db9-data)
TEST_TIMEOUT ?= 15m

.PHONY: build run test lint vet tools fuzz bench clean

# Linters, pinned: `make tools` (run by ./scripts/setup) installs them with
# the Go toolchain into bin/tools, one file per version, so a bump here
# installs the new one instead of trusting whatever is on PATH.
STATICCHECK_VERSION := v0.8.2
GOIMPORTS_VERSION   := v0.52.0
GOFMT       := $(shell $(GO) env GOROOT)/bin/gofmt
TOOLS       := $(CURDIR)/bin/tools
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
GOIMPORTS   := $(TOOLS)/goimports-$(GOIMPORTS_VERSION)
# Imports come in three groups: standard library, third party, then db9's own.
LOCAL_IMPORTS := github.com/db9/db9

build:
	$(GO) build -o $(BIN) ./cmd/db9

run: build
	$(BIN) server --data-dir $(DATA_DIR)

vet:
	$(GO) vet ./...

tools: $(STATICCHECK) $(GOIMPORTS)

$(STATICCHECK):
	@mkdir -p $(TOOLS)/tmp
	GOBIN=$(TOOLS)/tmp $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/tmp/staticcheck $@

$(GOIMPORTS):
	@mkdir -p $(TOOLS)/tmp
	GOBIN=$(TOOLS)/tmp $(GO) install golang.org/x/tools/cmd/goimports@$(GOIMPORTS_VERSION)
	mv $(TOOLS)/tmp/goimports $@

# Fails on any finding: unformatted files, imports out of their groups, vet,
# staticcheck (all of its default checks; none is disabled).
lint: tools
	@out=$$($(GOFMT) -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$out"; exit 1; fi
	@out=$$(find . -name '*.go' -not -path './bin/*' \
		| xargs -r $(GOIMPORTS) -local $(LOCAL_IMPORTS) -l 2>&1); \
		if [ -n "$$out" ]; then echo "goimports: imports out of their groups (fix with $(GOIMPORTS) -local $(LOCAL_IMPORTS) -w):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# The whole test suite, after the linters: unit, real-PostgreSQL integration
# and end-to-end tests (including crash tests), plus a short run of every
# fuzz target's seeds.
test: lint
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
FUZZTIME ?= 30s
fuzz:
	./scripts/fuzz $(FUZZTIME)

bench:
	./bench/run

clean:
	rm -rf bin
