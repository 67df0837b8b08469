package up

import (
	"os"
	"path/filepath"
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
	os.WriteFile(filepath.Join(dir, PIDFile), []byte(strings.TrimSpace(itoa(os.Getpid()))), 0o644)
	if pid, ok := Running(dir); !ok || pid != os.Getpid() {
		t.Errorf("Running = %d %t", pid, ok)
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
