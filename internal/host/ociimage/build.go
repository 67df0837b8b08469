// Package ociimage builds the small single-binary OCI images of kiOS's
// system pods (pause, system) with go-containerregistry, and reads
// image archives given to the image builder.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FromBinary makes an image whose one layer holds the binary at
// /bin/NAME and whose entrypoint runs it. Times are fixed at the Unix
// epoch so the same binary gives the same image digest.
func FromBinary(binary, ref string, args []string, opts ...Option) (v1.Image, name.Reference, error) {
	base := filepath.Base(binary)
	return FromFiles(ref, []File{{Src: binary, Dest: "bin/" + base}}, append([]string{"/bin/" + base}, args...), opts...)
}

// File is one executable to put in an image.
type File struct{ Src, Dest string }

// FromFiles makes a one-layer image of executables (mode 0555) with the
// given entrypoint, deterministically.
func FromFiles(ref string, files []File, entrypoint []string, opts ...Option) (v1.Image, name.Reference, error) {
	// A bad name is refused before any file is read.
	if _, err := name.ParseReference(ref); err != nil {
		return nil, nil, fmt.Errorf("image name %q: %w", ref, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{"bin/": true, "tmp/": true}
	for _, f := range files {
		dirs[filepath.Dir(f.Dest)+"/"] = true
	}
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch}); err != nil {
			return nil, nil, err
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f.Src, err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Dest, Typeflag: tar.TypeReg, Mode: 0o555, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return FromLayer(ref, buf.Bytes(), v1.Config{Entrypoint: entrypoint, Env: []string{"PATH=/bin"}, WorkingDir: "/"}, opts...)
}

// Option changes how an image is built.
type Option func(*options)

type options struct{ uncompressed bool }

// Uncompressed stores the layer uncompressed, for the images primed in
// the EFI: its squashfs compresses them better than a gzip or zstd layer
// (0.6 MB of the EFI), and containerd unpacks them without decoding
// (zstd layers left its heap larger, docs/benchmark.md, 2026-12-08).
// Such an archive read back by go-containerregistry gets gzip layers,
// so its manifest digest is not the built one's.
func Uncompressed() Option { return func(o *options) { o.uncompressed = true } }

// FromLayer makes a one-layer linux/amd64 image of an uncompressed layer
// tarball with the given configuration, its creation time fixed at the
// Unix epoch so the same layer gives the same digest.
func FromLayer(ref string, layerTar []byte, config v1.Config, opts ...Option) (v1.Image, name.Reference, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, fmt.Errorf("image name %q: %w", ref, err)
	}
	var layer v1.Layer
	if o.uncompressed {
		layer = static.NewLayer(layerTar, types.OCIUncompressedLayer)
	} else if layer, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}); err != nil {
		return nil, nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0)}
	cfg.Config = config
	cfg.History = nil
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, nil, err
	}
	return img, tag, nil
}

// WriteArchive writes img as a docker-archive tarball (what `docker save`
// writes) through a temporary file, so a failure leaves nothing at path.
func WriteArchive(path string, tag name.Reference, img v1.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.Write(tag, img, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
