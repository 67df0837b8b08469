package boot

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// Thresholds of the data partition's free space (bytes available to
// unprivileged writers). Two of them, so a disk hovering at the edge
// does not flood the log.
const (
	spaceFull      = 1 << 20
	spaceRecovered = 16 << 20
)

// SpaceWatch turns statfs samples of the data partition into log lines:
// its size when it changes (the grow pod at work), one error when it
// fills up and one line when space is back. Nothing else is done: the
// running pods keep running, and writers retry on their own.
type SpaceWatch struct {
	Device string
	total  uint64
	full   bool
}

// Sample returns the lines a sample calls for.
func (s *SpaceWatch) Sample(st unix.Statfs_t) []string {
	bs := uint64(st.Bsize)
	total, avail := st.Blocks*bs, st.Bavail*bs
	var out []string
	if total != s.total {
		out = append(out, events.New(events.DataPartitionSize, "device", s.Device, "bytes", total, "size", human(total)).String())
		s.total = total
	}
	switch {
	case !s.full && avail < spaceFull:
		s.full = true
		out = append(out, events.New(events.DataPartitionFull, "device", s.Device, "free", human(avail), "size", human(total), "err", "the data partition is full: image pulls, pod volumes, logs and /etc changes fail until space is freed; running pods keep running").String())
	case s.full && avail >= spaceRecovered:
		s.full = false
		out = append(out, events.New(events.DataPartitionSpace, "status", "ok", "device", s.Device, "free", human(avail), "size", human(total)).String())
	}
	return out
}

func human(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%dB", b)
}

// watchData samples the data partition's space and health.
func (n *Node) watchData(ctx context.Context, dir string, every time.Duration) {
	space := &SpaceWatch{Device: n.dataDevice}
	faults := &FaultWatch{Device: n.dataDevice}
	for {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil {
			h := DiskHealth{Errors: ext4Errors("/sys", n.dataDevice), ReadOnly: st.Flags&unix.ST_RDONLY != 0}
			if faults.Probing() && !h.ReadOnly {
				h.ReadOnly = readOnly(dir)
			}
			lines := append(space.Sample(st), faults.Sample(h)...)
			for _, l := range lines {
				n.Log.Printf("%s", l)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
