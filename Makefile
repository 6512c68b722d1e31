# yarngate — build, test and run against the real test cluster. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE        ?= $(or $(YARNGATE_CACHE),$(HOME)/.cache/yarngate)
TOOLS        := $(CACHE)/tools
STATICCHECK  := $(TOOLS)/staticcheck-v0.8.2
FLINK_HOME   ?= $(CACHE)/flink/flink-1.20.3
FLINK2_HOME  ?= $(CACHE)/flink/flink-2.2.1
EXAMPLE_DIR  := examples/streaming
EXAMPLE_JAR  := $(EXAMPLE_DIR)/target/yarngate-example.jar
CLUSTER_ENV  := testenv/.run/cluster.env
# -parallel 6: integration tests mostly wait on the cluster; at the default (GOMAXPROCS, 2 here) the app package's
# parallel tests queued behind each other for over 40 minutes.
GO_TEST_FLAGS ?= -count=1 -timeout 55m -parallel 6
export GOFLAGS ?= -buildvcs=false

.PHONY: help build run test test-unit lint fuzz bench cluster-up cluster-down cluster-status rm-failover rm-restore zk-restart kdc-stop kdc-start demo example-jar fetch clean airflow-venv bench-scale

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/yarngate
	go build -o bin/yarngate ./cmd/yarngate

run: build cluster-up ## run the gateway in the foreground against the test cluster (YARNGATE_LISTEN, default 127.0.0.1:8080)
	source $(CLUSTER_ENV) && exec bin/yarngate serve --config configs/dev.yaml

test: lint example-jar ## lint, build the example job, then all tests, integration included: brings the test cluster up if needed (STANDALONE=1 parts too), takes down only one it started
	@command -v chromium >/dev/null || testenv/install-chromium.sh # the dashboard's browser test
	@started=0; \
	if [ ! -f testenv/.run/mode ]; then started=1; fi; \
	STANDALONE=1 testenv/cluster.sh up || exit 1; \
	rc=0; YARNGATE_REQUIRE_CLUSTER=1 go test $(GO_TEST_FLAGS) ./... || rc=$$?; \
	if [ $$rc -eq 0 ]; then $(MAKE) -s fuzz || rc=$$?; fi; \
	if [ $$started -eq 1 ] && [ "$${KEEP_CLUSTER:-0}" != 1 ]; then testenv/cluster.sh down; fi; \
	exit $$rc

test-unit: ## unit tests only (integration tests skip without a cluster)
	go test ./...

fuzz: ## run each fuzz target briefly
	go test -run '^$$' -fuzz '^FuzzInspect$$' -fuzztime 20s ./jarfile
	go test -run '^$$' -fuzz '^FuzzDecodeLeader$$' -fuzztime 15s ./zk
	go test -run '^$$' -fuzz '^FuzzDecodeActiveRMInfo$$' -fuzztime 10s ./zk
	go test -run '^$$' -fuzz '^FuzzSnapshotDecode$$' -fuzztime 10s ./zk
	go test -run '^$$' -fuzz '^FuzzLaunchShell$$' -fuzztime 20s ./flink
	go test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime 15s ./yarnlogs

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck, the dependency rules (tools/layers)
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	go run ./tools/layers

$(STATICCHECK):
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	mv $(TOOLS)/staticcheck $@

bench: ## benchmarks against the real cluster (Kerberized too), as ratios to a baseline measured in the same run (BENCH_FLAGS)
	@command -v wrk >/dev/null || testenv/install-wrk.sh
	@# YARNGATE_CLUSTER_ENV names the cluster.env of a cluster started elsewhere (another checkout): used as it is.
	@if [ -n "$$YARNGATE_CLUSTER_ENV" ]; then echo "bench: the cluster of $$YARNGATE_CLUSTER_ENV"; else testenv/cluster.sh up; fi
	source $${YARNGATE_CLUSTER_ENV:-$(CLUSTER_ENV)} && go run ./cmd/yarngate-bench $(BENCH_FLAGS)

