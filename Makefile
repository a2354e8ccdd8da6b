# ceo: the CSC Electronic Office, in Go.
# `make run` and `make test` are the two set-up commands (see README.md).

GO       ?= go
BIN      := bin
PKGS     := ./...
TIMEOUT  ?= 25m

.PHONY: all build test test-short bench lint fuzz realm realm-down run deb deps clean

all: build

# ceoc is built without cgo, as debian/rules builds it: a static binary
# starts in about half the time, and it needs no NSS (see debian/rules).
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./ceod/cmd/ceod ./internal/cmd/realm
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./ceoc/cmd/ceoc
	@if [ -d ceo/cmd/ceo ]; then $(GO) build -o $(BIN)/ ./ceo/cmd/ceo ./ceo/cmd/addmember ./ceo/cmd/addclub; fi

# Installs the Debian packages the realm and tests need (only missing ones).
deps:
	@bash internal/realm/install-deps.sh

# The whole suite against real services. CEO_REQUIRE_REALM (and
# CEO_REQUIRE_MAILMAN for the real Mailman 3 core) turns a realm
# that cannot start into a failure, never a silent skip.
test: deps lint
	CEO_REQUIRE_REALM=1 CEO_REQUIRE_MAILMAN=1 $(GO) test -count=1 -timeout $(TIMEOUT) $(PKGS)

# Unit tests only: no realm.
test-short:
	$(GO) test -short -count=1 $(PKGS)

bench: deps
	CEO_REQUIRE_REALM=1 $(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./wire/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# A throwaway realm in the background; prints the path of its env file.
realm: deps
	@mkdir -p $(BIN)
	@$(GO) build -o $(BIN)/ ./internal/cmd/realm
	@$(BIN)/realm up

realm-down:
	@$(GO) build -o $(BIN)/ ./internal/cmd/realm
	@$(BIN)/realm down

# The main job on an embedded default: a throwaway realm and the club's
# three ceod hosts (admin, db, mail with Mailman 3) on loopback, in the
# foreground; `bin/realm shell` enters their name space. Ctrl-C stops all.
run: deps build
	@$(BIN)/realm club $(BIN)/ceod

# The Debian packages (ceo-common, ceo-clients, ceo-daemon, ceo) in
# bin/deb/; installs its build dependencies if missing. See
# debian/README.source.
deb:
	@GO="$$(command -v $(GO))" bash debian/make-deb.sh all $(CURDIR)/$(BIN)/deb

clean:
	rm -rf $(BIN)
