package testimages

import (
	"fmt"
	"io"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeRegistryDir is where agnhost's fake-registry-server serves images
// from: <repository>/manifests/<digest or tag> and
// <repository>/blobs/<digest>, a tag's file holding the digest.
const fakeRegistryDir = "var/registry"

// fakeRegistryImages are the images upstream's agnhost carries for its
// fake registry (test/images/agnhost/fakeregistryserver/images.txt):
// the pause image under the tag "testing". The [Serial] image pull
// tests pull it from a registry pod on the node, with and without
// credentials.
var fakeRegistryImages = []struct {
	image           Image
	repository, tag string
}{
	{pauseImage, "pause", "testing"},
}

// withFakeRegistry lays the catalog's images named in fakeRegistryImages
// under /var/registry.
func withFakeRegistry(in Inputs, t *tree) error {
	for _, f := range fakeRegistryImages {
		img, _, err := f.image.Image(in)
		if err != nil {
			return fmt.Errorf("fake registry: %w", err)
		}
		if err := addToFakeRegistry(t, path.Join(fakeRegistryDir, f.repository), f.tag, img); err != nil {
			return fmt.Errorf("fake registry, %s: %w", f.image.Name, err)
		}
	}
	return nil
}

func addToFakeRegistry(t *tree, repo, tag string, img v1.Image) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return err
	}
	t.file(path.Join(repo, "manifests", digest.String()), 0o644, manifest)
	t.file(path.Join(repo, "manifests", tag), 0o644, []byte(digest.String()+"\n"))
	t.file(path.Join(repo, "blobs", configName.String()), 0o644, config)
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		t.file(path.Join(repo, "blobs", d.String()), 0o644, b)
	}
	return t.err
}
