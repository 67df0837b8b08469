package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootHoldsTheModule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(Root(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "module kios.dev/kios\n"; string(b[:len(want)]) != want {
		t.Fatalf("%s/go.mod starts %q, want %q", Root(), b[:len(want)], want)
	}
}
