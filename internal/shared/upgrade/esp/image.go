// Reading a kiOS image (a UKI) before it goes on the ESP: its version
// and the sections a kiOS image must have.

package esp

import (
	"errors"
	"fmt"

	"kios.dev/kios/internal/shared/osrelease"
	"kios.dev/kios/internal/shared/uki"
)

// ErrNotKios means the file is an EFI program but not a kiOS image.
var ErrNotKios = errors.New("not a kiOS image")

// Image is what a kiOS EFI says about itself.
type Image struct {
	Version string
	Loader  []byte // systemd-boot; nil for images built before it was carried
}

// ReadImage checks that b is a kiOS UKI (a PE with a kernel, an initrd
// and a kiOS os-release) and reads its version and loader.
func ReadImage(b []byte) (Image, error) {
	names, err := uki.SectionNames(b)
	if err != nil {
		return Image{}, fmt.Errorf("not an EFI program: %w", err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, s := range []string{".osrel", ".linux", ".initrd"} {
		if !have[s] {
			return Image{}, fmt.Errorf("%w: no %s section (a unified kernel image has one)", ErrNotKios, s)
		}
	}
	osrel, err := uki.SectionData(b, ".osrel")
	if err != nil {
		return Image{}, err
	}
	info, err := osrelease.Parse(osrel)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrNotKios, err)
	}
	if info.ID != osrelease.ID {
		return Image{}, fmt.Errorf("%w: its os-release says ID=%q (%s)", ErrNotKios, info.ID, info.PrettyName)
	}
	if err := osrelease.CheckVersion(info.Version); err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrNotKios, err)
	}
	img := Image{Version: info.Version}
	if have[uki.LoaderSection] {
		if img.Loader, err = uki.SectionData(b, uki.LoaderSection); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}
