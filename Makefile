# kiOS: `make run` boots a node in QEMU, `make test` proves it works.
SHELL := /bin/bash
OUT   := out
PARTS := $(OUT)/parts
GO    := go
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -buildid="
DEBIAN_PACKAGES := qemu-system-x86 qemu-utils ovmf libseccomp-dev squashfs-tools fdisk iproute2 dosfstools mtools xorriso e2fsprogs procps mount openssl debootstrap gcc make libc6-dev bzip2 curl dnsmasq-base
include components/versions.env

.PHONY: all deps components controlplane parts build run node test unit fuzz fuzz-corpus e2e bench bench-config bench-pods bench-floor bench-probe bench-churn conformance clean

all: build

# Debian packages the build and the VMs need. As root they are installed;
# otherwise the apt-get line is printed.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "deps: installing $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "deps: run: sudo apt-get install -y $$missing"; exit 1; \
		fi; \
	fi

components: deps
	@components/build.sh kernel
	@components/build.sh stub
	@components/build.sh containerd
	@components/build.sh runc
	@components/build.sh kubelet

# The lab's upstream control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl) and the CNI plugins.
controlplane: deps
	@components/build.sh etcd
	@components/build.sh controlplane
	@components/build.sh cni

# Everything `kios build` assembles, staged under out/parts. out/kios is
# the user's command (root module); out/kios-dev the development command
# (the dev module: benchmarks, conformance, mkimage, the lab's Debian
# baseline), whose dependencies the root module does not carry.
parts: components controlplane
	@mkdir -p $(PARTS)/bin $(PARTS)/images $(OUT)/bin
	$(GOBUILD) -o $(OUT)/kios ./cmd/kios
	cd dev && $(GOBUILD) -o $(abspath $(OUT))/kios-dev ./cmd/kios-dev
	$(GOBUILD) -o $(PARTS)/bin/init ./cmd/init
	$(GOBUILD) -o $(PARTS)/initramfs-init ./cmd/initramfs-init
	@mkdir -p $(PARTS)/extra
	@for p in pause system demo cni-installer; do $(GOBUILD) -o $(OUT)/bin/$$p ./cmd/$$p || exit 1; done
	@cp -f build/cache/kubelet-$(KUBERNETES_VERSION)/kubelet $(PARTS)/bin/kubelet
	@cp -f build/cache/containerd-$(CONTAINERD_VERSION)/containerd build/cache/containerd-$(CONTAINERD_VERSION)/containerd-shim-runc-v2 $(PARTS)/bin/
	@cp -f build/cache/runc-$(RUNC_VERSION)/runc $(PARTS)/bin/runc
	@ln -sfn ../../build/cache/kernel-$(KERNEL_VERSION)/root $(PARTS)/kernel
	@cp -f build/cache/stub-$(STUB_VERSION)/root/usr/lib/systemd/boot/efi/linuxx64.efi.stub $(PARTS)/stub.efi
	@cp -f build/cache/stub-$(STUB_VERSION)/root/usr/lib/systemd/boot/efi/systemd-bootx64.efi $(PARTS)/loader.efi
	@for p in pause system; do $(OUT)/kios-dev mkimage --uncompressed --binary $(OUT)/bin/$$p --name localhost/kios/$$p:v1 -o $(PARTS)/images/$$p.tar || exit 1; done
	@rm -f $(PARTS)/extra/join.tar
	@$(OUT)/kios-dev mkimage --binary $(OUT)/bin/cni-installer --name localhost/kios/cni-installer:v1 -o $(PARTS)/extra/cni-installer.tar \
		$(foreach p,bridge host-local loopback portmap,--add build/cache/cni-$(CNI_PLUGINS_VERSION)/$(p):plugins/$(p))
	@$(OUT)/kios-dev mkimage --binary $(OUT)/bin/demo --name localhost/kios/demo:v1 -o $(OUT)/demo-image.tar

build: parts
	$(OUT)/kios build -o $(OUT)/kios-amd64.efi

KUBECTL = build/cache/kubectl-$(KUBERNETES_VERSION)/kubectl --kubeconfig $(OUT)/lab/kubeconfig

