package gpt

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadWriterAt is a disk the table can be rewritten on.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Growth is what Grow did or would do to a partition (LBAs inclusive).
type Growth struct {
	Index            int
	FirstLBA         uint64
	OldLastLBA       uint64
	NewLastLBA       uint64
	BackupMoved      bool // the backup GPT was not at the disk's end
	PartitionChanged bool
}

// Changed tells whether anything was written.
func (g Growth) Changed() bool { return g.BackupMoved || g.PartitionChanged }

// Grow extends partition index (1-based) to the end of a disk of size
// bytes, aligned down to 1 MiB, and moves the backup GPT to the disk's
// last sectors. The partition must be the last one on the disk. Nothing
// is written when the table already fills the disk, so a second call
// changes nothing. The backup is written before the primary: a crash in
// between leaves a valid primary that still describes the old layout.
func Grow(d ReadWriterAt, size int64, sectorSize, index int) (Growth, error) {
	t, err := Read(d, size, sectorSize)
	if err != nil {
		return Growth{}, err
	}
	ss := uint64(sectorSize)
	sectors := uint64(size) / ss
	es := len(t.entries) / int(t.NumEntries)
	entryLBAs := (uint64(len(t.entries)) + ss - 1) / ss
	if sectors < 2*entryLBAs+3 || t.FirstUsableLBA >= sectors {
		return Growth{}, fmt.Errorf("disk of %d sectors is too small for its GPT", sectors)
	}
	lastUsable := sectors - 2 - entryLBAs
	var part *Partition
	for i := range t.Partitions {
		if t.Partitions[i].Index == index {
			part = &t.Partitions[i]
		}
	}
	if part == nil {
		return Growth{}, fmt.Errorf("partition %d: not in the table", index)
	}
	for _, p := range t.Partitions {
		if p.Index != index && p.FirstLBA > part.LastLBA {
			return Growth{}, fmt.Errorf("partition %d is not the last one (partition %d starts after it)", index, p.Index)
		}
	}
	if part.LastLBA > lastUsable {
		return Growth{}, fmt.Errorf("partition %d ends at LBA %d, beyond the disk's last usable LBA %d: the disk shrank?", index, part.LastLBA, lastUsable)
	}
	align := uint64(1<<20) / ss
	newLast := (lastUsable+1)/align*align - 1
	g := Growth{Index: index, FirstLBA: part.FirstLBA, OldLastLBA: part.LastLBA, NewLastLBA: part.LastLBA}
	if newLast > part.LastLBA {
		g.NewLastLBA, g.PartitionChanged = newLast, true
	}
	g.BackupMoved = t.BackupLBA != sectors-1 || t.LastUsableLBA != lastUsable
	if !g.Changed() {
		return g, nil
	}
	entries := append([]byte(nil), t.entries...)
	binary.LittleEndian.PutUint64(entries[(index-1)*es+40:], g.NewLastLBA)
	if err := writeTables(d, sectorSize, sectors, t.header, entries, t.EntriesLBA, lastUsable); err != nil {
		return g, err
	}
	if err := fixProtectiveMBR(d, sectors); err != nil {
		return g, err
	}
	return g, nil
}

// fixProtectiveMBR makes the protective MBR's 0xEE entry cover the disk.
func fixProtectiveMBR(d ReadWriterAt, sectors uint64) error {
	mbr := make([]byte, 512)
	if _, err := d.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("read protective MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return nil
	}
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i:]
		if e[4] == 0xee {
			binary.LittleEndian.PutUint32(e[12:], uint32(min(sectors-1, 0xffffffff)))
			if _, err := d.WriteAt(mbr, 0); err != nil {
				return fmt.Errorf("write protective MBR: %w", err)
			}
			return nil
		}
	}
	return nil
}
