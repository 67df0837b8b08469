// Package gpt reads and writes GUID partition tables, so PID 1 can find
// the data partition by its type GUID and the image tools can make
// disks, without any partitioning program on the node.
package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"
)

// DataPartitionType is the type GUID of kiOS's data partition.
const DataPartitionType = "97aac693-d920-465a-94fe-eb59fc86dfaa"

// ESPType is the EFI System Partition's type GUID.
const ESPType = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

// Errors callers branch on.
var (
	ErrNoGPT   = errors.New("no GPT")
	ErrCorrupt = errors.New("corrupt GPT")
)

const (
	signature  = "EFI PART"
	headerSize = 92
	entrySize  = 128
)

// Partition is one used entry of the table.
type Partition struct {
	Index    int // 1-based, as the kernel numbers partitions
	Type     string
	GUID     string
	FirstLBA uint64
	LastLBA  uint64
	Name     string
}

// Table is a parsed GPT.
type Table struct {
	SectorSize     int
	DiskGUID       string
	FirstUsableLBA uint64
	LastUsableLBA  uint64
	BackupLBA      uint64
	EntriesLBA     uint64
	NumEntries     uint32
	Partitions     []Partition

	header  []byte // the header as read, for rewriting (Grow)
	entries []byte
}

// GUIDString formats a GUID stored in the mixed-endian on-disk layout.
func GUIDString(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// GUIDBytes encodes a GUID string to the on-disk layout.
func GUIDBytes(s string) ([]byte, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return nil, fmt.Errorf("GUID %q: want 32 hex digits", s)
	}
	var raw [16]byte
	for i := 0; i < 16; i++ {
		var v byte
		if _, err := fmt.Sscanf(h[2*i:2*i+2], "%02x", &v); err != nil {
			return nil, fmt.Errorf("GUID %q: %w", s, err)
		}
		raw[i] = v
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(out[4:], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(out[6:], binary.BigEndian.Uint16(raw[6:8]))
	copy(out[8:], raw[8:])
	return out, nil
}

// Read parses the primary GPT of a disk, checking both CRCs; when the
// primary is damaged it falls back to the backup at the disk's end
// (size bytes). sectorSize is usually 512.
func Read(r io.ReaderAt, size int64, sectorSize int) (*Table, error) {
	t, err := readAt(r, 1, sectorSize)
	if err == nil {
		return t, nil
	}
	if size >= 3*int64(sectorSize) {
		if bt, berr := readAt(r, uint64(size/int64(sectorSize))-1, sectorSize); berr == nil {
			return bt, nil
		}
	}
	return nil, err
}

// offset is the byte offset of an LBA, refusing ones that overflow.
func offset(lba uint64, ss int) (int64, error) {
	if lba > uint64(1<<62)/uint64(ss) {
		return 0, fmt.Errorf("%w: LBA %d out of range", ErrCorrupt, lba)
	}
	return int64(lba) * int64(ss), nil
}

func readAt(r io.ReaderAt, lba uint64, ss int) (*Table, error) {
	off, err := offset(lba, ss)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, ss)
	if _, err := r.ReadAt(hdr, off); err != nil {
		return nil, fmt.Errorf("read GPT header: %w", err)
	}
	if string(hdr[:8]) != signature {
		return nil, ErrNoGPT
	}
	hs := binary.LittleEndian.Uint32(hdr[12:])
	if hs < headerSize || int(hs) > ss {
		return nil, fmt.Errorf("%w: header size %d", ErrCorrupt, hs)
	}
	want := binary.LittleEndian.Uint32(hdr[16:])
	h := append([]byte(nil), hdr[:hs]...)
	binary.LittleEndian.PutUint32(h[16:], 0)
	if crc32.ChecksumIEEE(h) != want {
		return nil, fmt.Errorf("%w: header CRC", ErrCorrupt)
	}
	t := &Table{
		SectorSize:     ss,
		BackupLBA:      binary.LittleEndian.Uint64(hdr[32:]),
		FirstUsableLBA: binary.LittleEndian.Uint64(hdr[40:]),
		LastUsableLBA:  binary.LittleEndian.Uint64(hdr[48:]),
		DiskGUID:       GUIDString(hdr[56:72]),
		EntriesLBA:     binary.LittleEndian.Uint64(hdr[72:]),
		NumEntries:     binary.LittleEndian.Uint32(hdr[80:]),
	}
	es := binary.LittleEndian.Uint32(hdr[84:])
	if es < entrySize || es > 4096 || t.NumEntries > 1024 {
		return nil, fmt.Errorf("%w: %d entries of %d bytes", ErrCorrupt, t.NumEntries, es)
	}
	eoff, err := offset(t.EntriesLBA, ss)
	if err != nil {
		return nil, err
	}
	entries := make([]byte, int(t.NumEntries)*int(es))
	if _, err := r.ReadAt(entries, eoff); err != nil {
		return nil, fmt.Errorf("read GPT entries: %w", err)
	}
	if crc32.ChecksumIEEE(entries) != binary.LittleEndian.Uint32(hdr[88:]) {
		return nil, fmt.Errorf("%w: entries CRC", ErrCorrupt)
	}
	t.header, t.entries = append([]byte(nil), hdr[:hs]...), entries
	zero := make([]byte, 16)
	for i := 0; i < int(t.NumEntries); i++ {
		e := entries[i*int(es) : (i+1)*int(es)]
		if bytes.Equal(e[:16], zero) {
			continue
		}
		p := Partition{Index: i + 1, Type: GUIDString(e[0:16]), GUID: GUIDString(e[16:32]),
			FirstLBA: binary.LittleEndian.Uint64(e[32:]), LastLBA: binary.LittleEndian.Uint64(e[40:]),
			Name: utf16Name(e[56:128])}
		if p.LastLBA < p.FirstLBA {
			return nil, fmt.Errorf("%w: partition %d ends before it starts", ErrCorrupt, p.Index)
		}
		t.Partitions = append(t.Partitions, p)
	}
	return t, nil
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// Find returns the first partition of a type.
func (t *Table) Find(typ string) (Partition, bool) {
	for _, p := range t.Partitions {
		if strings.EqualFold(p.Type, typ) {
			return p, true
		}
	}
	return Partition{}, false
}
