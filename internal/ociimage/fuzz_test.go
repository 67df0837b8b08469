package ociimage

import (
	"os"
	"path/filepath"
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
		os.WriteFile(p, data, 0o600)
		Inspect(p)
	})
}
