package lab

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"kios.dev/kios/internal/host/ociimage"
)

// Registry is the host:port of the lab registry of the lab in dir.
func Registry(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, RegistryFile))
	if err != nil {
		return "", fmt.Errorf("no lab running in %s (kios up first): %w", dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Load pushes every image of a docker-archive to the lab registry under
// its repository path, where nodes find it through their mirror
// configuration by the name inside the archive.
func Load(dir, file string, out io.Writer) error {
	reg, err := Registry(dir)
	if err != nil {
		return err
	}
	a, err := ociimage.Inspect(file)
	if err != nil {
		return err
	}
	if a.Format != "docker-archive" {
		return fmt.Errorf("%s: kios load takes docker-archive files (docker save, crane save)", file)
	}
	for _, n := range a.Names {
		tag, err := name.NewTag(n)
		if err != nil {
			return err
		}
		img, err := tarball.ImageFromPath(file, &tag)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		dst, err := name.NewTag(reg+"/"+tag.RepositoryStr()+":"+tag.TagStr(), name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(dst, img); err != nil {
			return fmt.Errorf("push %s: %w", n, err)
		}
		fmt.Fprintf(out, "kios load: %s is in the lab registry\n", n)
	}
	return nil
}
