package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestFromBinaryIsDeterministicAndInspectable(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dhcp")
	os.WriteFile(bin, []byte("\x7fELF pretend"), 0o755)
	var digests []string
	for i := 0; i < 2; i++ {
		img, tag, err := FromBinary(bin, "localhost/kios/dhcp:v1", []string{"--x"})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
		out := filepath.Join(dir, "dhcp.tar")
		if err := WriteArchive(out, tag, img); err != nil {
			t.Fatal(err)
		}
		a, err := Inspect(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Archive{Format: "docker-archive", Names: []string{"localhost/kios/dhcp:v1"}}, a); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		cfg, _ := img.ConfigFile()
		if diff := cmp.Diff([]string{"/bin/dhcp", "--x"}, cfg.Config.Entrypoint); diff != "" {
			t.Errorf("entrypoint (-want +got):\n%s", diff)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("same binary, different digests: %v", digests)
	}
	if _, _, err := FromBinary(bin, "Not A Valid:Ref:x", nil); err == nil {
		t.Error("invalid reference accepted")
	}
}

// tarDir packs a directory into a tarball, as `tar -C dir -cf out .` does.
func tarDir(t *testing.T, dir, out string) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		h, _ := tar.FileInfoHeader(info, "")
		h.Name = rel
		tw.WriteHeader(h)
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			tw.Write(data)
		}
		return nil
	})
	tw.Close()
	os.WriteFile(out, b.Bytes(), 0o644)
}

func TestInspectOCILayout(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	img, _, err := FromBinary(bin, "localhost/x:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, annotation string
		wantErr          error
	}{
		{"named", "registry.example/team/app:v2", nil},
		{"tag only", "v2", ErrNoName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lay := filepath.Join(t.TempDir(), "layout")
			p, err := layout.Write(lay, mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tt.annotation})); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "oci.tar")
			tarDir(t, lay, out)
			a, err := Inspect(out)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !cmp.Equal(a.Names, []string{"registry.example/team/app:v2"}) {
				t.Errorf("names %v", a.Names)
			}
		})
	}
}

func TestInspectRejects(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.tar")
	os.WriteFile(empty, nil, 0o644)
	other := filepath.Join(dir, "other.tar")
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 2})
	tw.Write([]byte("hi"))
	tw.Close()
	os.WriteFile(other, b.Bytes(), 0o644)
	for _, f := range []string{empty, other, filepath.Join(dir, "missing.tar")} {
		if _, err := Inspect(f); err == nil {
			t.Errorf("%s accepted", f)
		}
	}
}
