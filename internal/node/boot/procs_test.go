package boot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUserProcesses(t *testing.T) {
	proc := t.TempDir()
	stats := map[string]string{
		"1":    "1 (init) S 0 1 1 0 -1 4194560 0 0",
		"2":    "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0",    // PF_KTHREAD
		"40":   "40 (kworker/0:1) I 2 0 0 0 -1 69238880 0", // PF_KTHREAD
		"300":  "300 (containerd-shim) S 1 300 300 0 -1 1077936384 0 0",
		"301":  "301 (a) b) (c) S 300 301 301 0 -1 4194560 0 0", // parentheses in the name
		"302":  "302 (pause) Z 300 302 302 0 -1 4194564 0 0",    // a zombie
		"303":  "303 (short",                                    // truncated
		"self": "not a pid",
	}
	for pid, stat := range stats {
		os.MkdirAll(filepath.Join(proc, pid), 0o755)
		os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(stat), 0o444)
	}
	os.MkdirAll(filepath.Join(proc, "304"), 0o755) // exited: no stat
	if diff := cmp.Diff([]int{300, 301}, userProcesses(proc)); diff != "" {
		t.Errorf("userProcesses (-want +got):\n%s", diff)
	}
	start := time.Now()
	left := waitNoProcesses(proc, 100*time.Millisecond)
	if len(left) != 2 || time.Since(start) < 100*time.Millisecond {
		t.Errorf("waitNoProcesses returned %v after %v, want both left after the limit", left, time.Since(start))
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		os.RemoveAll(filepath.Join(proc, "300"))
		os.RemoveAll(filepath.Join(proc, "301"))
	}()
	if left := waitNoProcesses(proc, 5*time.Second); len(left) != 0 {
		t.Errorf("waitNoProcesses left %v after the processes went", left)
	}
}

// TestUserProcessesLive reads this machine's /proc: this test's own
// process is listed, kernel thread 2 (kthreadd) is not.
func TestUserProcessesLive(t *testing.T) {
	got := userProcesses("/proc")
	self, kthreadd := false, false
	for _, p := range got {
		self = self || p == os.Getpid()
		kthreadd = kthreadd || p == 2
	}
	if !self || kthreadd {
		t.Errorf("userProcesses(/proc): own pid listed %v, kthreadd listed %v", self, kthreadd)
	}
}
