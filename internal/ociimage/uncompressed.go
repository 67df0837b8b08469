package ociimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteUncompressed writes dst, a docker-archive holding the images of
// the docker-archive src with every layer stored as a plain tar. The
// images keep their configs byte for byte, so their IDs and layer diff
// IDs stay the same; only the manifests change. An image baked into a
// kiOS root image gains twice: the root image's zstd compresses a plain
// tar better than the layer's gzip did, and containerd unpacks it at a
// pod's start without decompressing it, which under emulation was most
// of a container's creation (docs/benchmark.md). work holds the layers
// until dst is written.
func WriteUncompressed(src, dst, work string) error {
	m, err := tarball.LoadManifest(opener(src))
	if err != nil {
		return fmt.Errorf("image archive %s: manifest.json: %w", src, err)
	}
	refs := map[name.Reference]v1.Image{}
	for i, d := range m {
		if len(d.RepoTags) == 0 {
			return fmt.Errorf("image archive %s: %w: image %d has no RepoTags", src, ErrNoName, i)
		}
		var tags []name.Tag
		for _, t := range d.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return fmt.Errorf("image archive %s: RepoTag %q: %w", src, t, err)
			}
			tags = append(tags, tag)
		}
		img, err := tarball.Image(opener(src), &tags[0])
		if err != nil {
			return fmt.Errorf("image archive %s: image %s: %w", src, tags[0], err)
		}
		u, err := uncompressedImage(img, filepath.Join(work, fmt.Sprintf("image-%d", i)))
		if err != nil {
			return fmt.Errorf("image archive %s: image %s: %w", src, tags[0], err)
		}
		for _, t := range tags {
			refs[t] = u
		}
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := tarball.MultiRefWrite(refs, f); err != nil {
		f.Close()
		os.Remove(dst)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return f.Close()
}

// uncompressedImage writes img's layers, uncompressed, under dir and
// returns the image made of them and img's own config bytes.
func uncompressedImage(img v1.Image, dir string) (v1.Image, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	u := &plainImage{config: cfg, layers: map[v1.Hash]*plainLayer{}}
	man := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfg)), Digest: digestOf(cfg)},
	}
	for i, l := range layers {
		pl, err := writePlainLayer(l, filepath.Join(dir, fmt.Sprintf("layer-%d.tar", i)))
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		u.layers[pl.digest] = pl
		man.Layers = append(man.Layers, v1.Descriptor{MediaType: pl.MediaTypeValue(), Size: pl.size, Digest: pl.digest})
	}
	if u.manifest, err = json.Marshal(man); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(u)
}

func digestOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// writePlainLayer stores l's uncompressed tar at path and checks it
// against the layer's diff ID.
func writePlainLayer(l v1.Layer, path string) (*plainLayer, error) {
	want, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if got != want {
		return nil, fmt.Errorf("uncompressed content is %s, the config says %s", got, want)
	}
	return &plainLayer{path: path, digest: got, size: n}, nil
}

// plainImage is an image whose blobs are its config, its manifest and
// plain-tar layers in files.
type plainImage struct {
	config, manifest []byte
	layers           map[v1.Hash]*plainLayer
}

func (i *plainImage) RawConfigFile() ([]byte, error) { return i.config, nil }
func (i *plainImage) RawManifest() ([]byte, error)   { return i.manifest, nil }
func (i *plainImage) MediaType() (types.MediaType, error) {
	return types.DockerManifestSchema2, nil
}

func (i *plainImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if h == digestOf(i.config) {
		return partial.ConfigLayer(i)
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// plainLayer is an uncompressed layer: its blob is its tar, so its
// digest is its diff ID.
type plainLayer struct {
	path   string
	digest v1.Hash
	size   int64
}

func (l *plainLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *plainLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *plainLayer) Size() (int64, error)                 { return l.size, nil }
func (l *plainLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *plainLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *plainLayer) MediaTypeValue() types.MediaType      { return types.DockerUncompressedLayer }
func (l *plainLayer) MediaType() (types.MediaType, error)  { return l.MediaTypeValue(), nil }

// IsDockerArchive tells whether file is a docker-archive (it has a
// manifest.json), the format WriteUncompressed converts.
func IsDockerArchive(file string) (bool, error) {
	entries, err := tarEntries(file)
	if err != nil {
		return false, fmt.Errorf("image archive %s: %w", file, err)
	}
	return entries["manifest.json"], nil
}
