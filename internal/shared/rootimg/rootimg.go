// Package rootimg describes the root image as the EFI carries it: the
// squashfs, in whole verity blocks, followed by its dm-verity hash tree
// (sha256, 4 KiB blocks, no salt, no superblock), whose root hash is on
// the EFI's command line (kios.root-hash=). A node with a data partition
// serves the image from a copy there through dm-verity (docs/root.md).
package rootimg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	// BlockSize is the verity data and hash block size.
	BlockSize = 4096
	// HashName is the verity hash.
	HashName = "sha256"
	// SuperblockSize is how much of the image DataSize reads.
	SuperblockSize = 96
)

// ErrNotSquashfs is an image without a squashfs superblock.
var ErrNotSquashfs = errors.New("not a squashfs image")

// DataSize reads a squashfs superblock (the image's first
// SuperblockSize bytes) and returns the image's size rounded up to
// whole verity blocks: where its hash tree begins.
func DataSize(sb []byte) (uint64, error) {
	if len(sb) < SuperblockSize || binary.LittleEndian.Uint32(sb) != 0x73717368 {
		return 0, ErrNotSquashfs
	}
	used := binary.LittleEndian.Uint64(sb[40:])
	if used == 0 || used > 1<<40 {
		return 0, fmt.Errorf("%w: bytes_used %d", ErrNotSquashfs, used)
	}
	return (used + BlockSize - 1) / BlockSize * BlockSize, nil
}

// ReadDataSize is DataSize of the image file at path.
func ReadDataSize(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sb := make([]byte, SuperblockSize)
	if _, err := io.ReadFull(f, sb); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	size, err := DataSize(sb)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return size, nil
}

// TreeSize is the size of the hash tree of dataSize bytes of image (a
// multiple of BlockSize): a block of digests per 128 blocks below it,
// level by level up to one block.
func TreeSize(dataSize uint64) uint64 {
	const perBlock = BlockSize / 32 // sha256 digests in a hash block
	var size uint64
	for n := dataSize / BlockSize; n > 1; {
		n = (n + perBlock - 1) / perBlock
		size += n * BlockSize
	}
	return size // one data block: none, the root is its digest
}
