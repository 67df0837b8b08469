package testimages

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"kios.dev/kios/internal/host/ociimage"
)

// smallImage is a one-file image under the pause image's name.
func smallImage(t *testing.T) (v1.Image, name.Reference) {
	t.Helper()
	layer := newTree()
	layer.file("pause", 0o755, []byte("pause"))
	data, err := layer.tar()
	if err != nil {
		t.Fatal(err)
	}
	img, ref, err := ociimage.FromLayer("registry.k8s.io/pause:3.10.1", data, v1.Config{Entrypoint: []string{"/pause"}})
	if err != nil {
		t.Fatal(err)
	}
	return img, ref
}

// The fake registry's files are what agnhost's fake-registry-server
// serves: the tag's file names the manifest's digest, and every file
// under manifests/ and blobs/ named by a digest holds content with that
// digest, as a client pulling through it checks.
func TestFakeRegistryLayout(t *testing.T) {
	img, _ := smallImage(t)
	tr := newTree()
	if err := addToFakeRegistry(tr, "var/registry/pause", "testing", img); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tag, ok := tr.t.Get("var/registry/pause/manifests/testing")
	if !ok {
		t.Fatal("no tag file var/registry/pause/manifests/testing")
	}
	if got := strings.TrimSpace(string(tag.Data)); got != digest.String() {
		t.Errorf("tag file: got %q, want the manifest's digest %s", got, digest)
	}
	var named []string
	for _, p := range tr.t.Paths() {
		e, _ := tr.t.Get(p)
		base := p[strings.LastIndex(p, "/")+1:]
		if !strings.HasPrefix(base, "sha256:") {
			continue
		}
		named = append(named, strings.TrimPrefix(p, "var/registry/pause/"))
		b := e.Data
		if e.Src != "" {
			if b, err = os.ReadFile(e.Src); err != nil {
				t.Fatal(err)
			}
		}
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(b)); got != base {
			t.Errorf("/%s holds content of digest %s", p, got)
		}
	}
	cfg, _ := img.ConfigName()
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	want := []string{"blobs/" + cfg.String(), "blobs/" + ld.String(), "manifests/" + digest.String()}
	if d := cmp.Diff(want, named, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("files named by digest (-want +got):\n%s", d)
	}
}

// The digest BuildAll records is the one the lab registry serves: the
// image read back from its archive, as `kios load` pushes it, has the
// same manifest digest.
func TestArchiveKeepsDigest(t *testing.T) {
	img, ref := smallImage(t)
	f := filepath.Join(t.TempDir(), "pause.tar")
	if err := ociimage.WriteArchive(f, ref, img); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("registry.k8s.io/pause:3.10.1")
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(f, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("digest read back from the archive: %s, built: %s", got, want)
	}
}