bench-scale: ## scale benchmark on the simulator: reconciler (10^4 jobs, 500 sessions x 20), status reads and list pages at 10^3..10^5 records, 5,000 long polls, the registry's heap per record (10^5); the ZooKeeper registry with 10^5 records in the test cluster's ZooKeeper (SCALE_FLAGS)
	go build -o $(TOOLS)/yarngate-scale ./cmd/yarngate-scale
	@# One process per part, so that the memory figures of one are not another's.
	$(TOOLS)/yarngate-scale -only reconcile $(SCALE_FLAGS)
	$(TOOLS)/yarngate-scale -only reads $(SCALE_FLAGS)
	$(TOOLS)/yarngate-scale -only longpolls $(SCALE_FLAGS)
	$(TOOLS)/yarngate-scale -only memory $(SCALE_FLAGS)
	@# The ZooKeeper part needs the test cluster's ZooKeeper (YARNGATE_CLUSTER_ENV: a cluster started elsewhere).
	@if [ -n "$$YARNGATE_CLUSTER_ENV" ]; then echo "bench-scale: the cluster of $$YARNGATE_CLUSTER_ENV"; else testenv/cluster.sh up; fi
	source $${YARNGATE_CLUSTER_ENV:-$(CLUSTER_ENV)} && $(TOOLS)/yarngate-scale -only zk $(SCALE_FLAGS)

cluster-up: ## start the real test cluster (HDFS, YARN, ZooKeeper, Flink); HA=1 two ResourceManagers, KERBEROS=1 Kerberized (KDC, SPNEGO), STANDALONE=1 also a Flink standalone-HA cluster
	testenv/cluster.sh up

cluster-down: ## stop the test cluster
	testenv/cluster.sh down

cluster-status: ## show the test cluster's processes and health
	testenv/cluster.sh status

rm-failover: ## (HA=1 cluster) kill -9 the active ResourceManager and wait for the standby to take over
	testenv/cluster.sh rm-failover

rm-restore: ## (HA=1 cluster) start the stopped ResourceManager again; it rejoins as standby
	testenv/cluster.sh rm-restore

zk-restart: ## stop the test cluster's ZooKeeper and start it again (YARNGATE_TE_ZK_DOWN_SECONDS, default 5): watch yarngate recover
	testenv/cluster.sh zk-restart

kdc-stop: ## (KERBEROS=1 cluster) stop the KDC: watch the gateway's readiness say why
	testenv/cluster.sh kdc-stop

kdc-start: ## (KERBEROS=1 cluster) start the KDC again with the same keys (tickets and keytabs stay valid)
	testenv/cluster.sh kdc-start

fetch: ## download and assemble Hadoop and Flink into the cache, build the example job
	testenv/cluster.sh fetch

demo: build cluster-up ## start the cluster and the gateway, submit the example job, print the app ID and links
	testenv/demo.sh

example-jar: $(EXAMPLE_JAR) ## build the example Flink job

$(EXAMPLE_JAR): $(shell find $(EXAMPLE_DIR)/src -name '*.java')
	@test -f $(FLINK_HOME)/lib/flink-dist-*.jar || testenv/cluster.sh fetch
	@rm -rf $(EXAMPLE_DIR)/target && mkdir -p $(EXAMPLE_DIR)/target/classes $(EXAMPLE_DIR)/target/check2
	@# Compile against 1.20 for the jar, and against 2.x as a check that only shared API is used.
	javac --release 11 -cp '$(FLINK_HOME)/lib/*' -d $(EXAMPLE_DIR)/target/classes $^
	javac --release 11 -cp '$(FLINK2_HOME)/lib/*' -d $(EXAMPLE_DIR)/target/check2 $^
	printf 'Main-Class: dev.yarngate.example.SumJob\n' > $(EXAMPLE_DIR)/target/manifest.txt
	jar --create --file $@ --manifest $(EXAMPLE_DIR)/target/manifest.txt -C $(EXAMPLE_DIR)/target/classes .

airflow-venv: ## build the pinned Airflow virtualenv of the provider's tests (integrations/airflow/install.sh; go test runs it too)
	integrations/airflow/install.sh

clean: ## remove build output (not the download cache)
	rm -rf bin $(EXAMPLE_DIR)/target
