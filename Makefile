# Marquee: `make run` starts the all-in-one; `make test` vets and tests every module with the race detector.
# MySQL contract tests and split-mode tests also run when MARQUEE_TEST_MYSQL_DSN / MARQUEE_TEST_NATS_URL are
# set (see README); .ci/run sets both.

GO      ?= go
MODULES := pkg services/catalog services/search services/gateway cmd/marquee
BIN     := bin

.PHONY: run test vet unit fmt fmt-check build check-modules clean

run:
	$(GO) run ./cmd/marquee serve

test: fmt-check vet unit

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

unit:
	@for m in $(MODULES); do echo "go test $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

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
