// Package rootdisk serves the root image from a copy on the data
// partition instead of RAM, every block checked by dm-verity against
// the root hash on the EFI's signed command line (docs/root.md).
//
// The initramfs mounts the image from a device-mapper device,
// DeviceName, whose table is linear over the loop device of the RAM
// copy (Linear). Once PID 1 has the data partition, Run writes the copy
// there (once per image), checks all of it through a verity device,
// loads a verity table over it into DeviceName (the kernel swaps tables
// inside one resume, under the mounted squashfs) and detaches the RAM
// copy's loop device, which frees its RAM.
package rootdisk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/shared/events"
)

// DeviceName is the device-mapper device the root is mounted from.
const DeviceName = "kios-root"

// ErrNotMapped is a root that is not on DeviceName (the initramfs could
// not make it, or the image predates it): it stays where it is.
var ErrNotMapped = errors.New("the root is not on the " + DeviceName + " device")

// Root is the mounted root image.
type Root struct {
	RAM      string // the RAM copy's loop device
	DataSize uint64 // the squashfs, in whole verity blocks
	Total    uint64 // with its hash tree: what a copy holds
}

// Ops are the machine's side of Run; Linux is the real one.
type Ops interface {
	// Root finds the mounted root image (ErrNotMapped: not on
	// DeviceName).
	Root() (Root, error)
	// HaveCopy says whether path holds a copy of size bytes.
	HaveCopy(path string, size uint64) bool
	// WriteCopy writes the RAM copy to path, durably, all or nothing.
	WriteCopy(ram, path string, size uint64) error
	// Prune removes the copies in dir but keep (all of them when keep
	// is ""), and leftovers of writes.
	Prune(dir, keep string) ([]string, error)
	// Attach puts a read-only loop device over path.
	Attach(path string) (string, error)
	// Detach undoes Attach.
	Detach(loop string) error
	// Check reads all of the copy through a verity device of its own.
	Check(loop string, r Root, rootHash []byte) error
	// Swap loads the verity table over loop into DeviceName.
	Swap(loop string, r Root, rootHash []byte) error
	// Release detaches the RAM copy's loop device and says how much RAM
	// that freed (bytes, from /proc/meminfo's Shmem).
	Release(ram string) (int64, error)
}

// Run moves the root image to a copy in dir (on the data partition).
// Whatever fails, the node keeps its root where it was (in RAM) and the
// one root-disk event says why; the error is only for a failure that
// left something to clean (a loop device it could not detach).
func Run(o Ops, dir string, rootHash []byte, emit func(events.Name, ...any)) error {
	r, err := o.Root()
	if err != nil {
		emit(events.RootDisk, "status", "ram", "reason", err)
		return nil
	}
	path := filepath.Join(dir, hex.EncodeToString(rootHash)+".img")
	if !o.HaveCopy(path, r.Total) {
		start := time.Now()
		emit(events.RootDiskWriting, "copy", path, "bytes", r.Total)
		if err := o.WriteCopy(r.RAM, path, r.Total); err != nil {
			emit(events.RootDisk, "status", "ram", "copy", path, "reason", fmt.Errorf("write the copy: %w", err))
			return nil
		}
		emit(events.RootDiskCopy, "copy", path, "bytes", r.Total, "took", time.Since(start).Round(time.Millisecond))
	}
	if removed, err := o.Prune(dir, path); len(removed) > 0 || err != nil {
		emit(events.RootDiskPruned, "removed", removed, "err", err)
	}
	loop, err := o.Attach(path)
	if err != nil {
		emit(events.RootDisk, "status", "ram", "copy", path, "reason", err)
		return nil
	}
	start := time.Now()
	if err := o.Check(loop, r, rootHash); err != nil {
		// This boot keeps its root in RAM; the copy goes, so the next
		// boot writes a good one instead of refusing it forever.
		derr := o.Detach(loop)
		removed := "yes"
		if derr == nil {
			if _, perr := o.Prune(dir, ""); perr != nil {
				removed = perr.Error()
			}
		} else {
			removed = "no: its loop device is still attached"
		}
		emit(events.RootDisk, "status", "refused", "copy", path, "reason", err, "removed", removed)
		return derr
	}
	checked := time.Since(start).Round(time.Millisecond)
	if err := o.Swap(loop, r, rootHash); err != nil {
		emit(events.RootDisk, "status", "ram", "copy", path, "reason", err)
		return o.Detach(loop)
	}
	freed, err := o.Release(r.RAM)
	if err != nil {
		// The root is on the copy; the RAM copy stays attached.
		emit(events.RootDisk, "status", "disk", "copy", path, "checked_in", checked, "freed_mib", 0, "err", err)
		return nil
	}
	emit(events.RootDisk, "status", "disk", "copy", path, "checked_in", checked, "freed_mib", fmt.Sprintf("%.1f", float64(freed)/(1<<20)))
	return nil
}
