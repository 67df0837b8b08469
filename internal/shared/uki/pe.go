// Package uki writes Unified Kernel Images: a systemd EFI stub with the
// kernel, initramfs, command line and metadata appended as PE sections.
package uki

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Offsets inside the PE32+ optional header.
const (
	optMagic             = 0
	optSizeOfInitData    = 8
	optSectionAlignment  = 32
	optFileAlignment     = 36
	optSizeOfImage       = 56
	optSizeOfHeaders     = 60
	optCheckSum          = 64
	optNumberOfRvaSizes  = 108
	optDataDirectories   = 112
	certTableDirectory   = 4
	sectionHeaderSize    = 40
	scnInitializedData   = 0x00000040
	scnMemRead           = 0x40000000
	pe32PlusMagic        = 0x20b
	coffHeaderSize       = 20
	coffNumberOfSections = 2
	coffSizeOfOptHeader  = 16
)

// ErrNotPE is returned when the stub is not a PE32+ image.
var ErrNotPE = errors.New("not a PE32+ EFI image")

type section struct {
	name          string
	virtualSize   uint32
	virtualAddr   uint32
	sizeOfRawData uint32
	pointerToRaw  uint32
	headerOffset  int
}

// peFile is the parsed view of a stub needed to append sections.
type peFile struct {
	data       []byte
	optOffset  int
	coffOffset int
	tableStart int
	sections   []section
}

func parsePE(b []byte) (*peFile, error) {
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return nil, fmt.Errorf("%w: no MZ header", ErrNotPE)
	}
	lfanew := int(binary.LittleEndian.Uint32(b[0x3c:]))
	if lfanew+4+coffHeaderSize > len(b) || string(b[lfanew:lfanew+4]) != "PE\x00\x00" {
		return nil, fmt.Errorf("%w: no PE signature", ErrNotPE)
	}
	p := &peFile{data: b, coffOffset: lfanew + 4}
	p.optOffset = p.coffOffset + coffHeaderSize
	optSize := int(binary.LittleEndian.Uint16(b[p.coffOffset+coffSizeOfOptHeader:]))
	if p.optOffset+optSize > len(b) || optSize < optDataDirectories {
		return nil, fmt.Errorf("%w: truncated optional header", ErrNotPE)
	}
	if binary.LittleEndian.Uint16(b[p.optOffset+optMagic:]) != pe32PlusMagic {
		return nil, fmt.Errorf("%w: optional header is not PE32+", ErrNotPE)
	}
	p.tableStart = p.optOffset + optSize
	n := int(binary.LittleEndian.Uint16(b[p.coffOffset+coffNumberOfSections:]))
	if p.tableStart+n*sectionHeaderSize > len(b) {
		return nil, fmt.Errorf("%w: truncated section table", ErrNotPE)
	}
	for i := 0; i < n; i++ {
		o := p.tableStart + i*sectionHeaderSize
		h := b[o : o+sectionHeaderSize]
		name := string(h[:8])
		for j := 0; j < 8; j++ {
			if h[j] == 0 {
				name = string(h[:j])
				break
			}
		}
		p.sections = append(p.sections, section{
			name:          name,
			virtualSize:   binary.LittleEndian.Uint32(h[8:]),
			virtualAddr:   binary.LittleEndian.Uint32(h[12:]),
			sizeOfRawData: binary.LittleEndian.Uint32(h[16:]),
			pointerToRaw:  binary.LittleEndian.Uint32(h[20:]),
			headerOffset:  o,
		})
	}
	return p, nil
}

func (p *peFile) u32(off int) uint32 { return binary.LittleEndian.Uint32(p.data[p.optOffset+off:]) }

func (p *peFile) certTable() (offset, size uint32) {
	if p.u32(optNumberOfRvaSizes) <= certTableDirectory {
		return 0, 0
	}
	o := p.optOffset + optDataDirectories + 8*certTableDirectory
	return binary.LittleEndian.Uint32(p.data[o:]), binary.LittleEndian.Uint32(p.data[o+4:])
}

func alignUp(v, a uint32) uint32 {
	if a == 0 {
		return v
	}
	return (v + a - 1) / a * a
}

// Checksum computes the PE image checksum (the algorithm of the Windows
// loader's CheckSumMappedFile), skipping the CheckSum field itself.
func Checksum(b []byte, checksumOffset int) uint32 {
	var sum uint64
	for i := 0; i+1 < len(b); i += 2 {
		if i == checksumOffset || i == checksumOffset+2 {
			continue
		}
		sum += uint64(binary.LittleEndian.Uint16(b[i:]))
		sum = (sum & 0xffff) + (sum >> 16)
	}
	if len(b)%2 == 1 {
		sum += uint64(b[len(b)-1])
		sum = (sum & 0xffff) + (sum >> 16)
	}
	sum = (sum & 0xffff) + (sum >> 16)
	return uint32(sum) + uint32(len(b))
}