# A local cluster (kios up) with the demo Deployment, answering on
# http://localhost:8080 until Ctrl-C; `out/kios down` stops the cluster.
run: build
	@components/build.sh kubectl
	$(OUT)/kios up --dir $(OUT)/lab
	$(OUT)/kios load --dir $(OUT)/lab $(OUT)/demo-image.tar
	$(KUBECTL) apply -f examples/demo-deployment.yaml
	$(KUBECTL) rollout status deployment/demo --timeout=5m
	$(KUBECTL) get nodes,pods -o wide
	@echo "run: the demo answers on http://localhost:8080 (curl it from another terminal); Ctrl-C ends the forward, 'out/kios down --dir out/lab' stops the cluster"
	$(KUBECTL) port-forward deployment/demo 8080:8080

# One standalone node in QEMU with the demo static pod on localhost:8080
# and the boot timeline; Ctrl-C powers it off.
node: build
	$(OUT)/kios build --config examples/demo-node --image $(OUT)/demo-image.tar -o $(OUT)/kios-demo.efi
	@echo "node: booting; the demo pod answers on http://localhost:8080; Ctrl-C powers off"
	$(OUT)/kios vm --efi $(OUT)/kios-demo.efi --forward 8080:80 --timeline

# Everything, as root: the root module's tests, the shim's, then the dev
# module's (the VM tests of dev/e2e among them). KIOS_TEST_ALL=1 turns a
# test's "needs root" or "needs a built component" skip into a failure,
# so nothing passes here without having run. The dev module's output is
# summarised by testsum (each test's result and duration, the whole
# output of failures); out/test-durations.txt keeps the durations. The
# e2e suite's binary and test images' packages are for the conformance
# smoke in TestUpLoadDown (make conformance runs the suite).
test: build controlplane
	@components/build.sh e2e
	@components/build.sh e2e-debs
	@components/build.sh busybox
	KIOS_TEST_ALL=1 $(GO) test -count=1 -timeout 30m ./...
	cd components/containerd && $(GO) test -count=1 ./shim
	cd dev && $(GO) build -o $(abspath $(OUT))/bin/testsum ./cmd/testsum
	set -o pipefail; cd dev && KIOS_TEST_ALL=1 KIOS_VM=1 $(GO) test -json -count=1 -timeout 75m ./... \
		| $(abspath $(OUT))/bin/testsum -durations $(abspath $(OUT))/test-durations.txt
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

# Both modules' unit tests: no root, no VMs (a test that needs either
# skips and says why; -short also skips the control plane test).
unit:
	$(GO) test -count=1 -short ./...
	cd dev && $(GO) test -count=1 -short ./...

# The VM tests of dev/e2e alone, verbose (root); RUN narrows them to
# matching tests (go test -run), e.g. make e2e RUN=TestUpLoadDown.
# KIOS_TIME_SCALE=2 doubles every wait on a slow machine.
RUN ?= .
e2e: build controlplane
	@components/build.sh e2e
	@components/build.sh e2e-debs
	@components/build.sh busybox
	cd dev && KIOS_VM=1 $(GO) test -count=1 -timeout 75m -v ./e2e -run '$(RUN)'

# Every fuzz target for FUZZTIME each (the seeds also run in make test).
FUZZTIME ?= 10s
# Every fuzz target runs TEST_FUZZTIME (a count of inputs, so a busy
# machine cannot cut the baseline short) in `make test` (longer with
# `make fuzz FUZZTIME=1m`); `make fuzz-corpus` copies what the fuzzer
# found interesting into each package's testdata/fuzz, to be committed.
TEST_FUZZTIME ?= 5000x

