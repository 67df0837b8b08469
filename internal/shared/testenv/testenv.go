// Package testenv says what a test needs from the machine: root or a
// component `make` built. A test that needs root skips without it and
// says why, so a newcomer's plain `go test ./...` passes; under `make
// test` (KIOS_TEST_ALL=1) that skip is a failure instead, so CI never
// passes a test that did not run. A missing component fails the test
// (only -short skips it): a test that cannot look proves nothing.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// All is the environment variable `make test` sets.
const All = "KIOS_TEST_ALL"

// skipRoot skips t with the reason, or fails it under make test.
func skipRoot(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(All) == "1" {
		t.Fatalf("%s (%s=1: make test runs every test)", reason, All)
	}
	t.Skip(reason)
}

// NeedRoot skips t unless it runs as root, and under -short (make
// unit), which runs nothing that needs root even as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root (mounts, namespaces or device nodes); -short skips it")
	}
	if os.Geteuid() != 0 {
		skipRoot(t, "needs root (mounts, namespaces or device nodes): run as root or `make test`")
	}
}

// Root is the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Component returns the first path matching glob under the repository's
// build/cache. When `make` has not built it, t fails saying so, or, under
// -short, skips.
func Component(t testing.TB, glob string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(Root(), "build", "cache", glob))
	if len(m) == 0 {
		const hint = " is missing: run `make components` (or `make controlplane`) first"
		if testing.Short() {
			t.Skip("build/cache/" + glob + hint + "; -short skips it")
		}
		t.Fatal("build/cache/" + glob + hint)
	}
	return m[0]
}

// InNetns runs f on a thread in a new network namespace (with its own
// /proc/sys/net), then returns the thread to the test's namespace. It
// needs root (NeedRoot). Goroutines f starts run in the test's
// namespace unless they name the new one (netns.Get on f's thread).
func InNetns(t testing.TB, f func()) {
	t.Helper()
	NeedRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // this thread must not go back to the pool in ns
		}
		ns.Close()
	}()
	f()
}

// VethPair makes a veth pair a and b in f's namespace of InNetns, with
// duplicate address detection off (their link-local addresses usable at
// once) and both up. The kernels kiOS is tested on have veth (CNI needs
// it), not always dummy.
func VethPair(t testing.TB, a, b string) {
	t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		t.Fatalf("veth pair %s %s: %v", a, b, err)
	}
	for _, n := range []string{a, b} {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/accept_dad", []byte("0"), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := netlink.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}
