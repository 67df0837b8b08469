// Package switchroot is the initramfs stage of the boot: mount the
// compressed root image and make it the root.
package switchroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/rootdisk"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kmod"
	"kios.dev/kios/internal/shared/rootimg"
)

// Logger is the one method this package needs.
type Logger interface {
	Printf(format string, args ...any)
}

// RootImage is the compressed root filesystem inside the initramfs.
const RootImage = "/root.squashfs"

// InInitramfs reports whether this process runs from the initramfs,
// where the root image still has to be mounted.
func InInitramfs() bool {
	_, err := os.Stat(RootImage)
	return err == nil
}

// SwitchRoot mounts the root image read-only from a loop device, moves
// the kernel filesystems into it, empties the initramfs (freeing its
// RAM) and makes the image the root, so runc can pivot_root as upstream
// intends. The caller then execs /bin/init.
func SwitchRoot(log Logger, loadModule func(string) error) error {
	// The same flags as the node's mount table: these mounts move into
	// the root image and stay.
	locked := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	for _, m := range []struct {
		src, dst, typ string
		flags         uintptr
		data          string
	}{
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0755"},
		{"proc", "/proc", "proc", locked, ""}, {"sysfs", "/sys", "sysfs", locked, ""},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.typ, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	l, err := kmod.Open(dir, loadModule)
	if err != nil {
		return err
	}
	for _, m := range []string{"loop", "squashfs"} {
		if _, err := l.Probe(m); err != nil {
			return fmt.Errorf("load %s: %w", m, err)
		}
	}
	dev, err := rootdisk.AttachLoop(RootImage, unix.LO_FLAGS_READ_ONLY)
	if err != nil {
		return err
	}
	// The root is mounted from a device-mapper device over the RAM
	// copy, so PID 1 can later swap it to a verified disk copy under the
	// mount; without one, from the loop device (and from RAM for good).
	if mapped, err := mapRoot(l, dev); err != nil {
		events.Emit(log, events.RootMapFailed, "err", err)
	} else {
		dev = mapped
	}
	if err := os.MkdirAll("/sysroot", 0o755); err != nil {
		return err
	}
	if err := unix.Mount(dev, "/sysroot", "squashfs", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil {
		return fmt.Errorf("mount root image %s: %w", dev, err)
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(d, "/sysroot"+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s into the root image: %w", d, err)
		}
	}
	if err := emptyInitramfs(); err != nil {
		events.Emit(log, events.InitramfsCleanupFailed, "err", err)
	}
	if err := unix.Chdir("/sysroot"); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root image to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// mapRoot makes the root's device-mapper device over the squashfs part
// of loop (the root image file ends with its hash tree).
func mapRoot(l *kmod.Loader, loop string) (string, error) {
	size, err := rootimg.ReadDataSize(RootImage)
	if err != nil {
		return "", err
	}
	if _, err := l.Probe("dm-mod"); err != nil {
		return "", fmt.Errorf("load dm-mod: %w", err)
	}
	return rootdisk.Linear(loop, size)
}

// emptyInitramfs deletes the initramfs files, staying on its filesystem.
func emptyInitramfs() error {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return err
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		p := "/" + e.Name()
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil || s.Dev != st.Dev || p == "/sysroot" {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
