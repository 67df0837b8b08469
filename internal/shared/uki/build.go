package uki

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// LoaderSection is the section kios build puts systemd-boot in (signed
// with the image when it is signed), so that one file carries all a
// disk install needs: kios disk lays the loader out from it, and an
// upgrade brings its own loader.
const LoaderSection = ".sdboot"

// Section is one payload of the UKI, e.g. {".linux", kernel}.
type Section struct {
	Name string
	Data []byte
}

// Build appends sections to an unsigned EFI stub. A section whose name the
// stub already has (systemd stubs carry their own .sbat) replaces the
// stub's copy: the old header leaves the table and the new one is added
// with the others, so the image keeps one section of each name and the
// table stays in address order, as the PE format requires (loaders and
// the stub itself check). The result has a valid PE checksum.
func Build(stub []byte, sections []Section) ([]byte, error) {
	p, err := parsePE(append([]byte(nil), stub...))
	if err != nil {
		return nil, fmt.Errorf("parse stub: %w", err)
	}
	if off, size := p.certTable(); off != 0 || size != 0 {
		return nil, fmt.Errorf("stub is signed (certificate table at %#x); use an unsigned stub", off)
	}
	fileAlign, sectAlign := p.u32(optFileAlignment), p.u32(optSectionAlignment)
	headers := p.u32(optSizeOfHeaders)

	var vaEnd, rawEnd uint32
	existing := map[string]int{}
	for i, s := range p.sections {
		existing[s.name] = i
		vaEnd = max(vaEnd, s.virtualAddr+max(s.virtualSize, s.sizeOfRawData))
		rawEnd = max(rawEnd, s.pointerToRaw+s.sizeOfRawData)
	}
	added := 0
	seen := map[string]bool{}
	for _, s := range sections {
		if len(s.Name) == 0 || len(s.Name) > 8 || !strings.HasPrefix(s.Name, ".") {
			return nil, fmt.Errorf("section name %q: must start with '.' and be at most 8 bytes", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("section %s given twice", s.Name)
		}
		seen[s.Name] = true
		if _, ok := existing[s.Name]; !ok {
			added++
		}
	}
	need := uint32(p.tableStart + (len(p.sections)+added)*sectionHeaderSize)
	if need > headers {
		return nil, fmt.Errorf("stub headers have room for %d more sections, need %d",
			(int(headers)-p.tableStart)/sectionHeaderSize-len(p.sections), added)
	}

	out := bytes.NewBuffer(make([]byte, 0, int(rawEnd)+totalLen(sections)+len(sections)*int(fileAlign)))
	out.Write(p.data[:min(int(rawEnd), len(p.data))])
	for uint32(out.Len()) < rawEnd {
		out.WriteByte(0)
	}
	va := alignUp(vaEnd, sectAlign)
	// The stub's own headers, less the replaced ones, then the new ones.
	var table [][sectionHeaderSize]byte
	for _, st := range p.sections {
		if !seen[st.name] {
			var h [sectionHeaderSize]byte
			copy(h[:], p.data[st.headerOffset:st.headerOffset+sectionHeaderSize])
			table = append(table, h)
		}
	}
	var initData uint32
	for _, s := range sections {
		raw := alignUp(uint32(len(s.Data)), fileAlign)
		ptr := alignUp(uint32(out.Len()), fileAlign)
		for uint32(out.Len()) < ptr {
			out.WriteByte(0)
		}
		out.Write(s.Data)
		for uint32(out.Len()) < ptr+raw {
			out.WriteByte(0)
		}
		var h [sectionHeaderSize]byte
		copy(h[:8], s.Name)
		binary.LittleEndian.PutUint32(h[8:], uint32(len(s.Data)))
		binary.LittleEndian.PutUint32(h[12:], va)
		binary.LittleEndian.PutUint32(h[16:], raw)
		binary.LittleEndian.PutUint32(h[20:], ptr)
		binary.LittleEndian.PutUint32(h[36:], scnInitializedData|scnMemRead)
		table = append(table, h)
		initData += raw
		va = alignUp(va+uint32(len(s.Data)), sectAlign)
	}
	b := out.Bytes()
	for i := p.tableStart; i < p.tableStart+(len(p.sections)+added)*sectionHeaderSize; i++ {
		b[i] = 0
	}
	for i, h := range table {
		copy(b[p.tableStart+i*sectionHeaderSize:], h[:])
	}
	le := binary.LittleEndian
	le.PutUint16(b[p.coffOffset+coffNumberOfSections:], uint16(len(table)))
	// The COFF symbol table (debug data past the last section) is dropped.
	le.PutUint32(b[p.coffOffset+8:], 0)
	le.PutUint32(b[p.coffOffset+12:], 0)
	le.PutUint32(b[p.optOffset+optSizeOfImage:], va)
	le.PutUint32(b[p.optOffset+optSizeOfInitData:], le.Uint32(b[p.optOffset+optSizeOfInitData:])+initData)
	le.PutUint32(b[p.optOffset+optCheckSum:], 0)
	le.PutUint32(b[p.optOffset+optCheckSum:], Checksum(b, p.optOffset+optCheckSum))
	return b, nil
}

func totalLen(s []Section) int {
	n := 0
	for _, x := range s {
		n += len(x.Data)
	}
	return n
}

// SectionData returns the contents of the named section of a PE image,
// sized to its VirtualSize; tests and `kios` tools use it to read UKIs back.
func SectionData(img []byte, name string) ([]byte, error) {
	p, err := parsePE(img)
	if err != nil {
		return nil, err
	}
	for _, s := range p.sections {
		if s.name == name {
			end := s.pointerToRaw + min(s.virtualSize, s.sizeOfRawData)
			if int(end) > len(img) {
				return nil, fmt.Errorf("section %s runs past the end of the file", name)
			}
			return img[s.pointerToRaw:end], nil
		}
	}
	return nil, fmt.Errorf("no section %s", name)
}

// SectionNames lists the sections of a PE image in table order.
func SectionNames(img []byte) ([]string, error) {
	p, err := parsePE(img)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range p.sections {
		names = append(names, s.name)
	}
	return names, nil
}

// SectionRange returns where the named section's data lies in the file.
func SectionRange(img []byte, name string) (offset, size int, err error) {
	p, err := parsePE(img)
	if err != nil {
		return 0, 0, err
	}
	for _, s := range p.sections {
		if s.name == name {
			return int(s.pointerToRaw), int(min(s.virtualSize, s.sizeOfRawData)), nil
		}
	}
	return 0, 0, fmt.Errorf("no section %s", name)
}
