package lab

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNsNameIsStablePerDirectory(t *testing.T) {
	a, b := nsName("/tmp/lab-a"), nsName("/tmp/lab-b")
	if a != nsName("/tmp/lab-a") || a == b || !strings.HasPrefix(a, "kios-lab-") || len(a) > 16+1 {
		t.Errorf("names %q %q", a, b)
	}
}

func TestRunning(t *testing.T) {
	dir := t.TempDir()
	if _, ok := Running(dir); ok {
		t.Error("running without a pid file")
	}
	os.WriteFile(filepath.Join(dir, PIDFile), []byte("999999999"), 0o644)
	if _, ok := Running(dir); ok {
		t.Error("a dead pid counts as running")
	}
	os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if pid, ok := Running(dir); !ok || pid != os.Getpid() {
		t.Errorf("Running = %d %t", pid, ok)
	}
}