fuzz-corpus:
	@cache=$$($(GO) env GOCACHE)/fuzz; \
	for pkg in $$($(GO) list ./internal/...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			[ -d $$cache/$$pkg/$$f ] || continue; \
			mkdir -p $$dir/testdata/fuzz/$$f; \
			ls $$cache/$$pkg/$$f | head -n 25 | while read c; do cp -n $$cache/$$pkg/$$f/$$c $$dir/testdata/fuzz/$$f/; done; \
		done; \
	done

fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz: $$pkg $$f"; \
			out=$$($(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
		done; \
	done

# The benchmarks (not part of make test): three boots of the EFI alone
# (boot.json), then kiOS on its disk, a conventional Debian node built
# here and kiOS RAM-only, BENCH_PAIRS rounds of one boot of each in turn
# in one lab cluster (report.md, report.json, timeline.png). See
# docs/benchmark.md.
BENCH_PAIRS ?= 5
BENCH_PODS ?= 10
bench-probe: build controlplane
	@components/build.sh baseline
	cd dev && $(GOBUILD) -o $(abspath $(OUT))/bin/benchprobe ./cmd/benchprobe
	$(OUT)/kios-dev mkimage --binary $(OUT)/bin/benchprobe --name localhost/kios/benchprobe:v1 -o $(OUT)/benchprobe.tar

bench: bench-probe
	$(OUT)/kios-dev bench --efi $(OUT)/kios-amd64.efi --boots 3 --out $(OUT)/bench
	$(OUT)/kios-dev bench --baseline --pairs $(BENCH_PAIRS) --pods $(BENCH_PODS) --out $(OUT)/bench
	$(OUT)/kios-dev bench --config-sources --boots 3 --out $(OUT)/bench

# Boot to Ready of one stock EFI configured by a NoCloud volume, a
# kios.config= URL and the EC2 metadata service (AWS's mock), against the
# same join baked in (sources.md; docs/config.md).
bench-config: build controlplane
	$(OUT)/kios-dev bench --config-sources --boots 3 --out $(OUT)/bench

# The same comparison grown to 100 pods (10 at a time) on each node:
# seconds to Running and RAM per pod (report in out/bench-pods). Under
# emulation its first round ran over 90 minutes on 2026-12-01 (two of its
# three boots: bench/results/pods), so it is its own target with one round
# by default (docs/benchmark.md).
BENCH_POD_PAIRS ?= 1
bench-pods: bench-probe
	$(OUT)/kios-dev bench --baseline --pairs $(BENCH_POD_PAIRS) --pods 10,50,100 --no-shutdown --out $(OUT)/bench-pods

# The smallest VM memory (64 MiB steps down from 1024 MiB, bisected) in
# which each system of the comparison reaches Ready and runs 10 pause
# pods for a minute without an OOM kill (floor.md, floor.json).
bench-floor: bench-probe
	$(OUT)/kios-dev bench --floor --out $(OUT)/bench

# An hour of pod churn on one node, then the host-process audit (make
# test churns for two minutes).
CHURN ?= 1h
bench-churn: build
	cd dev && KIOS_VM=1 KIOS_CHURN=$(CHURN) $(GO) test ./e2e -run '^TestChurn$$' -count=1 -timeout 3h -v

# The upstream [NodeConformance] tests (e2e.test of the kubelet's own
# Kubernetes module) against a two-node `kios-dev up` lab, test images built
# here and served by the lab registry; report in out/conformance
# (docs/conformance.md). `make conformance NODE=baseline` runs them
# against two of the benchmark's Debian nodes in the same lab, for the
# report's second column; `make conformance KUBECONFIG=FILE` against
# another cluster with kiOS nodes. CONFORMANCE_FOCUS narrows the run to
# matching tests (one pass).
NODE ?= kios
CONFORMANCE_PROCS ?= 4
CONFORMANCE_TIMEOUT ?= 4h
CONFORMANCE_FLAGS = --procs $(CONFORMANCE_PROCS) --timeout $(CONFORMANCE_TIMEOUT) $(if $(CONFORMANCE_FOCUS),--focus '$(CONFORMANCE_FOCUS)')
conformance: build
	@components/build.sh e2e
	@components/build.sh e2e-debs
	@components/build.sh busybox
ifeq ($(origin KUBECONFIG),command line)
	$(OUT)/kios-dev conformance --kubeconfig $(KUBECONFIG) --node cluster $(CONFORMANCE_FLAGS)
else
	@if [ "$(NODE)" = baseline ]; then components/build.sh baseline; fi
	@# A fresh lab each run: kios up keeps a previous lab's etcd, whose
	@# other node system's Nodes would stay NotReady in the suite's cluster.
	@if [ -e $(OUT)/conformance-lab/lab.pid ]; then $(OUT)/kios-dev down --dir $(OUT)/conformance-lab >/dev/null 2>&1 || true; fi
	rm -rf $(OUT)/conformance-lab
	$(OUT)/kios-dev up --nodes 2 --dir $(OUT)/conformance-lab $(if $(filter baseline,$(NODE)),--baseline,--ram-only)
	$(OUT)/kios-dev conformance --dir $(OUT)/conformance-lab --node $(NODE) $(CONFORMANCE_FLAGS); \
		status=$$?; $(OUT)/kios-dev down --dir $(OUT)/conformance-lab; exit $$status
endif

clean:
	rm -rf $(OUT)
