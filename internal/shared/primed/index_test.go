package primed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIndexRoundTrip(t *testing.T) {
	for _, idx := range [][]Entry{
		nil,
		{{File: "00-pause.tar", SHA256: strings.Repeat("a", 64), Names: []string{"localhost/kios/pause:v1"}}},
		{{File: "00-a.tar", Names: []string{"x:1", "y:2"}}, {File: "01-b.tar"}},
	} {
		b, err := Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), IndexFile)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(idx, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestReadNamesTheBadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), IndexFile)
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("Read of a malformed index: err = %v, want one naming %s", err, p)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a missing index: err = %v, want one wrapping ErrNotExist", err)
	}
}
