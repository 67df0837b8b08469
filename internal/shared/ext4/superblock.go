// Package ext4 reads the few fields of an ext2/3/4 superblock kiOS needs:
// the label (kios.data=LABEL=), the size (the grow pod) and whether the
// journal needs replaying (PID 1's mount log line).
package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotExt4 is returned when there is no ext superblock.
var ErrNotExt4 = errors.New("not an ext4 filesystem")

// Superblock holds the fields read.
type Superblock struct {
	Label         string
	BlockSize     uint64
	Blocks        uint64
	NeedsRecovery bool // the last mount did not end cleanly: the journal will be replayed
}

// Read reads the superblock of the filesystem that starts at byte start
// of r.
func Read(r io.ReaderAt, start int64) (Superblock, error) {
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, start+1024); err != nil {
		return Superblock{}, fmt.Errorf("read ext4 superblock: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint16(sb[0x38:]) != 0xef53 {
		return Superblock{}, ErrNotExt4
	}
	logSize := le.Uint32(sb[0x18:])
	if logSize > 6 {
		return Superblock{}, fmt.Errorf("ext4 superblock: block size 2^%d KiB", logSize)
	}
	const incompatRecover, incompat64bit = 0x4, 0x80
	incompat := le.Uint32(sb[0x60:])
	s := Superblock{
		Label:         strings.TrimRight(string(sb[0x78:0x88]), "\x00"),
		BlockSize:     1024 << logSize,
		Blocks:        uint64(le.Uint32(sb[0x04:])),
		NeedsRecovery: incompat&incompatRecover != 0,
	}
	if incompat&incompat64bit != 0 {
		s.Blocks |= uint64(le.Uint32(sb[0x150:])) << 32
	}
	return s, nil
}
