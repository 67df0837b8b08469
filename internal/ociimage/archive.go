package ociimage

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Archive describes a validated image archive.
type Archive struct {
	Format string   // "docker-archive" or "oci-layout"
	Names  []string // fully qualified references it provides
}

// ErrNoName is returned for an archive whose images have no reference.
var ErrNoName = errors.New("archive names no image")

// Inspect validates an image archive file the way an import will read
// it: the index is parsed, every image's config and layers are read and
// their digests checked, and the names are returned. Any problem is an
// error naming the file.
func Inspect(file string) (Archive, error) {
	entries, err := tarEntries(file)
	if err != nil {
		return Archive{}, fmt.Errorf("image archive %s: %w", file, err)
	}
	var a Archive
	switch {
	case entries["manifest.json"]:
		a, err = inspectDocker(file)
	case entries["index.json"] && entries["oci-layout"]:
		a, err = inspectOCI(file)
	default:
		err = errors.New("neither a docker-archive (manifest.json) nor an OCI layout (oci-layout, index.json)")
	}
	if err != nil {
		return Archive{}, fmt.Errorf("image archive %s: %w", file, err)
	}
	sort.Strings(a.Names)
	return a, nil
}

func tarEntries(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a readable tar: %w", err)
		}
		out[path.Clean(h.Name)] = true
	}
	if len(out) == 0 {
		return nil, errors.New("empty tar")
	}
	return out, nil
}

func readMember(file, member string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s in the archive", member)
		}
		if err != nil {
			return nil, err
		}
		if path.Clean(h.Name) == path.Clean(member) {
			return io.ReadAll(tr)
		}
	}
}

func opener(file string) tarball.Opener {
	return func() (io.ReadCloser, error) { return os.Open(file) }
}

func inspectDocker(file string) (Archive, error) {
	m, err := tarball.LoadManifest(opener(file))
	if err != nil {
		return Archive{}, fmt.Errorf("manifest.json: %w", err)
	}
	a := Archive{Format: "docker-archive"}
	for _, d := range m {
		if len(d.RepoTags) == 0 {
			return Archive{}, fmt.Errorf("%w: an image in manifest.json has no RepoTags", ErrNoName)
		}
		for _, t := range d.RepoTags {
			ref, err := name.ParseReference(t)
			if err != nil {
				return Archive{}, fmt.Errorf("RepoTag %q: %w", t, err)
			}
			tag, ok := ref.(name.Tag)
			if !ok {
				return Archive{}, fmt.Errorf("RepoTag %q is not a tag", t)
			}
			img, err := tarball.Image(opener(file), &tag)
			if err != nil {
				return Archive{}, fmt.Errorf("image %s: %w", t, err)
			}
			if err := verify(img); err != nil {
				return Archive{}, fmt.Errorf("image %s: %w", t, err)
			}
			a.Names = append(a.Names, ref.Name())
		}
	}
	return a, nil
}

// verify reads the whole image: config, and every layer through its digest.
func verify(img v1.Image) error {
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		return fmt.Errorf("platform %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		tr := tar.NewReader(rc)
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return fmt.Errorf("layer %d: %w", i, err)
			}
		}
		rc.Close()
	}
	return nil
}

type ociIndex struct {
	Manifests []struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"manifests"`
}

func inspectOCI(file string) (Archive, error) {
	b, err := readMember(file, "index.json")
	if err != nil {
		return Archive{}, err
	}
	var idx ociIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return Archive{}, fmt.Errorf("index.json: %w", err)
	}
	a := Archive{Format: "oci-layout"}
	for _, m := range idx.Manifests {
		n := m.Annotations["io.containerd.image.name"]
		if n == "" {
			n = m.Annotations["org.opencontainers.image.ref.name"]
		}
		ref, err := name.ParseReference(n, name.StrictValidation)
		if n == "" || err != nil || !strings.ContainsAny(n, "/:") {
			return Archive{}, fmt.Errorf("%w: manifest %s needs a full image name in io.containerd.image.name or org.opencontainers.image.ref.name", ErrNoName, m.Digest)
		}
		h, err := v1.NewHash(m.Digest)
		if err != nil {
			return Archive{}, fmt.Errorf("manifest digest %q: %w", m.Digest, err)
		}
		if _, err := readMember(file, "blobs/"+h.Algorithm+"/"+h.Hex); err != nil {
			return Archive{}, fmt.Errorf("manifest %s: %w", m.Digest, err)
		}
		a.Names = append(a.Names, ref.Name())
	}
	if len(a.Names) == 0 {
		return Archive{}, fmt.Errorf("%w: index.json lists no manifests", ErrNoName)
	}
	return a, nil
}
