# Marquee: `make run` starts the all-in-one; `make test` vets and tests every module with the race detector.
# MySQL contract tests and split-mode tests also run when MARQUEE_TEST_MYSQL_DSN / MARQUEE_TEST_NATS_URL are
# set (see README); .ci/run sets both.

GO      ?= go
MODULES := pkg services/catalog services/search services/gateway cmd/marquee tools/faults tools/bench
BIN     := bin

.PHONY: run test vet unit norace eval fuzz faults bench bench-quick fmt fmt-check build check-modules clean

run:
	$(GO) run ./cmd/marquee serve

test: fmt-check vet unit norace fuzz

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

# The index's tests run a second time on an index split into 3 shards.
# The race detector makes the index's package take 7-10 minutes a run on this machine: past go test's
# default limit of 10 minutes when another job shares it.
unit:
	@for m in $(MODULES); do echo "go test $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 20m ./...) || exit 1; done
	@echo "go test services/search/searchindex, 3 shards"; cd services/search && MARQUEE_TEST_SHARDS=3 $(GO) test -race -count=1 -timeout 20m ./searchindex

# The performance benchmark: builds 100k and 1M-movie catalogs, loads them end to end and measures every
# target as a ratio against a baseline of the same run (hello-world HTTP, MariaDB FULLTEXT and GROUP BY);
# writes docs/performance.md. bench-quick is the 100k smoke run; `make unit` runs a tiny one.
bench:
	$(GO) run ./tools/bench

bench-quick:
	$(GO) run ./tools/bench -quick

# Tests that only the race detector's slowdown keeps from running under -race (they have no concurrency of
# their own to check): relevance on the dev judgments (one index, and 3 shards against it), an import of
# the whole 15,410-movie catalog through the API, a restart over it in MySQL on a lost disk, and the executor against Bleve's searchers on the judged
# queries and 250 generated queries of each class (30 under -race in `unit`), and shards that rank as one
# index, in one process and as three services (small runs under -race in `unit`). All need ../shared/data.
norace: eval
	cd cmd/marquee && $(GO) test -count=1 -run 'TestImportTMDBCatalog|TestDynoRestartTMDB|TestShardsBehindTheGateway' -v .
	cd services/search && $(GO) test -count=1 -run 'TestExecutorMatchesBleve|TestShardsRankAsOneIndex' -v ./searchindex
	cd services/search && $(GO) test -count=1 -run TestShardServicesRankAsOne -v ./searchsvc

eval:
	cd services/search && $(GO) test -count=1 -run 'TestRelevance|TestShardedRelevance' -v ./searcheval

# The full fault-injection suite (about 10 minutes): split mode as processes on its own MariaDB and
# nats-server, faults injected under a recorded workload, the final state checked. `make unit` runs its
# short profile.
faults:
	$(GO) run ./tools/faults -out docs/reliability-figures.md

# Runs every fuzz target briefly (FUZZTIME each: a count of inputs, since a time budget can end the fuzzer
# mid-run with a spurious "context deadline exceeded"); their seed corpora already run in `make unit`.
FUZZTIME ?= 5000x
fuzz:
	@for m in $(MODULES); do \
		for dir in $$(cd $$m && $(GO) list -f '{{.Dir}}' ./...); do \
			pkg=$${dir#$(CURDIR)/}; \
			for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
				echo "fuzz $$pkg $$f"; \
				(cd $$dir && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .) >/tmp/marquee-fuzz.log 2>&1 || { cat /tmp/marquee-fuzz.log; exit 1; }; \
			done; \
		done; \
	done

fmt:
	gofmt -w $(MODULES)

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -o $(BIN)/marquee ./cmd/marquee
	$(GO) build -o $(BIN)/catalog ./services/catalog/cmd/catalog
	$(GO) build -o $(BIN)/search ./services/search/cmd/search
	$(GO) build -o $(BIN)/gateway ./services/gateway/cmd/gateway

# Each service must also build on its own, without the workspace, as its Docker image does.
check-modules:
	@for m in pkg services/catalog services/search services/gateway; do echo "GOWORK=off build $$m"; (cd $$m && GOWORK=off $(GO) build ./...) || exit 1; done

clean:
	rm -rf $(BIN) var
