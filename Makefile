# leafgate build, test and benchmark entry points.
#
#   make test    lint + unit tests (-race, fuzz seed corpora) + end-to-end tests
#   make bench   leafgate vs nats-server, same workloads, one run, with ratios
#   make fuzz    run every fuzz target for FUZZTIME each
#   make build   host binary;  make build-arm  linux arm64/armv7/armv6 binaries

GO        ?= go
BIN       := $(CURDIR)/.bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Build tags of the shipped binary, also used by the tests and the bench
# (test/internal/harness.BuildTags must match). nethttpomithttp2 leaves
# HTTP/2 out of net/http: the monitoring port speaks HTTP/1.1, and it saves
# 0.3 MiB of binary.
TAGS      := nethttpomithttp2
FUZZTIME  ?= 30s

STATICCHECK_VERSION := v0.8.2
NATSCLI_VERSION     := v0.5.0
# The oldest nats-server 2.14 release the module proxy serves: the e2e
# tests run a hub of it as a process, for the leafnode wire contract.
NATS214_VERSION     := v2.14.5

export NATS_CLI := $(BIN)/nats
export NATS_SERVER_214 := $(BIN)/nats-server-$(NATS214_VERSION)/nats-server
export GOFLAGS  := -buildvcs=false

.PHONY: all test lint unit e2e bench fuzz build build-arm tools test-deps clean

all: build

# npm writes this file on every install, so it is newer than the lockfile
# exactly when node_modules matches it.
JSMODS := test/js/node_modules/.package-lock.json

tools: $(BIN)/staticcheck $(BIN)/nats $(NATS_SERVER_214) $(JSMODS) test-deps

# mosquitto and mosquitto-clients (Debian packages), the MQTT reference
# broker and clients of the end-to-end tests and the bench, and chromium,
# the headless browser of the WebSocket browser test. The script does
# nothing when they are installed, and explains (exit 0) when it cannot
# install them without root or apt-get; under CI a failure is an error.
test-deps:
	@bash scripts/install-test-deps.sh

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/nats:
	GOBIN=$(BIN) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

$(NATS_SERVER_214):
	GOBIN=$(BIN)/nats-server-$(NATS214_VERSION) $(GO) install github.com/nats-io/nats-server/v2@$(NATS214_VERSION)

# nats.js and MQTT.js for the interop tests, from the committed lockfile.
$(JSMODS): test/js/package.json test/js/package-lock.json
	cd test/js && npm ci --no-audit --no-fund

test: lint unit e2e

lint: tools
	@echo "== gofmt"
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "== go vet"
	$(GO) vet ./...
	cd test && $(GO) vet ./...
	@echo "== go vet for 32-bit ARM (the armv6/armv7 appliance builds)"
	GOOS=linux GOARCH=arm GOARM=6 CGO_ENABLED=0 $(GO) vet -tags '$(TAGS)' ./...
	@echo "== staticcheck"
	$(BIN)/staticcheck ./...
	cd test && $(BIN)/staticcheck ./...

unit:
	@echo "== unit tests (race, fuzz seed corpora)"
	$(GO) test -race -count=1 -tags '$(TAGS)' -timeout 10m ./...

# -parallel 4: the e2e tests marked parallel mostly wait (outages, the
# hub's 10 s checks), so four at a time on two cores.
# -artifacts keeps what tests save for people to look at (the browser
# test's screenshots) under test/_artifacts/, one directory per test; the
# test logs each file's path.
e2e: tools
	@echo "== end-to-end tests"
	rm -rf test/_artifacts
	cd test && $(GO) test -race -count=1 -parallel 4 -tags '$(TAGS)' -timeout 15m -artifacts ./...

bench:
	cd test && $(GO) run ./bench $(BENCHFLAGS)

# Every Fuzz target in the product module, FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o leafgate ./cmd/leafgate

build-arm:
	mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o dist/leafgate-linux-arm64 ./cmd/leafgate
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o dist/leafgate-linux-armv7 ./cmd/leafgate
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o dist/leafgate-linux-armv6 ./cmd/leafgate
	ls -l dist/

clean:
	rm -rf leafgate dist $(BIN) test/js/node_modules
