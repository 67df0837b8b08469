// Package fat writes the small FAT16 filesystem of an EFI System
// Partition: directories and files laid out contiguously, deterministic
// (fixed times, sorted entries), readable by any UEFI firmware.
package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf16"
)

const (
	sectorSize    = 512
	rootEntries   = 512
	reservedSecs  = 1
	numFATs       = 2
	dirEntrySize  = 32
	attrDirectory = 0x10
	attrArchive   = 0x20
	attrLongName  = 0x0f
	minClusters   = 4085
	maxClusters   = 65524
)

// File is one file of the filesystem, by its path ("EFI/BOOT/BOOTX64.EFI").
type File struct {
	Path string
	Data []byte
}

type node struct {
	name     string // the 11-byte short name
	long     string // the name as given, when it is not a short name
	dir      bool
	data     []byte
	children []*node
	cluster  uint16
	clusters int
}

// Write writes a FAT16 filesystem of size bytes holding files to w.
// Directories are made as needed. A name that is not an upper-case 8.3
// name ("kios-v1+3.efi") gets VFAT long-name entries and a generated
// short alias ("KIOS-V~1.EFI"): the boot counting of the Boot Loader
// Specification needs names like that, and firmware and Linux read them.
func Write(w io.WriterAt, size int64, label string, files []File) error {
	spc, err := sectorsPerCluster(size)
	if err != nil {
		return err
	}
	clusterBytes := spc * sectorSize
	root := &node{dir: true}
	for _, f := range files {
		if err := root.add(strings.Split(strings.Trim(f.Path, "/"), "/"), f.Data); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	totalSectors := size / sectorSize
	// Solve for the FAT size: data clusters depend on it.
	fatSectors := int64(1)
	for {
		data := totalSectors - reservedSecs - numFATs*fatSectors - rootEntries*dirEntrySize/sectorSize
		clusters := data / int64(spc)
		need := (clusters+2)*2/sectorSize + 1
		if need <= fatSectors {
			break
		}
		fatSectors = need
	}
	dataStart := reservedSecs + numFATs*fatSectors + rootEntries*dirEntrySize/sectorSize
	clusters := (totalSectors - dataStart) / int64(spc)
	if clusters < minClusters || clusters > maxClusters {
		return fmt.Errorf("%d bytes give %d clusters, outside FAT16's range", size, clusters)
	}
	// Allocate clusters depth-first, each file contiguous.
	next := uint16(2)
	var alloc func(n *node) error
	alloc = func(n *node) error {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
		for _, c := range n.children {
			bytes := len(c.data)
			if c.dir {
				bytes = (entriesOf(c.children) + 2) * dirEntrySize
			}
			c.clusters = max(1, (bytes+clusterBytes-1)/clusterBytes)
			if bytes == 0 && !c.dir {
				c.clusters = 0
			} else {
				c.cluster = next
				if int64(next)+int64(c.clusters) > clusters+2 {
					return errors.New("files do not fit")
				}
				next += uint16(c.clusters)
			}
			if c.dir {
				if err := alloc(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := alloc(root); err != nil {
		return err
	}
	fat := make([]byte, fatSectors*sectorSize)
	binary.LittleEndian.PutUint16(fat[0:], 0xfff8)
	binary.LittleEndian.PutUint16(fat[2:], 0xffff)
	var chain func(n *node)
	chain = func(n *node) {
		for _, c := range n.children {
			for i := 0; i < c.clusters; i++ {
				v := uint16(0xffff)
				if i < c.clusters-1 {
					v = c.cluster + uint16(i) + 1
				}
				binary.LittleEndian.PutUint16(fat[2*(int(c.cluster)+i):], v)
			}
			if c.dir {
				chain(c)
			}
		}
	}
	chain(root)

	put := func(off int64, b []byte) error {
		_, err := w.WriteAt(b, off)
		return err
	}
	if err := put(0, bootSector(totalSectors, spc, fatSectors, label)); err != nil {
		return err
	}
	for i := int64(0); i < numFATs; i++ {
		if err := put((reservedSecs+i*fatSectors)*sectorSize, fat); err != nil {
			return err
		}
	}
	rootOff := (reservedSecs + numFATs*fatSectors) * sectorSize
	rootDir := make([]byte, rootEntries*dirEntrySize)
	if entriesOf(root.children)+1 > rootEntries {
		return errors.New("too many files in the root directory")
	}
	copy(rootDir, entry(padLabel(label), 0x08, 0, 0))
	putEntries(rootDir[dirEntrySize:], root.children)
	if err := put(rootOff, rootDir); err != nil {
		return err
	}
	clusterOff := func(c uint16) int64 { return (dataStart + int64(c-2)*int64(spc)) * sectorSize }
	var writeNode func(n *node, parent uint16) error
	writeNode = func(n *node, parent uint16) error {
		for _, c := range n.children {
			if c.dir {
				d := make([]byte, c.clusters*clusterBytes)
				copy(d, entry(".          ", attrDirectory, c.cluster, 0))
				copy(d[dirEntrySize:], entry("..         ", attrDirectory, parent, 0))
				putEntries(d[2*dirEntrySize:], c.children)
				if err := put(clusterOff(c.cluster), d); err != nil {
					return err
				}
				if err := writeNode(c, c.cluster); err != nil {
					return err
				}
			} else if c.clusters > 0 {
				if err := put(clusterOff(c.cluster), c.data); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return writeNode(root, 0)
}

func sectorsPerCluster(size int64) (int, error) {
	for _, spc := range []int{1, 2, 4, 8, 16, 32, 64} {
		if size/int64(spc*sectorSize) <= maxClusters {
			if size/int64(spc*sectorSize) < minClusters {
				break
			}
			return spc, nil
		}
	}
	return 0, fmt.Errorf("FAT16 cannot hold a filesystem of %d bytes (16 MiB to 2 GiB)", size)
}

func (n *node) add(parts []string, data []byte) error {
	for _, c := range n.children {
		if strings.EqualFold(c.given(), parts[0]) {
			if len(parts) == 1 || !c.dir {
				return errors.New("given twice")
			}
			return c.add(parts[1:], data)
		}
	}
	c := &node{dir: len(parts) > 1}
	if short, err := shortName(parts[0]); err == nil {
		c.name = short
	} else {
		if err := checkLongName(parts[0]); err != nil {
			return err
		}
		c.name, c.long = n.alias(parts[0]), parts[0]
	}
	n.children = append(n.children, c)
	if c.dir {
		return c.add(parts[1:], data)
	}
	c.data = data
	return nil
}

// shortName turns "BOOTX64.EFI" into the 11-byte 8.3 form.
func shortName(s string) (string, error) {
	base, ext, _ := strings.Cut(s, ".")
	if base == "" || len(base) > 8 || len(ext) > 3 || strings.ToUpper(s) != s || strings.ContainsAny(s, " /\\*?\"<>|+,;=[]") {
		return "", fmt.Errorf("name %q is not an upper-case 8.3 name", s)
	}
	return fmt.Sprintf("%-8s%-3s", base, ext), nil
}

// given is the name as the caller wrote it.
func (n *node) given() string {
	if n.long != "" {
		return n.long
	}
	base, ext := strings.TrimRight(n.name[:8], " "), strings.TrimRight(n.name[8:], " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// checkLongName refuses what VFAT cannot store.
func checkLongName(s string) error {
	if s == "" || s == "." || s == ".." || len(utf16.Encode([]rune(s))) > maxLongName || strings.ContainsAny(s, "/\\*?\"<>|:") {
		return fmt.Errorf("name %q cannot be a FAT long name", s)
	}
	for _, r := range s {
		if r < 0x20 {
			return fmt.Errorf("name %q has a control character", s)
		}
	}
	return nil
}

// alias makes the short name a long name is also found by: its first
// letters upper-cased, ~N, and the extension, unique in the directory.
func (n *node) alias(long string) string {
	clean := func(s string, max int) string {
		var b strings.Builder
		for _, r := range strings.ToUpper(s) {
			if b.Len() == max {
				break
			}
			switch {
			case r == ' ' || r == '.':
			case r > 0x7e || strings.ContainsRune("+,;=[]", r):
				b.WriteByte('_')
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	base, ext := long, ""
	if i := strings.LastIndex(long, "."); i > 0 {
		base, ext = long[:i], long[i+1:]
	}
	base, ext = clean(base, 8), clean(ext, 3)
	for i := 1; ; i++ {
		tail := fmt.Sprintf("~%d", i)
		stem := base
		if len(stem) > 8-len(tail) {
			stem = stem[:8-len(tail)]
		}
		name := fmt.Sprintf("%-8s%-3s", stem+tail, ext)
		taken := false
		for _, c := range n.children {
			taken = taken || c.name == name
		}
		if !taken {
			return name
		}
	}
}

const maxLongName = 255

// entriesOf is the number of directory entries the nodes take.
func entriesOf(nodes []*node) int {
	n := 0
	for _, c := range nodes {
		n += 1 + len(c.longEntries())
	}
	return n
}

// putEntries writes the nodes' entries, each long name's just before
// its short entry.
func putEntries(dst []byte, nodes []*node) {
	i := 0
	for _, c := range nodes {
		for _, e := range c.longEntries() {
			copy(dst[i*dirEntrySize:], e)
			i++
		}
		copy(dst[i*dirEntrySize:], c.entry())
		i++
	}
}

// longEntries are the VFAT entries of a long name, last part first, as
// they precede the short entry on disk.
func (n *node) longEntries() [][]byte {
	if n.long == "" {
		return nil
	}
	units := utf16.Encode([]rune(n.long))
	count := (len(units) + 12) / 13
	// The name ends with a NUL unless it fills its last entry; the rest
	// is 0xFFFF.
	padded := make([]uint16, count*13)
	for i := range padded {
		switch {
		case i < len(units):
			padded[i] = units[i]
		case i == len(units):
			padded[i] = 0
		default:
			padded[i] = 0xffff
		}
	}
	sum := shortChecksum(n.name)
	var out [][]byte
	for seq := count; seq >= 1; seq-- {
		e := make([]byte, dirEntrySize)
		e[0] = byte(seq)
		if seq == count {
			e[0] |= 0x40
		}
		e[11] = attrLongName
		e[13] = sum
		part := padded[(seq-1)*13 : seq*13]
		for j, off := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
			binary.LittleEndian.PutUint16(e[off:], part[j])
		}
		out = append(out, e)
	}
	return out
}

// shortChecksum ties long-name entries to their short entry.
func shortChecksum(short string) byte {
	var sum byte
	for i := 0; i < 11; i++ {
		sum = (sum>>1 | sum<<7) + short[i]
	}
	return sum
}

func padLabel(l string) string {
	l = strings.ToUpper(l)
	if len(l) > 11 {
		l = l[:11]
	}
	return fmt.Sprintf("%-11s", l)
}

func (n *node) entry() []byte {
	if n.dir {
		return entry(n.name, attrDirectory, n.cluster, 0)
	}
	return entry(n.name, attrArchive, n.cluster, uint32(len(n.data)))
}

// entry makes a directory entry dated 1980-01-01, FAT's epoch.
func entry(name string, attr byte, cluster uint16, size uint32) []byte {
	e := make([]byte, dirEntrySize)
	copy(e, name)
	e[11] = attr
	const date = 1<<5 | 1 // 1980-01-01
	binary.LittleEndian.PutUint16(e[16:], date)
	binary.LittleEndian.PutUint16(e[18:], date)
	binary.LittleEndian.PutUint16(e[24:], date)
	binary.LittleEndian.PutUint16(e[26:], cluster)
	binary.LittleEndian.PutUint32(e[28:], size)
	return e
}

func bootSector(total int64, spc int, fatSectors int64, label string) []byte {
	b := make([]byte, sectorSize)
	copy(b, []byte{0xeb, 0x3c, 0x90})
	copy(b[3:], "KIOS    ")
	binary.LittleEndian.PutUint16(b[11:], sectorSize)
	b[13] = byte(spc)
	binary.LittleEndian.PutUint16(b[14:], reservedSecs)
	b[16] = numFATs
	binary.LittleEndian.PutUint16(b[17:], rootEntries)
	if total < 65536 {
		binary.LittleEndian.PutUint16(b[19:], uint16(total))
	} else {
		binary.LittleEndian.PutUint32(b[32:], uint32(total))
	}
	b[21] = 0xf8
	binary.LittleEndian.PutUint16(b[22:], uint16(fatSectors))
	binary.LittleEndian.PutUint16(b[24:], 63)
	binary.LittleEndian.PutUint16(b[26:], 255)
	b[36] = 0x80
	b[38] = 0x29
	binary.LittleEndian.PutUint32(b[39:], 0x4b494f53) // volume ID: fixed, for reproducible images
	copy(b[43:], padLabel(label))
	copy(b[54:], "FAT16   ")
	b[510], b[511] = 0x55, 0xaa
	return b
}
