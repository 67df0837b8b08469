package ociimage

import (
	"archive/tar"
	"crypto/sha256"
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
			if err := verify(img, d.Config); err != nil {
				return Archive{}, fmt.Errorf("image %s: %w", t, err)
			}
			a.Names = append(a.Names, ref.Name())
		}
	}
	return a, nil
}

// verify reads the whole image: the config, and every layer, whose
// uncompressed content must hash to the config's diff_id for it (the
// compressed side has its own checksum, gzip or zstd). configFile is the config's
// name in the archive: when it is named by its digest, that is checked
// too.
func verify(img v1.Image, configFile string) error {
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if hexd := strings.TrimSuffix(path.Base(configFile), ".json"); len(hexd) == 64 {
		if got := fmt.Sprintf("%x", sha256.Sum256(raw)); got != hexd {
			return fmt.Errorf("config %s is corrupt: its content has digest sha256:%s", configFile, got)
		}
	}
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
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return fmt.Errorf("%d layers, but the config lists %d", len(layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(rc, h))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return fmt.Errorf("layer %d (%s): %w", i, cfg.RootFS.DiffIDs[i], err)
			}
		}
		_, err = io.Copy(h, rc) // the tar's end padding
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, cfg.RootFS.DiffIDs[i], err)
		}
		if got := "sha256:" + fmt.Sprintf("%x", h.Sum(nil)); got != cfg.RootFS.DiffIDs[i].String() {
			return fmt.Errorf("layer %d is corrupt: its content has diff_id %s, the config says %s", i, got, cfg.RootFS.DiffIDs[i])
		}
	}
	return nil
}
