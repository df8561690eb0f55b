# db9 — see README.md. `./scripts/setup` installs what these targets need.
GO      ?= go
BIN     ?= bin/db9
# As root the server runs PostgreSQL as the postgres user, which must reach
# the data directory: /var/lib/db9 is reachable, ./db9-data under /root is not.
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/db9,./db9-data)
TEST_TIMEOUT ?= 15m

.PHONY: build run test vet fuzz bench clean

build:
	$(GO) build -o $(BIN) ./cmd/db9

run: build
	$(BIN) server --data-dir $(DATA_DIR)

vet:
	$(GO) vet ./...

# The whole test suite: unit, real-PostgreSQL integration and end-to-end
# tests (including crash tests), plus a short run of every fuzz target's seeds.
test: vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
FUZZTIME ?= 30s
fuzz:
	./scripts/fuzz $(FUZZTIME)

bench:
	./bench/run

clean:
	rm -rf bin
