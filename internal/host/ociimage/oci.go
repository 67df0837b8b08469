package ociimage

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blob is what the archive holds under blobs/ALG/HEX: its size and the
// SHA-256 of its content, computed while reading.
type blob struct {
	size   int64
	sha256 string
}

// ociLayout is an OCI layout archive read once: every blob hashed, and
// the small JSON blobs (index, manifests, configs) kept to walk.
type ociLayout struct {
	blobs map[string]blob   // "sha256:HEX" (from the name) -> what it holds
	json  map[string][]byte // blobs of up to 4 MiB, by name digest
	index []byte            // index.json
}

const smallBlob = 4 << 20

func readLayout(file string) (*ociLayout, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := &ociLayout{blobs: map[string]blob{}, json: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a readable tar: %w", err)
		}
		name := path.Clean(h.Name)
		if name == "index.json" {
			if l.index, err = io.ReadAll(io.LimitReader(tr, smallBlob)); err != nil {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			continue
		}
		alg, hexd, ok := strings.Cut(strings.TrimPrefix(name, "blobs/"), "/")
		if !strings.HasPrefix(name, "blobs/") || !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if alg != "sha256" {
			return nil, fmt.Errorf("blob %s: only sha256 blobs are supported", name)
		}
		hsh := sha256.New()
		var keep strings.Builder
		w := io.Writer(hsh)
		if h.Size <= smallBlob {
			w = io.MultiWriter(hsh, &keep)
		}
		n, err := io.Copy(w, tr)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", name, err)
		}
		d := alg + ":" + hexd
		l.blobs[d] = blob{size: n, sha256: "sha256:" + hex.EncodeToString(hsh.Sum(nil))}
		if h.Size <= smallBlob {
			l.json[d] = []byte(keep.String())
		}
	}
	if l.index == nil {
		return nil, errors.New("no index.json in the archive")
	}
	return l, nil
}

// check says whether the blob a descriptor names is there, whole and
// unchanged; what names the blob is in the error.
func (l *ociLayout) check(d v1.Descriptor, what string) error {
	b, ok := l.blobs[d.Digest.String()]
	switch {
	case !ok:
		return fmt.Errorf("%s: blob %s is missing", what, d.Digest)
	case b.sha256 != d.Digest.String():
		return fmt.Errorf("%s: blob %s is corrupt: its content has digest %s", what, d.Digest, b.sha256)
	case d.Size != 0 && b.size != d.Size:
		return fmt.Errorf("%s: blob %s has %d bytes, its descriptor says %d", what, d.Digest, b.size, d.Size)
	}
	return nil
}

func (l *ociLayout) decode(d v1.Descriptor, what string, v any) error {
	if err := l.check(d, what); err != nil {
		return err
	}
	b, ok := l.json[d.Digest.String()]
	if !ok {
		return fmt.Errorf("%s: blob %s is too large for a %s", what, d.Digest, d.MediaType)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: blob %s: %w", what, d.Digest, err)
	}
	return nil
}

// image checks an image manifest and every blob it names, for the
// platform containerd imports (linux/amd64).
func (l *ociLayout) image(d v1.Descriptor, what string) error {
	var m v1.Manifest
	if err := l.decode(d, what+" manifest", &m); err != nil {
		return err
	}
	var cfg v1.ConfigFile
	if err := l.decode(m.Config, what+" config", &cfg); err != nil {
		return err
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		return fmt.Errorf("%s: platform %s/%s, want linux/amd64", what, cfg.OS, cfg.Architecture)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("%s: %d layers, but its config lists %d", what, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, layer := range m.Layers {
		if err := l.check(layer, fmt.Sprintf("%s layer %d", what, i)); err != nil {
			return err
		}
	}
	return nil
}

// platformImage finds linux/amd64 in an index (nested indexes too) and
// checks it.
func (l *ociLayout) platformImage(d v1.Descriptor, what string, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%s: indexes nested too deep", what)
	}
	var idx v1.IndexManifest
	if err := l.decode(d, what+" index", &idx); err != nil {
		return err
	}
	for _, c := range idx.Manifests {
		if c.Platform != nil && (c.Platform.OS != "linux" || c.Platform.Architecture != "amd64") {
			continue
		}
		switch {
		case c.MediaType.IsIndex():
			return l.platformImage(c, what, depth+1)
		case c.MediaType.IsImage():
			return l.image(c, what)
		}
	}
	return fmt.Errorf("%s: no linux/amd64 image in index %s", what, d.Digest)
}

func inspectOCI(file string) (Archive, error) {
	l, err := readLayout(file)
	if err != nil {
		return Archive{}, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(l.index, &idx); err != nil {
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
		what := "image " + ref.Name()
		switch {
		case m.MediaType.IsIndex():
			err = l.platformImage(m, what, 0)
		case m.MediaType.IsImage(), m.MediaType == "":
			err = l.image(m, what)
		default:
			err = fmt.Errorf("%s: media type %s is neither an image nor an index", what, m.MediaType)
		}
		if err != nil {
			return Archive{}, err
		}
		a.Names = append(a.Names, ref.Name())
	}
	if len(a.Names) == 0 {
		return Archive{}, fmt.Errorf("%w: index.json lists no manifests", ErrNoName)
	}
	return a, nil
}
