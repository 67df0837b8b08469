package ociimage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteUncompressedKeepsTheImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "svc")
	os.WriteFile(bin, []byte(strings.Repeat("\x7fELF pretend binary ", 4096)), 0o755)
	img, tag, err := FromBinary(bin, "localhost/kios/svc:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(dir, "src.tar"), filepath.Join(dir, "dst.tar")
	if err := WriteArchive(src, tag, img); err != nil {
		t.Fatal(err)
	}
	if err := WriteUncompressed(src, dst, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	a, err := Inspect(dst)
	if err != nil {
		t.Fatalf("the uncompressed archive does not pass Inspect: %v", err)
	}
	if diff := cmp.Diff([]string{"localhost/kios/svc:v1"}, a.Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	ntag, err := name.NewTag(tag.String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tarball.Image(opener(dst), &ntag)
	if err != nil {
		t.Fatal(err)
	}
	// Same image ID (config digest) and diff IDs: only the layer blobs changed.
	for _, f := range []func(v1.Image) (any, error){
		func(i v1.Image) (any, error) { return i.ConfigName() },
		func(i v1.Image) (any, error) { c, err := i.ConfigFile(); return c.RootFS.DiffIDs, err },
	} {
		want, err1 := f(img)
		have, err2 := f(got)
		if err1 != nil || err2 != nil {
			t.Fatalf("read images: %v, %v", err1, err2)
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	// The layer as stored in the archive (gcr would gzip it on reading).
	m, err := tarball.LoadManifest(opener(dst))
	if err != nil || len(m) != 1 || len(m[0].Layers) != 1 {
		t.Fatalf("manifest.json: %v %+v", err, m)
	}
	b, err := readMember(dst, m[0].Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 262 || string(b[257:262]) != "ustar" {
		t.Errorf("the stored layer is not a plain tar (starts %q)", b[:min(len(b), 8)])
	}
	cfg, _ := img.ConfigFile()
	if d := digestOf(b); d != cfg.RootFS.DiffIDs[0] {
		t.Errorf("stored layer %s, want the diff ID %s", d, cfg.RootFS.DiffIDs[0])
	}
}

func TestWriteUncompressedRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tar")
	os.WriteFile(garbage, []byte("not a tar"), 0o644)
	dst := filepath.Join(dir, "dst.tar")
	err := WriteUncompressed(garbage, dst, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), garbage) {
		t.Errorf("garbage archive: %v, want an error naming it", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("a failed conversion left %s (stat: %v)", dst, err)
	}
}
