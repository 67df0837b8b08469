package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJoinHostCgroupMovesThePidIntoItsOwnGroup(t *testing.T) {
	root := t.TempDir()
	// As on a node after a restart of PID 1's steps: the group may exist.
	for i := 0; i < 2; i++ {
		if err := JoinHostCgroup(root, 1); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	got, err := os.ReadFile(filepath.Join(root, HostCgroup, "cgroup.procs"))
	if err != nil || string(got) != "1" {
		t.Errorf("cgroup.procs = %q, %v; want 1", got, err)
	}
}

func TestJoinHostCgroupNamesWhatFailed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-cgroup2-here")
	err := JoinHostCgroup(missing, 1)
	if err == nil || !strings.Contains(err.Error(), "create the host cgroup") {
		t.Fatalf("err = %v, want it to say the host cgroup could not be created", err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, HostCgroup, "cgroup.procs"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = JoinHostCgroup(root, 1)
	if err == nil || !strings.Contains(err.Error(), "move PID 1 into") {
		t.Errorf("err = %v, want it to name the move of PID 1", err)
	}
}
