package image

import (
	"fmt"
	"os"

	"github.com/containerd/go-dmverity/pkg/verity"

	"kios.dev/kios/internal/shared/rootimg"
)

// appendHashTree appends the squashfs image's dm-verity hash tree to
// it (rootimg's layout) and returns the root hash for the command line.
func appendHashTree(sqfs string) ([]byte, error) {
	size, err := rootimg.ReadDataSize(sqfs)
	if err != nil {
		return nil, fmt.Errorf("root image: %w", err)
	}
	st, err := os.Stat(sqfs)
	if err != nil {
		return nil, err
	}
	// mksquashfs pads to 4 KiB: the tree begins where the file ends.
	if uint64(st.Size()) != size {
		return nil, fmt.Errorf("root image %s is %d bytes, want %d (its squashfs in whole 4 KiB blocks; was it made with -nopad?)", sqfs, st.Size(), size)
	}
	p := treeParams(size)
	root, err := verity.Create(&p, sqfs, sqfs)
	if err != nil {
		return nil, fmt.Errorf("dm-verity hash tree of %s: %w", sqfs, err)
	}
	return root, nil
}

// treeParams are rootimg's verity parameters for an image of size
// bytes with its tree appended.
func treeParams(size uint64) verity.Params {
	return verity.Params{
		HashName: rootimg.HashName, HashType: 1,
		DataBlockSize: rootimg.BlockSize, HashBlockSize: rootimg.BlockSize,
		DataBlocks:   size / rootimg.BlockSize,
		NoSuperblock: true, HashAreaOffset: size,
	}
}
