package boot

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestModuleNames(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		want       []string
	}{
		{"empty", "", nil},
		{"comments and blanks", "# header\n\noverlay\n  bridge  # for CNI\n#veth\n", []string{"overlay", "bridge"}},
		{"no final newline", "tun", []string{"tun"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, moduleNames(tc.list)); diff != "" {
				t.Errorf("moduleNames (-want +got):\n%s", diff)
			}
		})
	}
}

// atLowPriority runs its function on a thread at nice 10, or the
// caller's when nicer (make unit may run under nice), and leaves the
// caller's thread as it was.
func TestAtLowPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The raw getpriority value is 20 - nice: lower is nicer.
	before, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	var inside int
	ran := false
	if err := atLowPriority(func() {
		ran = true
		inside, _ = unix.Getpriority(unix.PRIO_PROCESS, 0)
	}); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("function did not run")
	}
	if want := max(10, 20-before); 20-inside != want {
		t.Errorf("priority inside = nice %d, want nice %d (the caller's is %d)", 20-inside, want, 20-before)
	}
	after, _ := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if after != before {
		t.Errorf("caller's priority changed: %d -> %d", before, after)
	}
	if err := atLowPriority(func() { panic("boom") }); err == nil {
		t.Error("a panic in the function was not reported")
	}
}
