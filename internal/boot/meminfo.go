package boot

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MemInfo holds the /proc/meminfo fields the node reports.
type MemInfo struct {
	TotalKiB, AvailableKiB int64
	// Detail, for finding where memory goes.
	ShmemKiB, CachedKiB, AnonKiB, SlabKiB, BuffersKiB int64
}

// UsedMiB is memory in use: MemTotal minus MemAvailable.
func (m MemInfo) UsedMiB() float64 { return float64(m.TotalKiB-m.AvailableKiB) / 1024 }

// ParseMemInfo reads MemTotal and MemAvailable from /proc/meminfo text.
func ParseMemInfo(r io.Reader) (MemInfo, error) {
	var m MemInfo
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
