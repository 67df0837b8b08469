package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestWriteAndCopy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "two" || st.Mode().Perm() != 0o640 {
		t.Errorf("got %q %v", b, st.Mode())
	}
	if err := Copy(p, filepath.Join(dir, "g"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestDurable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kios-v2+1.efi")
	if err := Durable(p, strings.NewReader("image")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "image" {
		t.Errorf("content %q", b)
	}
	// A failed read leaves neither the target nor a temporary file.
	q := filepath.Join(dir, "kios-v3+1.efi")
	if err := Durable(q, iotest.ErrReader(errors.New("pod went away"))); err == nil {
		t.Fatal("a failed read was not reported")
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 {
		t.Errorf("left behind: %v", des)
	}
}
