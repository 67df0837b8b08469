package ociimage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzInspect feeds Inspect arbitrary archives: `kios build --image` and
// `kios disk --image` take them from users. Nothing may panic.
func FuzzInspect(f *testing.F) {
	dir := f.TempDir()
	bin := filepath.Join(dir, "tool")
	os.WriteFile(bin, []byte("#!not really a program\n"), 0o755)
	img, tag, err := FromBinary(bin, "localhost/fuzz/tool:v1", nil)
	if err != nil {
		f.Fatal(err)
	}
	archive := filepath.Join(dir, "tool.tar")
	if err := WriteArchive(archive, tag, img); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(archive)
	f.Add(seed)
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "in.tar")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := Inspect(p)
		if err != nil {
			return
		}
		// Accepted: a known format that names at least one full reference.
		if a.Format != "docker-archive" && a.Format != "oci-layout" || len(a.Names) == 0 {
			t.Errorf("accepted an archive as %q naming %v", a.Format, a.Names)
		}
		for _, n := range a.Names {
			if !strings.ContainsAny(n, "/:") {
				t.Errorf("accepted name %q is not a full reference", n)
			}
		}
	})
}
