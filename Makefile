# The two commands a newcomer needs: `make run` and `make test`.

VERSITYGW_VERSION := v1.8.0
BIN := $(CURDIR)/.bin

.PHONY: run demo web-app test test-browser bench bench-load rss build generate check migration load

## run: serve on 127.0.0.1:8080 with SQLite and disk storage in ./data
run: playground-assets
	go run .

## demo: the demo app at http://127.0.0.1:8080/app/ (drop files, Uppy page), on the server as make run
## starts it but running only the app's own operations (GRAPHQL_TRUSTED_DOCUMENTS)
demo: playground-assets web-app
	GRAPHQL_TRUSTED_DOCUMENTS=web/src/gql/persisted-documents.json go run .

## web-app: build the demo app (web/) into the binary's embedded files
web-app: web/node_modules
	npm --prefix web run --silent build -- --logLevel warn

## test: the whole suite: the upload client's unit tests (web/test, vitest), then the Go tests against
## real PostgreSQL and a real S3 server (TESTFLAGS=-race adds the race detector, as CI does); the tests
## that run the binary (TestIdleRSS among them) run the one make build makes, the one that ships
test: build $(BIN)/versitygw scripts/audit/node_modules scripts/events/node_modules web/node_modules
	npm --prefix web test --silent
	FILEGRAPH_BIN=$(CURDIR)/filegraph ./scripts/test.sh $(TESTFLAGS)

## test-browser: the README's client code, a 64 MiB upload in parts across a reload, the offline playground, the demo app and its Uppy page
## in headless Chromium (apt-get install chromium); screenshots go to $(ARTIFACTS)
ARTIFACTS ?= $(CURDIR)/.artifacts
test-browser: $(BIN)/versitygw playground-assets web-app
	FILEGRAPH_ARTIFACTS=$(ARTIFACTS) PKGS=./internal/server ./scripts/test.sh -tags browser -run 'TestBrowserFlow|TestBrowserMultipart|TestPlayground|TestWebApp' -v

## bench: Go benchmarks through the real handler
bench: $(BIN)/versitygw
	./scripts/test.sh -run '^$$' -bench . -benchmem $(BENCHFLAGS)

## bench-load: Filegraph against the floors (bench/floor: stock gqlgen and plain net/http) side by side on PostgreSQL + versitygw;
## prints rps, p50, p99 and the ratios (BENCHLOADFLAGS="-rounds 5 -duration 10s -ops files")
bench-load: $(BIN)/versitygw
	go run ./bench/load $(BENCHLOADFLAGS)

## rss: resident memory of the binary make build makes, right after start and after a round of every kind of
## request, on SQLite + disk and on PostgreSQL + S3; fails over 40 MB (make test runs the same test on the same binary)
rss: build $(BIN)/versitygw
	FILEGRAPH_BIN=$(CURDIR)/filegraph PKGS=. ./scripts/test.sh -run '^TestIdleRSS$$' -v

## build: a static binary, ./filegraph (process_test.go builds with the same flags when FILEGRAPH_BIN is unset)
build: playground-assets
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o filegraph .

## generate: rebuild ent and gqlgen code from ent/schema and graph/*.graphqls,
## schema.graphql, and web/'s typed documents from schema.graphql
generate: web/node_modules
	go generate ./...
	npm --prefix web run --silent codegen >/dev/null

## load: 50 clients run the whole flow for 30s on PostgreSQL + versitygw, then rows and objects must match
load: $(BIN)/versitygw
	FILEGRAPH_LOAD_DURATION=$${FILEGRAPH_LOAD_DURATION:-30s} PKGS=./internal/server ./scripts/test.sh -run '^TestLoad$$' -v

## migration NAME=...: write the migration files for a change to ent/schema (needs the local PostgreSQL)
migration:
	@test -n "$(NAME)" || (echo "usage: make migration NAME=add_something" && exit 1)
	go run -mod=mod ./ent/migrate/migrations/diff.go $(NAME)

## check: generated code is current and committed (untracked files count), gofmt, go vet and tsc are clean,
## and subgraph.graphql composes with web/federation's users subgraph with no errors or hints
check: web/node_modules
	go generate ./...
	@test -z "$$(git status --porcelain)" || (git status --porcelain && echo "go generate changed or added the files above (or they were never committed): commit them" && exit 1)
	@npm --prefix web run --silent codegen:check >/dev/null 2>&1 || (echo "web/src/gql is not current: run make generate and commit it" && exit 1)
	npm --prefix web run --silent typecheck
	node web/federation/compose.mjs
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go') && echo "gofmt would change the files above" && exit 1)
	go vet ./...
	go vet -tags browser ./internal/server
	go vet -tags codegen ./ent/schema

# Real graphql-ws and graphql-sse clients and a standardwebhooks receiver, which the events tests run.
scripts/events/node_modules: scripts/events/package-lock.json
	npm ci --prefix scripts/events --no-audit --no-fund --loglevel=error
	@touch $@

# graphql-http's audit of the GraphQL over HTTP spec, which a test runs.
scripts/audit/node_modules: scripts/audit/package-lock.json
	npm ci --prefix scripts/audit --no-audit --no-fund --loglevel=error
	@touch $@

# web/'s tools and the browser assets the binary embeds.
web/node_modules: web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	@touch $@

## playground-assets: copy GraphiQL and React's browser builds from npm into the binary's embedded files
playground-assets: web/node_modules
	./scripts/playground-assets.sh

# The S3-compatible server the tests run against; installed once per checkout.
$(BIN)/versitygw:
	GOBIN=$(BIN) go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
