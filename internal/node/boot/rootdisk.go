package boot

import (
	"context"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/node/rootdisk"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/meminfo"
	"kios.dev/kios/internal/shared/mounts"
)

// RootCopies is where the root image's copies live on the data
// partition, one per image (by root hash).
var RootCopies = filepath.Join(mounts.DataDir, "root")

// RootDiskSettle is how long root-disk waits after the kubelet starts in
// the mode it runs in (cluster mode once a lease makes the API server
// routable), and RootDiskLatest how long it waits for that at most:
// writing and checking the copy reads the whole image and hashes it in
// the kernel's workers, which no priority of PID 1's holds back, so it
// waits for the node's registration and its first pods rather than
// compete with them.
var RootDiskSettle, RootDiskLatest = 20 * time.Second, 3 * time.Minute

// RootDiskShort is the available memory under which root-disk does not
// wait: on a node that short of RAM, the image's 50-odd MiB are worth
// more than a few seconds of its boot (the kubelet refuses pods under
// 100 MiB available).
const RootDiskShort = 256 << 20

// waitNodeUp returns once unheld is closed and RootDiskSettle has passed
// since (what since says once it is closed), or RootDiskLatest after
// the call if unheld never closes, or at once when available says the
// node is short of memory, checked every 2 s.
func waitNodeUp(ctx context.Context, unheld <-chan struct{}, since func() time.Time, available func() (int64, error)) error {
	short := func() bool {
		a, err := available()
		return err == nil && a < RootDiskShort
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	latest := time.After(RootDiskLatest)
	var settled <-chan time.Time
	for {
		if short() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-unheld:
			unheld = nil
			settled = time.After(time.Until(since().Add(RootDiskSettle)))
		case <-latest:
			return nil
		case <-settled:
			return nil
		case <-tick.C:
		}
	}
}

// memAvailable reads MemAvailable, in bytes, from a meminfo file.
func memAvailable(path string) func() (int64, error) {
	return func() (int64, error) {
		m, err := meminfo.Read(path)
		return m.AvailableKiB << 10, err
	}
}

// rootDisk serves the root image from a verified copy on the data
// partition, which frees the RAM copy (docs/root.md). It runs last of
// the hardware steps, at low priority, once the node is up.
func (n *Node) rootDisk(ctx context.Context) error {
	emit := func(name events.Name, kv ...any) { events.Emit(n.Log, name, kv...) }
	switch {
	case n.dataDevice == "":
		emit(events.RootDisk, "status", "ram", "reason", "no data partition: the root image stays in RAM")
		return nil
	case n.Cmdline.RootHash == nil:
		emit(events.RootDisk, "status", "ram", "reason", "the EFI's command line has no kios.root-hash")
		return nil
	}
	if err := waitNodeUp(ctx, n.kubelet.unheldC(), n.kubelet.unheldSince, memAvailable("/proc/meminfo")); err != nil {
		return err
	}
	if err := n.openModules(); err != nil {
		return err
	}
	var err error
	if lerr := atLowPriority(func() {
		n.probeModules("dm-verity")
		err = rootdisk.Run(rootdisk.Linux{Sys: "/sys", Meminfo: "/proc/meminfo"}, RootCopies, n.Cmdline.RootHash, emit)
	}); lerr != nil {
		events.Emit(n.Log, events.LowPriorityFailed, "err", lerr)
	}
	ReleaseMemory(n.Log, "root-disk")
	return err
}
