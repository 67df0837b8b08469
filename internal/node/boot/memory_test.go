package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProtectHostMemory(t *testing.T) {
	tests := []struct {
		name    string
		lruGen  bool // the kernel has the multi-generational LRU
		want    map[string]string
		wantErr string
	}{
		{"all set", true, map[string]string{"proc/self/oom_score_adj": "-999",
			"sys/kernel/mm/lru_gen/enabled": "y", "sys/kernel/mm/lru_gen/min_ttl_ms": "1000"}, ""},
		{"no MGLRU: the score is still set", false, map[string]string{"proc/self/oom_score_adj": "-999"},
			"kernel/mm/lru_gen/enabled=y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"proc/self", "sys/kernel/mm"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lruGen {
				if err := os.MkdirAll(filepath.Join(root, "sys/kernel/mm/lru_gen"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := ProtectHostMemory(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
			}
			got := map[string]string{}
			filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					b, _ := os.ReadFile(p)
					rel, _ := filepath.Rel(root, p)
					got[rel] = string(b)
				}
				return nil
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("written (-want +got):\n%s", diff)
			}
		})
	}
}

var sink []byte

func TestReleaseMemoryGivesBackTheBootsPeak(t *testing.T) {
	// A boot-like peak: 64 MiB allocated, touched and dropped.
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = 1
	}
	sink = nil
	var l recLog
	ReleaseMemory(&l, "test")
	if len(l.lines) != 1 {
		t.Fatalf("log lines: %q", l.lines)
	}
	var released, inUse float64
	if _, err := fmt.Sscanf(l.lines[0], "event=memory-released after=test heap_in_use_mib=%f released_mib=%f", &inUse, &released); err != nil {
		t.Fatalf("log line %q: %v", l.lines[0], err)
	}
	if released < 32 {
		t.Errorf("released %.1f MiB of a dropped 64 MiB allocation: %s", released, l.lines[0])
	}
}
