package testimages

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"kios.dev/kios/internal/host/ociimage"
)

// Image builds one test image from in.
func (im Image) Image(in Inputs) (v1.Image, name.Reference, error) {
	t := newTree()
	if err := im.fill(in, t); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", im.Name, err)
	}
	data, err := t.tar()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", im.Name, err)
	}
	cfg := im.config
	cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	img, ref, err := ociimage.FromLayer(im.Name, data, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", im.Name, err)
	}
	return img, ref, nil
}

// ArchiveName is the file an image is written to: its repository's last
// element and its tag.
func (im Image) ArchiveName() string {
	n := im.Name[strings.LastIndex(im.Name, "/")+1:]
	return strings.ReplaceAll(n, ":", "-") + ".tar"
}

// Built is one test image written to an archive.
type Built struct {
	Name   string // the upstream name it is pushed under
	Digest string // its manifest's digest: the same inputs give the same digest
	File   string // the docker-archive
}

// BuildAll writes every image of the catalog to dir as a docker-archive
// (what `kios load` pushes), in catalog order.
func BuildAll(in Inputs, dir string) ([]Built, error) {
	if err := in.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var built []Built
	for _, im := range Catalog {
		img, ref, err := im.Image(in)
		if err != nil {
			return nil, err
		}
		digest, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", im.Name, err)
		}
		f := filepath.Join(dir, im.ArchiveName())
		if err := ociimage.WriteArchive(f, ref, img); err != nil {
			return nil, fmt.Errorf("%s: %w", im.Name, err)
		}
		built = append(built, Built{Name: im.Name, Digest: digest.String(), File: f})
	}
	return built, nil
}
