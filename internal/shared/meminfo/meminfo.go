// Package meminfo reads /proc/meminfo: PID 1 reports memory in use from
// it, and so does the benchmark's footprint probe.
package meminfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Read parses the meminfo file at path (/proc/meminfo).
func Read(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	return Parse(f)
}

// Info holds the /proc/meminfo fields the node reports.
type Info struct {
	TotalKiB, AvailableKiB int64
	// Detail, for finding where memory goes.
	ShmemKiB, CachedKiB, AnonKiB, SlabKiB, BuffersKiB int64
}

// UsedMiB is memory in use: MemTotal minus MemAvailable.
func (m Info) UsedMiB() float64 { return float64(m.TotalKiB-m.AvailableKiB) / 1024 }

// Parse reads MemTotal and MemAvailable (and the detail) from
// /proc/meminfo text.
func Parse(r io.Reader) (Info, error) {
	var m Info
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			m.TotalKiB = v
		case "MemAvailable:":
			m.AvailableKiB = v
		case "Shmem:":
			m.ShmemKiB = v
		case "Cached:":
			m.CachedKiB = v
		case "AnonPages:":
			m.AnonKiB = v
		case "Slab:":
			m.SlabKiB = v
		case "Buffers:":
			m.BuffersKiB = v
		}
	}
	if m.TotalKiB == 0 || m.AvailableKiB == 0 {
		return m, fmt.Errorf("meminfo: no MemTotal or MemAvailable")
	}
	return m, sc.Err()
}
