package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DataDir is where PID 1 mounts the data partition.
const DataDir = "/run/kios/data"

// DataPartition is the data partition's own mount.
func DataPartition(device string) Mount {
	return Mount{device, DataDir, "ext4", locked, "", 0o700}
}

// DataImages holds image archives primed on the data partition (kios
// disk --image) and their index, relative to DataDir.
const DataImages = "data/images"

// Dir is a directory of the data partition and its mode.
type Dir struct {
	Path string // relative to the partition's root
	Mode os.FileMode
}

// DataDirs are created on the data partition on first use (by PID 1,
// and by kios disk): root-only, but for the two mounted at /var/lib and
// /var/log, whose contents keep their own modes.
var DataDirs = []Dir{
	{"meta/etc", 0o700}, {"meta/etc.work", 0o700}, {"meta/log", 0o755},
	{"data/lib", 0o755}, {"data/lib/kubelet", 0o700}, {"data/lib/containerd", 0o700}, {"data/lib/cni", 0o700},
	{"data/oci", 0o700}, {"data/pods", 0o700}, {"data/cni-bin", 0o755}, {"modules", 0o700},
}

// MakeDataDirs creates DataDirs under root with their modes.
func MakeDataDirs(root string) error {
	for _, d := range DataDirs {
		p := filepath.Join(root, d.Path)
		if err := os.MkdirAll(p, d.Mode); err != nil {
			return err
		}
		if err := os.Chmod(p, d.Mode); err != nil {
			return err
		}
	}
	return nil
}

// Replaced are the tmpfs mounts the data partition takes over; PID 1
// unmounts them (still empty) before Data.
var Replaced = []string{"/var/lib/kubelet", "/var/lib/containerd", "/var/lib/cni", "/var/log", "/opt/cni/bin"}

const bind = unix.MS_BIND

// Data are the mounts of the data partition's directories. /var/lib
// persists as a whole (the kubelet's certificates, hostPath volumes);
// the CNI's address reservations stay in RAM, as the containers they
// name do not outlive a boot. The CNI plugins a CNI DaemonSet copies to
// /opt/cni/bin (about 15 MiB) live on the disk, as on any installed
// node, instead of in RAM. Extra kernel modules are a lower layer
// beneath the image's own, which they cannot replace.
var Data = []Mount{
	{DataDir + "/data/lib", "/var/lib", "ext4", bind | locked, "", 0o755},
	{"tmpfs", "/var/lib/cni", "tmpfs", locked, "mode=0700", 0o700},
	{DataDir + "/data/oci", "/var/lib/containerd", "ext4", bind | storage, "", 0o700},
	{DataDir + "/data/pods", "/var/lib/kubelet/pods", "ext4", bind | storage, "", 0o750},
	{DataDir + "/meta/log", "/var/log", "ext4", bind | locked, "", 0o755},
	{DataDir + "/data/cni-bin", "/opt/cni/bin", "ext4", bind | storage, "", 0o755},
	{"overlay", "/lib/modules", "overlay", unix.MS_RDONLY | storage, "lowerdir=/lib/modules:" + DataDir + "/modules", 0o755},
}

// MountUnmounter mounts and detaches; the real one detaches with
// umount2(2) and MNT_DETACH.
type MountUnmounter interface {
	Mounter
	Unmount(target string) error
}

// ErrUndoIncomplete means a failed switch to the data partition could not
// be fully undone: some of the node's writable state may sit on the
// partition, some in RAM.
var ErrUndoIncomplete = errors.New("undo incomplete")

// SwitchToData moves the node's writable state onto the data partition
// mounted at DataDir: it detaches the Replaced tmpfs mounts (still empty)
// and applies Data. All or nothing: when a mount fails, what was done is
// undone in reverse, the tmpfs mounts are back, and the error names the
// mount that failed. A failure of an optional mount (extra modules) is
// given to optional and does not stop the switch. The caller unmounts
// DataDir after an error; an error wrapping ErrUndoIncomplete says that
// the node is not back in its RAM-only state and what is left.
func SwitchToData(m MountUnmounter, optional func(Mount, error)) error {
	var done []string // targets to detach on undo, in mount order
	var detached []Mount
	undo := func(cause error) error {
		var left []error
		for i := len(done) - 1; i >= 0; i-- {
			if err := m.Unmount(done[i]); err != nil {
				left = append(left, fmt.Errorf("unmount %s: %w", done[i], err))
			}
		}
		for _, t := range detached {
			if err := m.Mount(t); err != nil {
				left = append(left, fmt.Errorf("mount tmpfs %s again: %w", t.Target, err))
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("%w (%w: %w)", cause, ErrUndoIncomplete, errors.Join(left...))
		}
		return cause
	}
	for _, target := range Replaced {
		t, ok := writable(target)
		if !ok {
			return undo(fmt.Errorf("%s is not a tmpfs of the mount table", target))
		}
		err := m.Unmount(target)
		switch {
		case errors.Is(err, unix.EINVAL):
			continue // not mounted: nothing to put back either
		case err != nil:
			return undo(fmt.Errorf("unmount tmpfs %s: %w", target, err))
		}
		detached = append(detached, t)
	}
	for _, d := range Data {
		if err := m.Mount(d); err != nil {
			if d.Target == "/lib/modules" {
				optional(d, err)
				continue
			}
			return undo(fmt.Errorf("data partition mount %s: %w", d.Target, err))
		}
		done = append(done, d.Target)
	}
	return nil
}

func writable(target string) (Mount, bool) {
	for _, w := range Writable {
		if w.Target == target {
			return w, true
		}
	}
	return Mount{}, false
}

// Unmount detaches the mount at target (under Root).
func (s System) Unmount(target string) error {
	return unix.Unmount(filepath.Join(s.Root, target), unix.MNT_DETACH)
}
