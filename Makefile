# Folio — build, run and test.  `make help` lists the targets.
#
# Everything a fresh Debian machine lacks is installed by scripts/provision.sh
# (as root) or named by it (otherwise). Run as root in CI: `bash .ci/run`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Swift lives in /opt/swift on our machines; use it when swift is not on PATH.
ifeq ($(shell command -v swift 2>/dev/null),)
ifneq ($(wildcard /opt/swift/usr/bin/swift),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif
endif

SWIFT ?= swift
# Throwaway PostgreSQL clusters of the test suite live below this folder. It is under
# /tmp, not the checkout, because when root the clusters run as an unprivileged user, who
# must be able to reach the folder (a checkout under /root is not reachable).
TEST_PG_DIR ?= /tmp/folio-test-$(shell printf '%s' "$(CURDIR)" | md5sum | cut -c1-8)
# The embedded cluster of `folio serve` when FOLIO_DATABASE_URL is unset (data in pg/data).
EMBEDDED_PG_DIR := $(CURDIR)/.folio/pg/data
# Extra arguments for `make run`, e.g. make run ARGS="--log-level debug".
ARGS ?=

.PHONY: help provision build run test bench clean lint-compose

help: ## Show this help
	@echo "Folio make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

provision: ## Install what is missing (libpq-dev, PostgreSQL, client tools) on Debian
	@bash scripts/provision.sh

build: provision ## Debug build of everything (swift build)
	$(SWIFT) build

run: build ## Build and serve on 127.0.0.1:8080 (embedded PostgreSQL under .folio/ unless FOLIO_DATABASE_URL is set)
	exec .build/debug/folio serve $(ARGS)

# When root, the clusters run as another user (initdb refuses root): the folder
# is made world-writable (sticky) so that user can create its data directories.
test: provision ## Build and run the whole test suite against throwaway PostgreSQL clusters
	@bash scripts/stop-test-clusters.sh "$(TEST_PG_DIR)"
	rm -rf "$(TEST_PG_DIR)"
	mkdir -p "$(TEST_PG_DIR)"
	chmod 1777 "$(TEST_PG_DIR)"
	$(SWIFT) build --build-tests
	status=0; \
	FOLIO_TEST_TMPDIR="$(TEST_PG_DIR)" $(SWIFT) test --skip-build || status=$$?; \
	bash scripts/stop-test-clusters.sh "$(TEST_PG_DIR)"; \
	exit $$status

bench: provision ## Release build of folio and FolioBench, then scripts/bench.sh
	@command -v wrk >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq wrk; } || echo "bench: wrk missing (apt-get install wrk); --suite server skips its wrk row"
	$(SWIFT) build -c release --product FolioBench
	$(SWIFT) build -c release --product folio
	bash scripts/bench.sh

clean: ## Stop the embedded cluster (if running) and remove .build, .build-*, .folio
	@if [ -f "$(EMBEDDED_PG_DIR)/postmaster.pid" ]; then \
		pg_ctl=$$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true); \
		owner=$$(stat -c %U "$(EMBEDDED_PG_DIR)"); \
		if [ -z "$$pg_ctl" ]; then \
			echo "clean: pg_ctl not found"; \
		elif [ "$$(id -u)" -eq 0 ] && [ "$$owner" != root ]; then \
			echo "clean: stopping embedded PostgreSQL (as $$owner)"; \
			runuser -u "$$owner" -- "$$pg_ctl" stop -D "$(EMBEDDED_PG_DIR)" -m fast || true; \
		else \
			echo "clean: stopping embedded PostgreSQL"; \
			"$$pg_ctl" stop -D "$(EMBEDDED_PG_DIR)" -m fast || true; \
		fi; \
	fi
	@bash scripts/stop-test-clusters.sh "$(CURDIR)/.folio"
	@bash scripts/stop-test-clusters.sh "$(TEST_PG_DIR)"
	rm -rf .build .build-* .folio

lint-compose: ## Validate docker-compose.yml (skipped when docker-compose is absent)
	@bash scripts/check-compose.sh
