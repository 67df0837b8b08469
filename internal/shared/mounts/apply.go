package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Mounter performs mounts; the real one calls mount(2), tests record.
type Mounter interface {
	Mount(m Mount) error
}

// System mounts for real, under an optional root prefix.
type System struct{ Root string }

// Mount creates the target directory when missing, then mounts.
func (s System) Mount(m Mount) error {
	target := filepath.Join(s.Root, m.Target)
	// A file is a mount point too (EtcFileFallback).
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(target, os.FileMode(m.Mode&0o777)); err != nil {
			return fmt.Errorf("create mount point %s: %w", m.Target, err)
		}
	}
	if m.Flags&unix.MS_BIND != 0 {
		// A bind takes its flags only from a second, remounting call.
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", m.Source, m.Target, err)
		}
		if err := unix.Mount("", target, "", m.Flags|unix.MS_REMOUNT, ""); err != nil {
			return fmt.Errorf("restrict %s: %w", m.Target, err)
		}
		return nil
	}
	if err := unix.Mount(m.Source, target, m.FSType, m.Flags, m.Data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.FSType, m.Target, err)
	}
	return nil
}

// Apply mounts each entry whose target is not yet a mount point
// (mounted reports that, from mountinfo). It stops at the first error:
// later mounts may sit on top of the failed one.
func Apply(mt Mounter, table []Mount, mounted func(target string) bool) error {
	for _, m := range table {
		if mounted != nil && mounted(m.Target) {
			continue
		}
		if err := mt.Mount(m); err != nil {
			return err
		}
	}
	return nil
}

// MakeShared makes every mount under / recursively shared, so pods can
// use mountPropagation.
func MakeShared() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("make / rshared: %w", err)
	}
	return nil
}
