package esp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name a new image is written under: systemd-boot
// skips names that start with a dot, so a half-written image is never
// booted, and PID 1 removes it at the next boot.
const tempPrefix = ".kios-"

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
	des, err := os.ReadDir(filepath.Join(root, EntriesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, d := range des {
		if strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(root, EntriesDir, d.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, d.Name())
		}
	}
	return removed, errors.Join(errs...)
}

// Apply carries ops out on the ESP mounted at root, in order; a Write
// takes image. Each step is on disk before the next starts (the new
// image under a temporary name, synced, then renamed), so a power cut
// leaves the entries as after some prefix of ops, plus perhaps a
// temporary file.
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
	tmp := filepath.Join(dir, tempPrefix+strings.TrimPrefix(name, prefix)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, image)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
