# Thaw: the two commands a newcomer runs, and the ones developers use.
#   make demo   builds and runs the example service in local mode: scale from zero, a burst, back to zero
#   make test   installs what the tests need, builds, and runs every test

SWIFT ?= swift
BUILD_FLAGS ?=
# Debian packages the build and tests need; installed only when missing.
SYSTEM_PACKAGES ?= curl pkg-config libcurl4-openssl-dev libprotobuf-c-dev libsnappy-dev zlib1g-dev
# What only the tests need: a real Prometheus server (started and stopped by the tests themselves, with
# promtool for backfills) and openssl (the TLS tests make their own CA).
TEST_PACKAGES ?= prometheus openssl
# Python packages the tests need: grpcio as a gRPC client and model server nobody here wrote, its
# code generator for the test's .proto, and the standard health service. Installed only when missing.
TEST_PYTHON_PACKAGES ?= grpcio grpcio-tools grpcio-health-checking
# Extra packages for `make bench-activator`: the load generator and the proxy we compare against.
BENCH_PACKAGES ?= wrk nginx
BIN = $(shell $(SWIFT) build $(BUILD_FLAGS) --show-bin-path 2>/dev/null)

.PHONY: all build test python-deps demo dashboards simulate replay proto bench bench-scaling bench-activator bench-grpc bench-cold-start bench-remote-read bench-kubernetes bench-memory bench-instructions fuzz deps clean help

all: build

# The Grafana dashboards, alert rules and their ConfigMap and PrometheusRule forms, from dashboards/build.py.
dashboards:
	python3 dashboards/build.py

help:
	@echo "make demo    build and run examples/digits in local mode with traffic (about a minute)"
	@echo "make replay  replay examples/bursty.csv through the decision core (no processes)"
	@echo "make test    install test prerequisites, build, run every test"
	@echo "make dashboards  rebuild the Grafana dashboards and alert rules from dashboards/build.py"
	@echo "make bench   run the decision benchmark (Benchmarks/, release build)"
	@echo "make bench-scaling  replay generated traces through Thaw's policy, the KPA, an HPA model and the clairvoyant bound (docs/scaling/)"
	@echo "make bench-activator   wrk: backend direct vs thaw-activator vs nginx proxy_pass (release build)"
	@echo "make bench-grpc  h2load unary gRPC calls: backend direct vs thaw-activator vs nginx grpc_pass (release build)"
	@echo "make bench-cold-start  how soon buffered requests reach a replica after its probe passes"
	@echo "make bench-remote-read  1,000,000 samples: remote read (both modes) against the query_range JSON path"
	@echo "make bench-kubernetes  10,000 Deployments, 30,000 pods: time to know them, RSS, pod Ready to routed"
	@echo "make bench-instructions  instructions per proxied request, thaw-activator against nginx, counted under qemu-x86_64"
	@echo "make bench-memory  10,000 requests waiting at zero: thaw-activator's memory then, answered, and after"
	@echo "make fuzz    libFuzzer on the request and response framing and the routing-file reader (FUZZ_SECONDS each, default 60)"
	@echo "make proto   regenerate the remote-read protobuf C code from proto/*.proto (protoc-c)"

deps:
	@command -v $(SWIFT) >/dev/null 2>&1 || { \
	  echo "error: '$(SWIFT)' not found. Thaw needs Swift 6.1 or newer: install the toolchain from swift.org and put it on PATH." >&2; exit 1; }
	@missing=""; for p in $(SYSTEM_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

python-deps:
	@python3 -c "import grpc, grpc_tools, grpc_health" 2>/dev/null || { \
	  echo "==> installing Python packages: $(TEST_PYTHON_PACKAGES)"; \
	  python3 -m pip install --quiet $(TEST_PYTHON_PACKAGES) 2>/dev/null || python3 -m pip install --quiet --break-system-packages $(TEST_PYTHON_PACKAGES); }

build: deps
	@echo "==> building (debug)"
	$(SWIFT) build $(BUILD_FLAGS)

# The real kubectl checks what the Kubernetes code reads and serves; Debian's kubernetes-client
# brings one where the machine has none.
KUBECTL_PACKAGE = $(shell command -v kubectl >/dev/null 2>&1 || echo kubernetes-client)

test:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES) $(KUBECTL_PACKAGE)"
	@$(MAKE) --no-print-directory python-deps
	@echo "==> building and running every test"
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build

demo: build
	@echo "==> thaw demo: examples/digits/mlservice.yaml in local mode (activator, autoscaler, replicas as processes)"
	@echo "    a digit classifier (releases v1 and a 20% canary v2) behind an image transformer, all starting at zero"
	@echo
	$(BIN)/thaw demo examples/digits/mlservice.yaml --port 0

