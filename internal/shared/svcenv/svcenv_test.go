package svcenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"comments and blanks", "# tuned\n\nGOGC=50\n  GOMEMLIMIT=64MiB  \n", []string{"GOGC=50", "GOMEMLIMIT=64MiB"}, ""},
		{"empty value", "GODEBUG=\n", []string{"GODEBUG="}, ""},
		{"value with =", "GODEBUG=madvdontneed=1\n", []string{"GODEBUG=madvdontneed=1"}, ""},
		{"empty file", "", nil, ""},
		{"no =", "GOGC 50\n", nil, `line 1: want KEY=VALUE, got "GOGC 50"`},
		{"bad name", "\ngo-gc=1\n", nil, `line 2: "go-gc" is not a variable name`},
		{"reserved", "PATH=/tmp\n", nil, "line 1: PATH is set by PID 1"},
		{"twice", "GOGC=1\nGOGC=2\n", nil, "line 2: GOGC set twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRead(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kubelet"), []byte("GOGC=50\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "containerd"), []byte("oops\n"), 0o644)
	if got, err := Read(root, "kubelet"); err != nil || !cmp.Equal(got, []string{"GOGC=50"}) {
		t.Errorf("kubelet: %v, %v", got, err)
	}
	if got, err := Read(root, "none"); err != nil || got != nil {
		t.Errorf("no file: %v, %v; want nothing and no error", got, err)
	}
	_, err := Read(root, "containerd")
	if err == nil || !strings.Contains(err.Error(), "/etc/kios/env/containerd: line 1") {
		t.Errorf("bad file: error %v, want one naming the file and line", err)
	}
}

// FuzzParse: the files come from users' config directories. Whatever
// Parse accepts is KEY=VALUE with a valid, unique, unreserved name.
func FuzzParse(f *testing.F) {
	f.Add([]byte("GOGC=50\n# x\nGOMEMLIMIT=1GiB\n"))
	f.Add([]byte("A=1\nA=2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Parse(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, kv := range env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || !name.MatchString(k) || reserved[k] || seen[k] {
				t.Fatalf("accepted %q from %q", kv, b)
			}
			seen[k] = true
		}
	})
}
