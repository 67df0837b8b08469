package kmod

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/testenv"
)

type fakeSource map[string]Info // keyed by name; path is kernel/NAME.ko

func (f fakeSource) Path(n string) (string, bool) {
	_, ok := f[n]
	return "kernel/" + n + ".ko", ok
}
func (f fakeSource) Info(p string) (Info, error) { return f[Normalize(p)], nil }
func (f fakeSource) Builtin(n string) bool       { return n == "builtin_one" }

var src = fakeSource{
	"virtio_net":     {Name: "virtio_net", Depends: []string{"virtio_ring", "net_failover"}, Aliases: []string{"virtio:d00000001v*"}},
	"virtio_ring":    {Name: "virtio_ring", Depends: []string{"virtio"}},
	"virtio":         {Name: "virtio"},
	"net_failover":   {Name: "net_failover", Depends: []string{"failover", "builtin_one"}},
	"failover":       {Name: "failover"},
	"overlay":        {Name: "overlay", Aliases: []string{"fs-overlay"}},
	"nf_conntrack":   {Name: "nf_conntrack", Depends: []string{"libcrc32c"}},
	"libcrc32c":      {Name: "libcrc32c", SoftPre: []string{"crc32c_generic", "missing_soft"}},
	"crc32c_generic": {Name: "crc32c_generic", Aliases: []string{"crypto-crc32c"}},
	"broken":         {Name: "broken", Depends: []string{"nowhere"}},
}

func TestClosure(t *testing.T) {
	mods, err := Closure(src, []string{"virtio-net", "overlay", "nf_conntrack"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Name)
	}
	want := []string{"crc32c_generic", "failover", "libcrc32c", "net_failover", "nf_conntrack", "overlay", "virtio", "virtio_net", "virtio_ring"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("closure (-want +got):\n%s", diff)
	}
}

func TestClosureErrors(t *testing.T) {
	for _, tt := range []struct{ want, msg string }{
		{"nope", "module nope not found"},
		{"broken", "module nowhere (needed by broken) not found"},
	} {
		_, err := Closure(src, []string{tt.want})
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Closure(%s) = %v, want %q", tt.want, err, tt.msg)
		}
	}
}

func TestDepRoundTripAndLoadOrder(t *testing.T) {
	mods, err := Closure(src, []string{"virtio_net", "overlay", "nf_conntrack"})
	if err != nil {
		t.Fatal(err)
	}
	var dep, alias bytes.Buffer
	if err := WriteDep(&dep, mods); err != nil {
		t.Fatal(err)
	}
	if err := WriteAlias(&alias, mods); err != nil {
		t.Fatal(err)
	}
	idx, err := ParseDep(&dep)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.ParseAlias(&alias); err != nil {
		t.Fatal(err)
	}
	order, err := LoadOrder("virtio_net", idx.Deps)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, pair := range [][2]string{{"virtio", "virtio_ring"}, {"virtio_ring", "virtio_net"}, {"failover", "net_failover"}, {"net_failover", "virtio_net"}} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("%s must load before %s: order %v", pair[0], pair[1], order)
		}
	}
	if diff := cmp.Diff([]string{"overlay"}, idx.Match("fs-overlay")); diff != "" {
		t.Errorf("alias match (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"virtio_net"}, idx.Match("virtio:d00000001v00001AF4")); diff != "" {
		t.Errorf("modalias match (-want +got):\n%s", diff)
	}
	if got := idx.Match("pci:v0000DEADd0000BEEF"); got != nil {
		t.Errorf("unknown device matched %v", got)
	}
}

