package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFaultWatch(t *testing.T) {
	steps := []struct {
		h    DiskHealth
		want []string // lines, without the err text
	}{
		{DiskHealth{Errors: 2}, nil}, // an earlier boot's errors
		{DiskHealth{Errors: 2}, nil},
		{DiskHealth{Errors: 3}, []string{"event=data-partition-failing device=/dev/vda2 errors=1"}},
		{DiskHealth{Errors: 9}, nil}, // said once
		{DiskHealth{Errors: 9, ReadOnly: true}, []string{"event=data-partition-readonly device=/dev/vda2 errors=7"}},
		{DiskHealth{Errors: 12, ReadOnly: true}, nil},
	}
	w := &FaultWatch{Device: "/dev/vda2"}
	probing := []bool{false, false, true, true, false, false} // after each step
	for i, s := range steps {
		var got []string
		for _, l := range w.Sample(s.h) {
			head, _, ok := strings.Cut(l, " err=")
			if !ok {
				t.Errorf("step %d: a line without its reason: %s", i, l)
			}
			got = append(got, head)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d (-want +got):\n%s", i, diff)
		}
		if w.Probing() != probing[i] {
			t.Errorf("step %d: Probing() = %v, want %v", i, w.Probing(), probing[i])
		}
	}

	// Read-only at once: one line, not two.
	w = &FaultWatch{Device: "/dev/vda2"}
	w.Sample(DiskHealth{})
	if got := w.Sample(DiskHealth{Errors: 1, ReadOnly: true}); len(got) != 1 || !strings.HasPrefix(got[0], "event=data-partition-readonly ") {
		t.Errorf("errors and read-only in one sample: %q, want one readonly line", got)
	}
}

func TestExt4Errors(t *testing.T) {
	sys := t.TempDir()
	dir := filepath.Join(sys, "fs/ext4/vda2")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "errors_count"), []byte("4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for dev, want := range map[string]uint64{"/dev/vda2": 4, "/dev/vdb1": 0} {
		if got := ext4Errors(sys, dev); got != want {
			t.Errorf("ext4Errors(%s) = %d, want %d", dev, got, want)
		}
	}
}

func TestReadOnlyProbe(t *testing.T) {
	dir := t.TempDir()
	if readOnly(dir) {
		t.Errorf("a writable directory probed read-only")
	}
	if _, err := os.Stat(filepath.Join(dir, ".kios-write-probe")); !os.IsNotExist(err) {
		t.Errorf("the probe left its file: %v", err)
	}
	// A directory that refuses writes for another reason than a
	// read-only filesystem is not read-only.
	if readOnly(filepath.Join(dir, "missing")) {
		t.Errorf("a missing directory probed read-only")
	}
}
