// Applying planned changes to a mounted ESP, each write atomic (a
// temporary file renamed into place), and cleaning up after a cut.

package esp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kios.dev/kios/internal/shared/atomicfile"
)

// TempDirs are where a write to the ESP leaves a temporary file if it is
// cut short (atomicfile.Durable: the name starts with a dot, which
// systemd-boot skips, so a half-written image is never booted); PID 1
// removes them at the next boot.
var TempDirs = []string{EntriesDir, "EFI/BOOT", "loader"}

func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// List reads the kiOS entries of the ESP mounted at root.
func List(root string) ([]Entry, error) {
	des, err := os.ReadDir(filepath.Join(root, EntriesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the ESP's entries: %w", err)
	}
	var out []Entry
	for _, d := range des {
		if e, ok := ParseEntry(d.Name()); ok && d.Type().IsRegular() {
			out = append(out, e)
		}
	}
	return out, nil
}

// RemoveTemp removes what an interrupted write left, and says what.
func RemoveTemp(root string) ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range TempDirs {
		des, err := os.ReadDir(filepath.Join(root, dir))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range des {
			if !isTemp(d.Name()) {
				continue
			}
			if err := os.Remove(filepath.Join(root, dir, d.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, dir+"/"+d.Name())
		}
	}
	return removed, errors.Join(errs...)
}

// Apply carries ops out on the ESP mounted at root, in order; a Write
// takes image. Each step is on disk before the next starts (the new
// image under a temporary name, synced, then renamed), so a power cut
// leaves the entries as after some prefix of ops, plus perhaps a
// temporary file (RemoveTemp).
func Apply(root string, ops []Op, image io.Reader) error {
	dir := filepath.Join(root, EntriesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ESP entries directory: %w", err)
	}
	for _, o := range ops {
		var err error
		switch o.Kind {
		case Remove:
			err = os.Remove(filepath.Join(dir, o.Name))
		case Rename:
			err = os.Rename(filepath.Join(dir, o.Name), filepath.Join(dir, o.To))
		case Write:
			err = writeEntry(dir, o.To, image)
		}
		if err == nil {
			err = syncDir(dir)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o, err)
		}
	}
	return nil
}

func writeEntry(dir, name string, image io.Reader) error {
	if image == nil {
		return errors.New("no image to write")
	}
	return atomicfile.Durable(filepath.Join(dir, name), image)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
