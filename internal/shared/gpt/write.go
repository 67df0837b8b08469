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
	template := make([]byte, headerSize)
	copy(template, signature)
	binary.LittleEndian.PutUint32(template[8:], 0x00010000)
	binary.LittleEndian.PutUint32(template[12:], headerSize)
	binary.LittleEndian.PutUint64(template[40:], firstUsable)
	copy(template[56:], dg)
	binary.LittleEndian.PutUint32(template[80:], 128)
	binary.LittleEndian.PutUint32(template[84:], entrySize)
	mbr := make([]byte, ss)
	mbr[446+4] = 0xee // protective partition covering the disk
	binary.LittleEndian.PutUint32(mbr[446+8:], 1)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(min(sectors-1, 0xffffffff)))
	mbr[510], mbr[511] = 0x55, 0xaa
	if _, err := w.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("write protective MBR: %w", err)
	}
	return writeTables(w, ss, sectors, template, entries, 2, lastUsable)
}

// writeTables writes both copies of a GPT, the backup first: header
// fields from template (signature, revision, size, first usable LBA,
// disk GUID, entry count and size), the rest set here with the CRCs.
// The primary entries start at entriesLBA; the backup's end the disk.
func writeTables(w io.WriterAt, ss int, sectors uint64, template, entries []byte, entriesLBA, lastUsable uint64) error {
	entryLBAs := (uint64(len(entries)) + uint64(ss) - 1) / uint64(ss)
	backupEntries := sectors - 1 - entryLBAs
	header := func(self, backup, entriesAt uint64) []byte {
		h := make([]byte, ss)
		copy(h, template)
		le := binary.LittleEndian
		le.PutUint64(h[24:], self)
		le.PutUint64(h[32:], backup)
		le.PutUint64(h[48:], lastUsable)
		le.PutUint64(h[72:], entriesAt)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
		le.PutUint32(h[16:], 0)
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:len(template)]))
		return h
	}
	for _, wr := range []struct {
		lba  uint64
		data []byte
	}{
		{backupEntries, entries}, {sectors - 1, header(sectors-1, 1, backupEntries)},
		{entriesLBA, entries}, {1, header(1, sectors-1, entriesLBA)},
	} {
		if _, err := w.WriteAt(wr.data, int64(wr.lba)*int64(ss)); err != nil {
			return fmt.Errorf("write GPT at LBA %d: %w", wr.lba, err)
		}
	}
	return nil
}
