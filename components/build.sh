#!/bin/sh
# Builds one pinned upstream component into build/cache/<name>-<version>/ and
# does nothing when that directory is already complete, so a second build
# never recompiles. Usage: components/build.sh kubelet|containerd|runc|kernel|stub
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/versions.env"
cache=${KIOS_CACHE:-$root/build/cache}
mkdir -p "$cache"
# A go.mod makes the cache its own (empty) module, so `go test ./...`
# does not walk into the unpacked trees (some are root's alone).
[ -f "$cache/../go.mod" ] || printf '// Built components, not Go code: this file keeps ./... patterns out.\nmodule kios.local/build\n' > "$cache/../go.mod"
export CGO_ENABLED=0 GOFLAGS=-trimpath

done_or_build() { # name-version: succeeds if the cache entry is complete
	[ -f "$cache/$1/.complete" ]
}
# The version ldflags of Kubernetes programs, so they report the pinned
# version instead of v0.0.0-master.
k8s_ldflags() {
	v=${KUBERNETES_VERSION#v}; major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
	pkg=k8s.io/component-base/version
	echo "-s -w -buildid= -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor" \
		"-X $pkg.gitTreeState=clean -X $pkg.buildDate=$KUBERNETES_BUILD_DATE -X $pkg.gitCommit=module-$KUBERNETES_VERSION" \
		"-X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
}
finish() { touch "$cache/$1/.complete"; echo "components: built $1"; }

case "$1" in
kubelet)
	d=kubelet-$KUBERNETES_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	ld=$(k8s_ldflags)
	(cd "$here/kubernetes" && go build -ldflags "$ld" -o "$cache/$d/kubelet" k8s.io/kubernetes/cmd/kubelet)
	finish "$d" ;;
controlplane|kubectl)
	# The lab's control plane (and, as "kubectl", kubectl alone), from
	# the kubelet's module.
	d=$1-$KUBERNETES_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	ld=$(k8s_ldflags)
	programs="kube-apiserver kube-controller-manager kube-scheduler"
	if [ "$1" = kubectl ]; then programs=kubectl; fi
	for p in $programs; do
		(cd "$here/kubernetes" && go build -ldflags "$ld" -o "$cache/$d/$p" k8s.io/kubernetes/cmd/$p)
	done
	finish "$d" ;;
etcd)
	d=etcd-$ETCD_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	(cd "$here/etcd" && go build -ldflags "-s -w -buildid=" -o "$cache/$d/etcd" .)
	finish "$d" ;;
cni)
	d=cni-$CNI_PLUGINS_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	for p in ipam/host-local main/bridge main/loopback meta/portmap; do
		(cd "$here/cni" && go build -ldflags "-s -w -buildid= -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
			-o "$cache/$d/$(basename $p)" github.com/containernetworking/plugins/plugins/$p)
	done
	finish "$d" ;;
containerd)
	d=containerd-$CONTAINERD_VERSION
	# The shim is upstream's with group starts serialised (shim/main.go),
	# built with upstream's shim tag no_grpc (it serves ttrpc only): a
	# change to either, or to the tags, rebuilds both.
	# nri_no_wasm, no_tracing, no_rdt: code for plugins the node's
	# config.toml disables (NRI, tracing) or never uses (RDT).
	tags="no_btrfs no_devmapper no_zfs no_aufs urfave_cli_no_docs nri_no_wasm no_tracing no_rdt"
	shimtags="$tags no_grpc"
	if done_or_build "$d" && [ ! "$here/containerd/shim/main.go" -nt "$cache/$d/.complete" ] &&
		[ "$(cat "$cache/$d/.shim-tags" 2>/dev/null)" = "$shimtags" ]; then exit 0; fi
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	pkg=github.com/containerd/containerd/v2/version
	ld="-s -w -buildid= -X $pkg.Version=$CONTAINERD_VERSION -X $pkg.Revision=module -X $pkg.Package=github.com/containerd/containerd/v2"
	(cd "$here/containerd" &&
		go build -tags "$tags" -ldflags "$ld" -o "$cache/$d/containerd" github.com/containerd/containerd/v2/cmd/containerd &&
		go build -tags "$shimtags" -ldflags "$ld" -o "$cache/$d/containerd-shim-runc-v2" ./shim)
	echo "$shimtags" > "$cache/$d/.shim-tags"
	finish "$d" ;;
