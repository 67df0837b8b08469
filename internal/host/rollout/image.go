// Package rollout upgrades a cluster's kiOS nodes in place, one node
// (or --max-unavailable nodes) at a time: cordon, drain through the
// Eviction API (the kubectl drain package: PodDisruptionBudgets
// respected, DaemonSet and static pods left), a pod on the node hands
// PID 1 the new image (internal/shared/upgrade), the node reboots into it, and
// the rollout waits until the node is Ready on the new version before
// it uncordons it and moves on. `kios upgrade` and `kios rollback`.
package rollout

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"kios.dev/kios/internal/shared/upgrade/esp"
)

// ImagePath is where the upgrade image carries the kiOS EFI.
const ImagePath = "/kios.efi"

// VersionLabel is the upgrade image's label naming the version inside.
const VersionLabel = "dev.kios.version"

// Repository is the upgrade image's repository (tagged with the version).
const Repository = "kios/upgrade"

// Pack makes the upgrade image: the system pods' image (its `system
// upgrade` program) with the EFI at ImagePath, labelled with the
// EFI's version. The EFI is checked as PID 1 will check it first.
func Pack(efiPath, systemArchive string) (v1.Image, string, error) {
	efi, err := os.ReadFile(efiPath)
	if err != nil {
		return nil, "", fmt.Errorf("the EFI: %w", err)
	}
	info, err := esp.ReadImage(efi)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", efiPath, err)
	}
	tag, err := name.NewTag("localhost/kios/system:v1")
	if err != nil {
		return nil, "", err
	}
	base, err := tarball.ImageFromPath(systemArchive, &tag)
	if err != nil {
		return nil, "", fmt.Errorf("the system image %s (make build): %w", systemArchive, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: ImagePath[1:], Typeflag: tar.TypeReg, Mode: 0o444, Size: int64(len(efi)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(efi); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, "", err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, "", err
	}
	cfg = cfg.DeepCopy()
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	cfg.Config.Labels[VersionLabel] = info.Version
	cfg.Config.Entrypoint = []string{"/bin/system", "upgrade"}
	img, err = mutate.ConfigFile(img, cfg)
	return img, info.Version, err
}

// Push writes img to registry (host:port, plain HTTP when insecure) as
// Repository:version and returns the reference pushed.
func Push(img v1.Image, registry, version string, insecure bool) (string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewTag(registry+"/"+Repository+":"+version, opts...)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return ref.String(), nil
}

// VersionOf reads the version label of an upgrade image in a registry.
func VersionOf(ref string) (string, error) { return VersionVia(ref, "") }

// VersionVia reads the version label of the upgrade image ref from
// mirror (host:port, plain HTTP) when it is set, as a kios up lab's
// nodes pull every registry's images from the lab registry (an image
// put there with kios load keeps its name, e.g. localhost/...).
func VersionVia(ref, mirror string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if mirror != "" {
		if r, err = name.ParseReference(mirror+"/"+r.Context().RepositoryStr()+refSuffix(r), name.Insecure); err != nil {
			return "", err
		}
	}
	img, err := remote.Image(r)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	v := cfg.Config.Labels[VersionLabel]
	if v == "" {
		return "", fmt.Errorf("%s has no %s label: not a kiOS upgrade image (kios upgrade --to FILE.efi makes one)", ref, VersionLabel)
	}
	return v, nil
}

// refSuffix is a reference's ":tag" or "@digest".
func refSuffix(r name.Reference) string {
	if d, ok := r.(name.Digest); ok {
		return "@" + d.DigestStr()
	}
	return ":" + r.Identifier()
}
