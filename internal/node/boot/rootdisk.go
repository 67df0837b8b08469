package boot

import (
	"context"
	"path/filepath"

	"kios.dev/kios/internal/node/rootdisk"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
)

// RootCopies is where the root image's copies live on the data
// partition, one per image (by root hash).
var RootCopies = filepath.Join(mounts.DataDir, "root")

// rootDisk serves the root image from a verified copy on the data
// partition, which frees the RAM copy (docs/root.md). It runs last of
// the hardware steps, at low priority: writing and checking the copy
// reads the whole image, which nothing before Ready waits for.
func (n *Node) rootDisk(context.Context) error {
	emit := func(name events.Name, kv ...any) { events.Emit(n.Log, name, kv...) }
	switch {
	case n.dataDevice == "":
		emit(events.RootDisk, "status", "ram", "reason", "no data partition: the root image stays in RAM")
		return nil
	case n.Cmdline.RootHash == nil:
		emit(events.RootDisk, "status", "ram", "reason", "the EFI's command line has no kios.root-hash")
		return nil
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