runc)
	d=runc-$RUNC_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	[ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] || { echo "components: runc needs libseccomp-dev (apt-get install libseccomp-dev)" >&2; exit 1; }
	ld="-s -w -buildid= -X main.version=${RUNC_VERSION#v} -X main.gitCommit=module -extldflags -static"
	(cd "$here/runc" && CGO_ENABLED=1 go build -tags "seccomp netgo osusergo" -ldflags "$ld" -o "$cache/$d/runc" github.com/opencontainers/runc)
	finish "$d" ;;
e2e)
	# The upstream conformance suite (make conformance): e2e.test as
	# Kubernetes' own build makes it (go test -c of its test/e2e), the ginkgo
	# runner that runs it in parallel processes, and the programs of two
	# test images (agnhost, nnp), all from the kubelet's module.
	d=e2e-$KUBERNETES_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	ld=$(k8s_ldflags)
	(cd "$here/kubernetes" &&
		go test -c -ldflags "$ld" -o "$cache/$d/e2e.test" k8s.io/kubernetes/test/e2e &&
		go build -ldflags "-s -w -buildid=" -o "$cache/$d/ginkgo" github.com/onsi/ginkgo/v2/ginkgo &&
		go build -ldflags "$ld" -o "$cache/$d/agnhost" k8s.io/kubernetes/test/images/agnhost &&
		go build -ldflags "-s -w -buildid=" -o "$cache/$d/nnp" k8s.io/kubernetes/test/images/nonewprivs)
	m=$(cd "$here/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
	mkdir -p "$cache/$d/agnhost-files"
	cp "$m/test/images/agnhost/porter/localhost.crt" "$m/test/images/agnhost/porter/localhost.key" "$cache/$d/agnhost-files/"
	finish "$d" ;;
busybox)
	# The test images' busybox: upstream's source, its default
	# configuration, linked statically, as upstream's busybox image is.
	d=busybox-$BUSYBOX_VERSION
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d/src"
	curl -fsSL -o "$cache/$d/busybox.tar.bz2" "$BUSYBOX_URL" ||
		{ echo "components: download $BUSYBOX_URL failed" >&2; exit 1; }
	got=$(sha256sum "$cache/$d/busybox.tar.bz2" | cut -d' ' -f1)
	[ "$got" = "$BUSYBOX_SHA256" ] || { echo "components: $BUSYBOX_URL has sha256 $got, versions.env pins $BUSYBOX_SHA256" >&2; exit 1; }
	tar -xjf "$cache/$d/busybox.tar.bz2" -C "$cache/$d/src" --strip-components=1
	# A fixed build date, so the same source gives the same binary; tc
	# does not build against current kernel headers, and no test runs it.
	(cd "$cache/$d/src" && export SOURCE_DATE_EPOCH=0 && make -s defconfig >/dev/null &&
		sed -i -e 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/' -e 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config &&
		make -s -j"$(nproc)" busybox >"$cache/$d/build.log" 2>&1) ||
		{ tail -20 "$cache/$d/build.log" >&2; echo "components: busybox build failed" >&2; exit 1; }
	cp "$cache/$d/src/busybox" "$cache/$d/busybox"
	rm -rf "$cache/$d/src" "$cache/$d/busybox.tar.bz2"
	finish "$d" ;;
