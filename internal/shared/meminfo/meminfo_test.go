package meminfo

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	m, err := Parse(strings.NewReader("MemTotal:        2013124 kB\nMemFree:  100 kB\nMemAvailable:    1800000 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.UsedMiB(); got < 208 || got > 208.2 {
		t.Errorf("used %.2f MiB, want 208.1", got)
	}
	if _, err := Parse(strings.NewReader("garbage\n")); err == nil {
		t.Error("garbage parsed")
	}
}

// TestRead reads this machine's /proc/meminfo, and names a missing file.
func TestRead(t *testing.T) {
	m, err := Read("/proc/meminfo")
	if err != nil || m.TotalKiB <= 0 || m.AvailableKiB <= 0 || m.AvailableKiB > m.TotalKiB {
		t.Errorf("Read(/proc/meminfo) = %+v, %v", m, err)
	}
	if _, err := Read("/nonexistent/meminfo"); err == nil || !strings.Contains(err.Error(), "/nonexistent/meminfo") {
		t.Errorf("missing file: err = %v, want one naming the path", err)
	}
}
