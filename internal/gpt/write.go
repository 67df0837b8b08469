package gpt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// Spec is a partition to create.
type Spec struct {
	Type, GUID, Name  string
	FirstLBA, LastLBA uint64
}

// Write writes a protective MBR, the primary and the backup GPT for a
// disk of size bytes (512-byte sectors, 128 entries).
func Write(w io.WriterAt, size int64, diskGUID string, parts []Spec) error {
	const ss = 512
	sectors := uint64(size / ss)
	if sectors < 68 {
		return fmt.Errorf("disk of %d bytes is too small for a GPT", size)
	}
	entries := make([]byte, 128*entrySize)
	firstUsable, lastUsable := uint64(34), sectors-34
	for i, p := range parts {
		if p.FirstLBA < firstUsable || p.LastLBA > lastUsable || p.LastLBA < p.FirstLBA {
			return fmt.Errorf("partition %d (%s) at LBA %d-%d is outside %d-%d", i+1, p.Name, p.FirstLBA, p.LastLBA, firstUsable, lastUsable)
		}
		e := entries[i*entrySize:]
		tb, err := GUIDBytes(p.Type)
		if err != nil {
			return err
		}
		gb, err := GUIDBytes(p.GUID)
		if err != nil {
			return err
		}
		copy(e[0:], tb)
		copy(e[16:], gb)
		binary.LittleEndian.PutUint64(e[32:], p.FirstLBA)
		binary.LittleEndian.PutUint64(e[40:], p.LastLBA)
		for j, c := range utf16.Encode([]rune(p.Name)) {
			if j >= 36 {
				break
			}
			binary.LittleEndian.PutUint16(e[56+2*j:], c)
		}
	}
	dg, err := GUIDBytes(diskGUID)
	if err != nil {
		return err
	}
	header := func(self, backup, entriesLBA uint64) []byte {
		h := make([]byte, ss)
		copy(h, signature)
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], headerSize)
		binary.LittleEndian.PutUint64(h[24:], self)
		binary.LittleEndian.PutUint64(h[32:], backup)
		binary.LittleEndian.PutUint64(h[40:], firstUsable)
		binary.LittleEndian.PutUint64(h[48:], lastUsable)
		copy(h[56:], dg)
		binary.LittleEndian.PutUint64(h[72:], entriesLBA)
		binary.LittleEndian.PutUint32(h[80:], 128)
		binary.LittleEndian.PutUint32(h[84:], entrySize)
		binary.LittleEndian.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:headerSize]))
		return h
	}
	mbr := make([]byte, ss)
	mbr[446+4] = 0xee // protective partition covering the disk
	binary.LittleEndian.PutUint32(mbr[446+8:], 1)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(min(sectors-1, 0xffffffff)))
	mbr[510], mbr[511] = 0x55, 0xaa
	for _, wr := range []struct {
		lba  uint64
		data []byte
	}{
		{0, mbr}, {1, header(1, sectors-1, 2)}, {2, entries},
		{sectors - 33, entries}, {sectors - 1, header(sectors-1, 1, sectors-33)},
	} {
		if _, err := w.WriteAt(wr.data, int64(wr.lba)*ss); err != nil {
			return fmt.Errorf("write GPT at LBA %d: %w", wr.lba, err)
		}
	}
	return nil
}