replay: build
	@echo "==> thaw simulate: replaying examples/bursty.csv with examples/policy.yaml"
	@echo "    (rps demand per second; replicas take 5 s to become ready; '!' marks panic mode)"
	@echo
	$(BIN)/thaw simulate --policy examples/policy.yaml --replay examples/bursty.csv --start-delay 5

# Regenerates the remote-read protobuf C code from proto/*.proto (needs protoc-c: protobuf-c-compiler).
proto:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="protobuf-c-compiler"
	rm -rf .build-proto && mkdir -p .build-proto
	protoc-c --c_out=.build-proto -I proto proto/remote.proto proto/types.proto
	cp .build-proto/*.pb-c.c Sources/CPromPB/
	cp .build-proto/*.pb-c.h Sources/CPromPB/include/
	rm -rf .build-proto

bench: deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark

bench-activator:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PACKAGES)"
	Benchmarks/activator.sh

# h2load (nghttp2-client) unary gRPC calls: backend direct vs thaw-activator vs nginx grpc_pass.
bench-grpc:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="nghttp2-client nginx"
	Benchmarks/grpc.sh

bench-memory: deps
	Benchmarks/buffered_memory.py

# Scaling quality by replay (no processes): every generated trace, load times 5 s and 30 s, from zero
# and always on, Thaw's policy beside the KPA, an HPA model and the clairvoyant bound. Seed 1 is
# plotted; seed 2 is traffic the policy was never looked at on. Writes docs/scaling/ (a minute or two).
bench-scaling: build
	@mkdir -p docs/scaling
	BIN=$(BIN) OUT=docs/scaling SEEDS="1 2" Benchmarks/scaling/run.sh | tee docs/scaling/results.md

# Instruction counts repeat exactly where time does not; a QEMU plugin counts them (no hardware
# counters needed). qemu-user, nginx and gcc are installed when missing.
bench-instructions:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="qemu-user nginx gcc"
	Benchmarks/instructions.sh

bench-remote-read:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES)"
	$(SWIFT) build -c release --product thaw-collector
	python3 Benchmarks/remote_read.py "$$($(SWIFT) build -c release --show-bin-path)"

bench-cold-start: deps
	$(SWIFT) build -c release --product thaw-activator
	$(SWIFT) build -c release --product echo-backend
	python3 Benchmarks/cold_start.py "$$($(SWIFT) build -c release --show-bin-path)"

# The daemons on a large cluster (the tests' fake API server): time to know 10,000 targets, RSS,
# and the delay from a pod turning Ready to the activator routing to it.
bench-kubernetes:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES)"
	$(SWIFT) build -c release --product thaw-autoscaler
	$(SWIFT) build -c release --product thaw-activator
	$(SWIFT) build -c release --product echo-backend
	python3 Benchmarks/kubernetes.py "$$($(SWIFT) build -c release --show-bin-path)"

clean:
	rm -rf .build Benchmarks/.build

# Coverage-guided fuzzing (libFuzzer, swiftc -sanitize=fuzzer) of what the proxy reads: client
# requests (decoded, re-encoded for the replica, decoded again: the same request and nothing more),
# replica responses (framed the same whole or in pieces) and routing files (written and read back
# equal). Its own build directory; each target runs FUZZ_SECONDS. Fuzz/corpus/TARGET holds the
# seeds and is replayed by `make test`; copy what a run finds (.build/fuzz-findings/) there.
# (SWIFT_BACKTRACE off: libFuzzer, not Swift's backtracer, must catch a trap to save the input.)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request response routing
fuzz: deps
	@echo "==> building thaw-fuzz with -sanitize=fuzzer (its own build directory, .build/fuzz)"
	$(SWIFT) build -c release --scratch-path .build/fuzz --product thaw-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -enable-testing -Xswiftc -DTHAW_FUZZING
	@for target in $(FUZZ_TARGETS); do \
	  echo "==> fuzzing $$target for $(FUZZ_SECONDS) s (corpus .build/fuzz-corpus/$$target, seeds Fuzz/corpus/$$target)"; \
	  mkdir -p .build/fuzz-corpus/$$target .build/fuzz-findings/$$target; \
	  SWIFT_BACKTRACE=enable=no THAW_FUZZ_TARGET=$$target .build/fuzz/release/thaw-fuzz .build/fuzz-corpus/$$target Fuzz/corpus/$$target \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=.build/fuzz-findings/$$target/ > .build/fuzz-findings/$$target/log 2>&1; \
	  status=$$?; \
	  grep -E "^#[0-9]+ +DONE|^stat::(number_of_executed_units|peak_rss_mb)|ERROR|SUMMARY|Test unit written|Fatal error" .build/fuzz-findings/$$target/log; \
	  if [ "$$status" != 0 ]; then echo "fuzz: $$target found a failing input (see .build/fuzz-findings/$$target/); add it to Fuzz/corpus/$$target once fixed" >&2; exit 1; fi; \
	done
