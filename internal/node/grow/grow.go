// Package grow extends the data partition to the end of its disk and
// resizes its mounted ext4 online, for the grow system pod. PID 1 grants
// the pod the open disk and a directory of the mounted filesystem over a
// unix socket (grant.go), so the pod needs no device node and no
// privileged mode: CAP_SYS_ADMIN for BLKPG and CAP_SYS_RESOURCE for the
// ext4 resize are all it holds.
package grow

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/ext4"
	"kios.dev/kios/internal/shared/gpt"
)

// Target is the data partition as granted by PID 1.
type Target struct {
	Disk      *os.File // the whole disk, read-write
	Dir       *os.File // a directory on the mounted data filesystem
	DiskName  string   // for messages: /dev/vda
	Partition int      // the data partition's number on Disk
}

// Close releases the granted descriptors.
func (t Target) Close() {
	t.Disk.Close()
	t.Dir.Close()
}

// Result is what Grow found and did.
type Result struct {
	Table     gpt.Growth
	BlockSize uint64
	OldBlocks uint64 // ext4 blocks before
	NewBlocks uint64 // and after
}

// Changed tells whether the table or the filesystem changed.
func (r Result) Changed() bool { return r.Table.Changed() || r.NewBlocks != r.OldBlocks }

// Bytes is the filesystem's size after Grow.
func (r Result) Bytes() uint64 { return r.NewBlocks * r.BlockSize }

const ext4ResizeFS = 0x40086610 // EXT4_IOC_RESIZE_FS: _IOW('f', 16, __u64)

// Grow makes the partition fill the disk and ext4 fill the partition.
// Each part checks before it writes, so a second call changes nothing
// and a call after a crash finishes what the first began.
func Grow(t Target) (Result, error) {
	g, ss, err := GrowPartition(t)
	if err != nil {
		return Result{Table: g}, err
	}
	r, err := growFS(t, g, ss)
	r.Table = g
	return r, err
}

// GrowPartition rewrites the table so the partition fills the disk and
// tells the kernel its new size. It returns the disk's sector size.
func GrowPartition(t Target) (gpt.Growth, int, error) {
	size, err := t.Disk.Seek(0, 2)
	if err != nil {
		return gpt.Growth{}, 0, fmt.Errorf("size of %s: %w", t.DiskName, err)
	}
	ss, err := unix.IoctlGetInt(int(t.Disk.Fd()), unix.BLKSSZGET)
	if err != nil {
		return gpt.Growth{}, 0, fmt.Errorf("sector size of %s: %w", t.DiskName, err)
	}
	g, err := gpt.Grow(t.Disk, size, ss, t.Partition)
	if err != nil {
		return g, ss, fmt.Errorf("grow partition %d of %s: %w", t.Partition, t.DiskName, err)
	}
	if err := t.Disk.Sync(); err != nil {
		return g, ss, fmt.Errorf("sync %s: %w", t.DiskName, err)
	}
	// The kernel keeps its own idea of the partition's size; telling it
	// the table's size is harmless when it already agrees.
	start, length := int64(g.FirstLBA)*int64(ss), int64(g.NewLastLBA-g.FirstLBA+1)*int64(ss)
	if err := resizePartition(t.Disk, t.Partition, start, length); err != nil {
		return g, ss, fmt.Errorf("tell the kernel partition %d of %s is %d bytes: %w", t.Partition, t.DiskName, length, err)
	}
	return g, ss, nil
}

// growFS resizes the mounted ext4 to the partition's size.
func growFS(t Target, g gpt.Growth, ss int) (Result, error) {
	start, length := int64(g.FirstLBA)*int64(ss), int64(g.NewLastLBA-g.FirstLBA+1)*int64(ss)
	var r Result
	sb, err := ext4.Read(t.Disk, start)
	if err != nil {
		return r, err
	}
	r.BlockSize, r.OldBlocks, r.NewBlocks = sb.BlockSize, sb.Blocks, sb.Blocks
	want := uint64(length) / r.BlockSize
	if want <= r.OldBlocks {
		return r, nil
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, t.Dir.Fd(), ext4ResizeFS, uintptr(unsafe.Pointer(&want))); errno != 0 {
		return r, fmt.Errorf("resize ext4 on partition %d of %s to %d blocks: %w", t.Partition, t.DiskName, want, errno)
	}
	if sb, err = ext4.Read(t.Disk, start); err != nil {
		return r, err
	}
	r.NewBlocks = sb.Blocks
	return r, nil
}

func resizePartition(disk *os.File, partition int, start, length int64) error {
	p := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(partition)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg)))
	if errno != 0 {
		return errno
	}
	return nil
}
