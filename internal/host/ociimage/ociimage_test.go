package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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
			lay := writeLayout(t, img, tt.annotation)
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

func TestInspectOCIChecksEveryBlob(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, []byte("x"), 0o755)
	img, _, err := FromBinary(bin, "localhost/x:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layerDigest, _ := layers[0].Digest()
	configDigest, _ := img.ConfigName()
	manifestDigest, _ := img.Digest()
	blobPath := func(lay string, h v1.Hash) string { return filepath.Join(lay, "blobs", h.Algorithm, h.Hex) }
	tests := []struct {
		name   string
		damage func(lay string) error
		want   string // "" for accepted; else what the error names
	}{
		{"intact", func(string) error { return nil }, ""},
		{"corrupt layer", func(lay string) error { return flipByte(blobPath(lay, layerDigest)) }, "layer 0: blob " + layerDigest.String() + " is corrupt"},
		{"missing layer", func(lay string) error { return os.Remove(blobPath(lay, layerDigest)) }, "layer 0: blob " + layerDigest.String() + " is missing"},
		{"corrupt config", func(lay string) error { return flipByte(blobPath(lay, configDigest)) }, "config: blob " + configDigest.String() + " is corrupt"},
		{"missing manifest", func(lay string) error { return os.Remove(blobPath(lay, manifestDigest)) }, "manifest: blob " + manifestDigest.String() + " is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lay := writeLayout(t, img, "localhost/x:v1")
			if err := tt.damage(lay); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "oci.tar")
			tarDir(t, lay, out)
			_, err = Inspect(out)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("intact layout refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// writeLayout writes img as an OCI layout directory, named by ref.
func writeLayout(t *testing.T, img v1.Image, ref string) string {
	t.Helper()
	lay := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(lay, mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
	return lay
}

func flipByte(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	b[len(b)/2] ^= 0xff
	return os.WriteFile(p, b, 0o644)
}

func TestInspectDockerChecksLayerContent(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	os.WriteFile(bin, bytes.Repeat([]byte("kios"), 4096), 0o755)
	img, tag, err := FromBinary(bin, "localhost/x:v1", nil, Uncompressed())
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.tar")
	if err := WriteArchive(good, tag, img); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(good); err != nil {
		t.Fatalf("intact archive refused: %v", err)
	}
	// The same archive with one byte of the layer's content changed: the
	// layer (stored uncompressed) no longer hashes to its diff_id.
	bad := filepath.Join(dir, "bad.tar")
	rewriteMembers(t, good, bad, func(name string, b []byte) []byte {
		if !strings.HasSuffix(name, ".tar") {
			return b
		}
		i := bytes.Index(b, []byte("kioskios"))
		if i < 0 {
			t.Fatal("layer does not hold the program")
		}
		out := append([]byte{}, b...)
		out[i] = 'K'
		return out
	})
	_, err = Inspect(bad)
	if err == nil || !strings.Contains(err.Error(), "layer 0") {
		t.Fatalf("archive with a changed layer: err = %v, want one naming layer 0", err)
	}
}

// rewriteMembers copies a tar, passing each regular member through f.
func rewriteMembers(t *testing.T, in, out string, f func(name string, b []byte) []byte) {
	t.Helper()
	src, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(src), tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b = f(h.Name, b)
			h.Size = int64(len(b))
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