// writeIndex writes modules.dep and modules.alias for virtio_net and
// overlay (with their dependencies) into a new directory.
func writeIndex(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mods, err := Closure(src, []string{"virtio_net", "overlay"})
	if err != nil {
		t.Fatal(err)
	}
	var dep, alias bytes.Buffer
	if err := WriteDep(&dep, mods); err != nil {
		t.Fatal(err)
	}
	if err := WriteAlias(&alias, mods); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"modules.dep": dep.Bytes(), "modules.alias": alias.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoaderProbeAndColdplug(t *testing.T) {
	dir := writeIndex(t)
	var loaded []string
	l, err := Open(dir, func(p string) error {
		loaded = append(loaded, Normalize(p))
		if Normalize(p) == "failover" {
			return os.ErrExist // built in or loaded by someone else
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Probe("fs-overlay")
	if err != nil || !cmp.Equal(got, []string{"overlay"}) {
		t.Fatalf("Probe(fs-overlay) = %v, %v", got, err)
	}
	if _, err := l.Probe("nothing-provides-this"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown alias: err = %v, want ErrUnknown", err)
	}
	sys := t.TempDir()
	devDir := filepath.Join(sys, "bus", "virtio", "devices", "virtio0")
	os.MkdirAll(devDir, 0o755)
	os.WriteFile(filepath.Join(devDir, "modalias"), []byte("virtio:d00000001v00001AF4\n"), 0o444)
	hw := l.Coldplug(sys, tlog{t})
	if hw[len(hw)-1] != "virtio_net" {
		t.Errorf("virtio_net loaded before its dependencies: %v", hw)
	}
	sort.Strings(hw)
	if diff := cmp.Diff([]string{"net_failover", "virtio", "virtio_net", "virtio_ring"}, hw); diff != "" {
		t.Errorf("coldplug loaded (-want +got):\n%s", diff)
	}
	// Loading again does nothing: every module is loaded once.
	before := len(loaded)
	l.Probe("virtio_net")
	if len(loaded) != before {
		t.Errorf("a second probe loaded again: %v", loaded[before:])
	}
}

type tlog struct{ t *testing.T }

func (l tlog) Printf(f string, a ...any) { l.t.Logf(f, a...) }

func TestReadInfoRealModule(t *testing.T) {
	p := testenv.Component(t, "kernel-*/root/lib/modules/*/kernel/drivers/net/virtio_net.ko")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ReadInfo(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"virtio_ring", "virtio", "net_failover"}, info.Depends); diff != "" {
		t.Errorf("depends (-want +got):\n%s", diff)
	}
	if len(info.Aliases) == 0 {
		t.Error("virtio_net has no aliases")
	}
	if _, err := ReadInfo("garbage.ko", []byte("not an ELF file")); err == nil {
		t.Error("garbage parsed as a module")
	}
}

// TestProbeConcurrent probes modules with shared dependencies from many
// goroutines: each module file is loaded exactly once.
func TestProbeConcurrent(t *testing.T) {
	dir := writeIndex(t)
	var mu sync.Mutex
	count := map[string]int{}
	l, err := Open(dir, func(p string) error {
		mu.Lock()
		count[Normalize(p)]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		for _, m := range []string{"virtio_net", "overlay", "net_failover"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.Probe(m); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for m, n := range count {
		if n != 1 {
			t.Errorf("%s loaded %d times", m, n)
		}
	}
	if count["virtio_net"] != 1 || count["failover"] != 1 || count["overlay"] != 1 {
		t.Errorf("loads: %v", count)
	}
}

// TestResidentModulesAreNotLoaded: a module the initramfs loaded (shown
// in sysfs) is skipped, so the root need not carry its file, and the
// modules that need it still load.
func TestResidentModulesAreNotLoaded(t *testing.T) {
	dir := writeIndex(t)
	sys := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sys, "module", "virtio_ring"), 0o755); err != nil {
		t.Fatal(err)
	}
	var loaded []string
	l, err := Open(dir, func(p string) error {
		if Normalize(p) == "virtio_ring" {
			return fmt.Errorf("open %s: %w", p, os.ErrNotExist)
		}
		loaded = append(loaded, Normalize(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Resident = InSysfs(sys)
	got, err := l.Probe("virtio_net")
	if err != nil {
		t.Fatalf("Probe(virtio_net): %v", err)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"failover", "net_failover", "virtio", "virtio_net"}, got); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, func() []string { sort.Strings(loaded); return loaded }()); diff != "" {
		t.Errorf("files loaded differ from the names reported (-reported +files):\n%s", diff)
	}
}
