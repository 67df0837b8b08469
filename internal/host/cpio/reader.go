package cpio

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Read parses a newc archive, for tests and for `kios inspect`-style checks.
// It stops at the trailer.
func Read(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var out []Entry
	var off int64
	skip := func(n int64) error {
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return err
		}
		off += n
		return nil
	}
	align := func() error {
		if rem := off % 4; rem != 0 {
			return skip(4 - rem)
		}
		return nil
	}
	for {
		hdr := make([]byte, 110)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return nil, fmt.Errorf("cpio: header at %d: %w", off, err)
		}
		off += 110
		if string(hdr[:6]) != "070701" {
			return nil, fmt.Errorf("cpio: bad magic %q at %d", hdr[:6], off-110)
		}
		field := func(i int) (uint32, error) {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			return uint32(v), err
		}
		var f [13]uint32
		for i := range f {
			v, err := field(i)
			if err != nil {
				return nil, fmt.Errorf("cpio: header field %d at %d: %w", i, off-110, err)
			}
			f[i] = v
		}
		nameLen, size := f[11], f[6]
		if nameLen == 0 || nameLen > 4096 {
			return nil, fmt.Errorf("cpio: bad name length %d", nameLen)
		}
		name := make([]byte, nameLen)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("cpio: name: %w", err)
		}
		off += int64(nameLen)
		if err := align(); err != nil {
			return nil, err
		}
		n := string(name[:nameLen-1])
		if n == "TRAILER!!!" {
			return out, nil
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, fmt.Errorf("cpio: data of %s: %w", n, err)
		}
		off += int64(size)
		if err := align(); err != nil {
			return nil, err
		}
		out = append(out, Entry{Name: n, Mode: f[1], Data: data, DevMajor: f[9], DevMinor: f[10]})
	}
}
