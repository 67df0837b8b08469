// Package ociimage builds the small single-binary OCI images of kiOS's
// system pods (pause, system) with go-containerregistry, and reads
// image archives given to the image builder.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
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
func FromBinary(binary, ref string, args []string) (v1.Image, name.Reference, error) {
	base := filepath.Base(binary)
	return FromFiles(ref, []File{{Src: binary, Dest: "bin/" + base}}, append([]string{"/bin/" + base}, args...))
}

// File is one executable to put in an image.
type File struct{ Src, Dest string }

// FromFiles makes a one-layer image of executables (mode 0555) with the
// given entrypoint, deterministically.
func FromFiles(ref string, files []File, entrypoint []string) (v1.Image, name.Reference, error) {
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
	return FromLayer(ref, buf.Bytes(), v1.Config{Entrypoint: entrypoint, Env: []string{"PATH=/bin"}, WorkingDir: "/"})
}

// FromLayer makes a one-layer linux/amd64 image of an uncompressed layer
// tarball with the given configuration, its creation time fixed at the
// Unix epoch so the same layer gives the same digest. The layer is stored
// uncompressed: the EFI's squashfs compresses it (zstd -19) about as well
// as a zstd layer, and containerd unpacks it without decompressing. A
// gzip layer took 0.6 MB more of the EFI; zstd layers left containerd's
// heap larger after decoding them (docs/benchmark.md, 2026-12-08).
func FromLayer(ref string, layerTar []byte, config v1.Config) (v1.Image, name.Reference, error) {
	tag, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, fmt.Errorf("image name %q: %w", ref, err)
	}
	layer := static.NewLayer(layerTar, types.OCIUncompressedLayer)
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
