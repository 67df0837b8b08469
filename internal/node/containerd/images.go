package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/primed"
)

// Namespace is the containerd namespace the CRI plugin uses.
const Namespace = "k8s.io"

// ArchiveLabel records on each imported image the SHA-256 of the archive
// it came from, so a reboot with the same archive skips the import.
const ArchiveLabel = "dev.kios.archive.sha256"

// Logger is the one method this package needs.
type Logger interface {
	Printf(format string, args ...any)
}

// SandboxImage is the pod sandbox image; the containerd config pins it.
const SandboxImage = "localhost/kios/pause:v1"

// Import makes every primed image available to the CRI plugin: archives
// whose images are all present with the same archive checksum are
// skipped; the rest are imported, the one providing first (the sandbox
// image) before the others. The CRI plugin unpacks an image into the
// snapshotter when a container first uses it.
func Import(ctx context.Context, c *client.Client, dir string, idx []primed.Entry, first string, log Logger) error {
	ctx = withNS(ctx)
	is := c.ImageService()
	var errs []error
	for _, p := range importOrder(idx, first) {
		if present(ctx, is, p) {
			events.Emit(log, events.ImagePresent, "file", p.File, "names", p.Names)
			continue
		}
		if err := importOne(ctx, c, filepath.Join(dir, p.File), p); err != nil {
			events.Emit(log, events.ImageImportFailed, "file", p.File, "err", err)
			errs = append(errs, err)
			continue
		}
		events.Emit(log, events.ImageImported, "file", p.File, "names", p.Names)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d primed images failed to import: %w", len(errs), len(idx), errs[0])
	}
	return nil
}

func importOrder(idx []primed.Entry, first string) []primed.Entry {
	var head, tail []primed.Entry
	for _, p := range idx {
		if slices.Contains(p.Names, first) {
			head = append(head, p)
		} else {
			tail = append(tail, p)
		}
	}
	return append(head, tail...)
}

func present(ctx context.Context, is images.Store, p primed.Entry) bool {
	for _, n := range p.Names {
		img, err := is.Get(ctx, n)
		if err != nil || img.Labels[ArchiveLabel] != p.SHA256 {
			return false
		}
	}
	return len(p.Names) > 0
}

func importOne(ctx context.Context, c *client.Client, path string, p primed.Entry) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	imgs, err := c.Import(ctx, f, client.WithImportPlatform(platforms.DefaultStrict()))
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	is := c.ImageService()
	for _, img := range imgs {
		if img.Name == "" {
			continue
		}
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		img.Labels[ArchiveLabel] = p.SHA256
		img.Labels["io.cri-containerd.image"] = "managed"
		if _, err := is.Update(ctx, img, "labels."+ArchiveLabel, "labels.io.cri-containerd.image"); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("label %s: %w", img.Name, err)
		}
	}
	return nil
}
