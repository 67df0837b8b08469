package boot

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestSpaceWatch(t *testing.T) {
	const gib = 1 << 30 / 4096 // blocks of 4 KiB
	sample := func(total, avail uint64) unix.Statfs_t {
		return unix.Statfs_t{Bsize: 4096, Blocks: total, Bavail: avail}
	}
	steps := []struct {
		st   unix.Statfs_t
		want []string // event names logged
	}{
		{sample(2*gib, gib), []string{"data-partition-size"}},
		{sample(2*gib, gib/2), nil},
		{sample(8*gib, 7*gib), []string{"data-partition-size"}}, // grown
		{sample(8*gib, 100), []string{"data-partition-full"}},
		{sample(8*gib, 0), nil}, // said once
		{sample(8*gib, 1024), nil},
		{sample(8*gib, 2*1024), nil}, // 8 MiB: not yet back
		{sample(8*gib, gib), []string{"data-partition-space"}},
		{sample(8*gib, gib), nil},
		{sample(8*gib, 10), []string{"data-partition-full"}}, // full again: said again
	}
	w := &SpaceWatch{Device: "/dev/vda2"}
	for i, s := range steps {
		var got []string
		for _, l := range w.Sample(s.st) {
			got = append(got, strings.TrimPrefix(strings.Fields(l)[0], "event="))
			if !strings.Contains(l, "device=/dev/vda2") {
				t.Errorf("step %d: line without the device: %s", i, l)
			}
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d (-want +got):\n%s", i, diff)
		}
	}
}