e2e-debs)
	# The Debian packages the test images are made of (busybox for the
	# shells and tools, nginx and the libraries it links), unpacked one
	# directory per package; versions.txt records what was downloaded.
	key=$(printf '%s' "$TESTIMAGE_PACKAGES" | sha256sum | cut -c1-12)
	d=e2e-debs-$key
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d/debs"
	pkgs=$(echo "$TESTIMAGE_PACKAGES" | tr , ' ')
	(cd "$cache/$d/debs" && apt-get download $pkgs >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null 2>&1 && cd "$cache/$d/debs" && apt-get download $pkgs >/dev/null 2>&1; } ||
		{ echo "components: apt-get download $pkgs failed" >&2; exit 1; }
	for deb in "$cache/$d"/debs/*.deb; do
		p=$(dpkg-deb -f "$deb" Package)
		dpkg-deb -x "$deb" "$cache/$d/$p"
		echo "$p $(dpkg-deb -f "$deb" Version) $(sha256sum "$deb" | cut -d' ' -f1)" >>"$cache/$d/versions.txt"
	done
	rm -rf "$cache/$d/debs"
	ln -sfn "$d" "$cache/e2e-debs"
	finish "$d" ;;
kernel|stub)
	if [ "$1" = kernel ]; then p=$KERNEL_PACKAGE v=$KERNEL_VERSION sum=$KERNEL_SHA256; else p=$STUB_PACKAGE v=$STUB_VERSION sum=$STUB_SHA256; fi
	d=$1-$v
	done_or_build "$d" && exit 0
	rm -rf "$cache/$d" && mkdir -p "$cache/$d/root"
	# A fresh machine may have no package lists yet: update once and retry.
	(cd "$cache/$d" && apt-get download "$p=$v" >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null 2>&1 && cd "$cache/$d" && apt-get download "$p=$v" >/dev/null 2>&1; } ||
		{ echo "components: apt-get download $p=$v failed" >&2; exit 1; }
	deb=$(ls "$cache/$d"/*.deb)
	got=$(sha256sum "$deb" | cut -d' ' -f1)
	if [ -n "$sum" ] && [ "$got" != "$sum" ]; then
		echo "components: $deb has sha256 $got, components/versions.env pins $sum" >&2; exit 1
	fi
	dpkg-deb -x "$deb" "$cache/$d/root"
	rm -f "$deb"
	finish "$d" ;;
baseline)
	# A conventional node's root for `make bench`: Debian by debootstrap,
	# with systemd as init and the pinned kernel installed by dpkg, whose
	# postinst makes the initramfs with Debian's initramfs-tools.
	key=$(printf '%s %s %s' "$BASELINE_SUITE" "$BASELINE_PACKAGES" "$KERNEL_VERSION" | sha256sum | cut -c1-12)
	d=baseline-$key
	done_or_build "$d" && exit 0
	command -v debootstrap >/dev/null || { echo "components: baseline needs debootstrap (make deps)" >&2; exit 1; }
	rm -rf "$cache/$d" && mkdir -p "$cache/$d"
	r=$cache/$d/root
	debootstrap --variant=minbase --include="$BASELINE_PACKAGES" "$BASELINE_SUITE" "$r" http://deb.debian.org/debian >"$cache/$d/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/$d/debootstrap.log" >&2; echo "components: debootstrap failed" >&2; exit 1; }
	(cd "$r/tmp" && apt-get download "$KERNEL_PACKAGE=$KERNEL_VERSION" >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null 2>&1 && cd "$r/tmp" && apt-get download "$KERNEL_PACKAGE=$KERNEL_VERSION" >/dev/null 2>&1; } ||
		{ echo "components: apt-get download $KERNEL_PACKAGE=$KERNEL_VERSION failed" >&2; exit 1; }
	deb=$(ls "$r"/tmp/*.deb)
	got=$(sha256sum "$deb" | cut -d' ' -f1)
	[ "$got" = "$KERNEL_SHA256" ] || { echo "components: $deb has sha256 $got, versions.env pins $KERNEL_SHA256" >&2; exit 1; }
	mount -t proc proc "$r/proc"
	trap 'umount "$r/proc" 2>/dev/null || true' EXIT
	chroot "$r" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb") && apt-get clean" >>"$cache/$d/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/$d/debootstrap.log" >&2; echo "components: kernel install in the baseline root failed" >&2; exit 1; }
	umount "$r/proc"
	rm -f "$deb" && rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin
	ln -sfn "$d" "$cache/baseline"
	finish "$d" ;;
*)
	echo "components: unknown component $1" >&2; exit 2 ;;
esac
