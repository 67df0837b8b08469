// Package cpio writes initramfs archives in the "newc" format the Linux
// kernel unpacks. Output is deterministic: callers choose the order, and
// every entry gets a fixed owner and time so equal inputs give equal bytes.
package cpio

import (
	"fmt"
	"io"
	"io/fs"
)

// Mode bits of the newc header (S_IF* values).
const (
	TypeDir     = 0o040000
	TypeRegular = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
)

// Entry is one file in the archive. Owners and times are always 0: the
// node's files belong to root and reproducibility needs fixed times.
type Entry struct {
	Name     string // path without a leading slash, e.g. "bin/init"
	Mode     uint32 // type bits | permission bits
	Data     []byte // regular file contents or symlink target
	DevMajor uint32 // for device nodes
	DevMinor uint32
}

// Writer streams entries to w.
type Writer struct {
	w     io.Writer
	n     int64
	ino   uint32
	trail bool
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, ino: 1} }

// Write appends one entry.
func (cw *Writer) Write(e Entry) error {
	if cw.trail {
		return fmt.Errorf("cpio: write %q after Close", e.Name)
	}
	if e.Name == "" || e.Name[0] == '/' {
		return fmt.Errorf("cpio: invalid entry name %q", e.Name)
	}
	nlink := uint32(1)
	if e.Mode&0o170000 == TypeDir {
		nlink = 2
	}
	size := uint32(len(e.Data))
	if e.Mode&0o170000 == TypeDir || e.Mode&0o170000 == TypeChar {
		size = 0
	}
	cw.ino++
	return cw.emit(e.Name, cw.ino, e.Mode, nlink, size, e.DevMajor, e.DevMinor, e.Data[:size])
}

func (cw *Writer) emit(name string, ino, mode, nlink, size, rmaj, rmin uint32, data []byte) error {
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmaj, rmin, len(name)+1, 0)
	if err := cw.put([]byte(hdr)); err != nil {
		return err
	}
	if err := cw.put(append([]byte(name), 0)); err != nil {
		return err
	}
	if err := cw.pad(); err != nil {
		return err
	}
	if err := cw.put(data); err != nil {
		return err
	}
	return cw.pad()
}

func (cw *Writer) put(b []byte) error {
	n, err := cw.w.Write(b)
	cw.n += int64(n)
	if err != nil {
		return fmt.Errorf("cpio: write: %w", err)
	}
	return nil
}

func (cw *Writer) pad() error {
	if r := cw.n % 4; r != 0 {
		return cw.put(make([]byte, 4-r))
	}
	return nil
}

// Close writes the trailer. The underlying writer is not closed.
func (cw *Writer) Close() error {
	if cw.trail {
		return nil
	}
	cw.trail = true
	return cw.emit("TRAILER!!!", 0, 0, 1, 0, 0, 0, nil)
}

// ModeOf converts an fs.FileMode into newc mode bits.
func ModeOf(m fs.FileMode) uint32 {
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case m.IsDir():
		return TypeDir | perm
	case m&fs.ModeSymlink != 0:
		return TypeSymlink | perm
	case m&fs.ModeCharDevice != 0:
		return TypeChar | perm
	default:
		return TypeRegular | perm
	}
}
