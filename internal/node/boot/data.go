package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kios.dev/kios/internal/node/grow"
	"kios.dev/kios/internal/shared/datapart"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/ext4"
	"kios.dev/kios/internal/shared/mounts"
)

// IsStorage tells whether a device modalias belongs to a disk controller
// (PCI mass storage, any virtio PCI device, virtio block and SCSI).
func IsStorage(modalias string) bool {
	switch {
	case strings.HasPrefix(modalias, "pci:"):
		return strings.Contains(modalias, "bc01") || strings.HasPrefix(modalias, "pci:v00001AF4")
	case strings.HasPrefix(modalias, "virtio:"):
		return strings.HasPrefix(modalias, "virtio:d00000002v") || strings.HasPrefix(modalias, "virtio:d00000008v")
	}
	return false
}

// isFastStorage is the storage tried first: virtio and NVMe, whose
// drivers are small. SATA (libata, SCSI) costs more and is loaded only
// when no data partition shows up on these.
func isFastStorage(modalias string) bool {
	if !IsStorage(modalias) {
		return false
	}
	return !strings.HasPrefix(modalias, "pci:") || strings.HasPrefix(modalias, "pci:v00001AF4") || strings.Contains(modalias, "bc01sc08")
}

type blockDev struct{ *os.File }

func (b blockDev) Size() int64 {
	n, err := b.Seek(0, 2)
	if err != nil {
		return 0
	}
	return n
}

// data finds and mounts the data partition, so containerd, the kubelet's
// pods and state, the logs and /etc's writable layer live on disk. With
// none, the node runs from RAM and says so once.
func (n *Node) data(ctx context.Context) error {
	// The grow pod mounts the grant socket's directory, which exists
	// (empty) on a RAM-only node too.
	_ = os.MkdirAll(grow.SocketDir, 0o700)
	found, err := n.findData()
	if err == nil {
		err = n.mountData(found)
	}
	if err != nil {
		// Either the node runs from RAM as if there were no partition
		// (what was mounted is undone), or the undo failed and the
		// error says what is left where.
		status := "ram-only"
		if errors.Is(err, mounts.ErrUndoIncomplete) {
			status = "undo-incomplete"
		}
		events.Emit(n.Log, events.DataPartition, "status", status, "reason", err)
		n.logToFile()
		if errors.Is(err, datapart.ErrNone) {
			return nil
		}
		return err
	}
	n.logToFile()
	events.Emit(n.Log, events.DataPartition, "status", "mounted", "device", found.Device, "journal", n.journal, "reason", found.Reason)
	n.serveGrant(found.Device)
	Go(n.Log, "data-watch", func() { n.watchData(ctx, mounts.DataDir, 5*time.Second) })
	return nil
}

func (n *Node) findData() (datapart.Found, error) {
	spec := n.Cmdline.Data
	open := func(name string) (datapart.Disk, error) {
		f, err := os.Open("/dev/" + name)
		if err != nil {
			return nil, err
		}
		return blockDev{f}, nil
	}
	if spec.Kind == datapart.TmpFS {
		return datapart.Find("/sys/class/block", spec, open)
	}
	if err := n.openModules(); err != nil {
		return datapart.Found{}, err
	}
	var found datapart.Found
	err := datapart.ErrNone
	for i, storage := range []func(string) bool{isFastStorage, IsStorage} {
		if i > 0 && spec.Kind == datapart.Auto && hasDisks("/sys/class/block") {
			// kios disk puts the data partition on the boot disk: when
			// that is a virtio or NVMe disk, SATA is not searched
			// (kios.data= asks for a full search).
			break
		}
		if len(n.modules.ColdplugMatching("/sys", n.Log, storage)) == 0 && i > 0 {
			break // no other controllers: nothing new to look at
		}
		if found, err = datapart.Find("/sys/class/block", spec, open); err == nil {
			break
		}
	}
	if err != nil {
		return found, err
	}
	// ext4 checksums its metadata with crc32c.
	n.probeModules("crc32c_intel", "crc32c_generic", "ext4")
	return found, nil
}

// hasDisks reports whether any disk (not a loop or RAM device) exists.
func hasDisks(sysBlock string) bool {
	entries, _ := os.ReadDir(sysBlock)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "loop") && !strings.HasPrefix(name, "ram") && !strings.HasPrefix(name, "zram") {
			return true
		}
	}
	return false
}

func (n *Node) mountData(found datapart.Found) error {
	dev := found.Device
	// devtmpfs makes partition nodes a moment after the kernel reads the
	// partition table.
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.journal = "clean"
	if f, err := os.Open(dev); err == nil {
		if sb, err := ext4.Read(f, 0); err != nil {
			n.journal = "unknown"
		} else if sb.NeedsRecovery {
			n.journal = "replayed" // the last boot did not end with an unmount
		}
		f.Close()
	}
	if err := n.Mounter.Mount(mounts.DataPartition(dev)); err != nil {
		return err
	}
	// After a failure the partition is unmounted again, unless the
	// switch could not be undone: then what is left stays as it is.
	unmountData := func(cause error) error {
		if errors.Is(cause, mounts.ErrUndoIncomplete) {
			return cause
		}
		if err := n.Mounter.Unmount(mounts.DataDir); err != nil {
			return fmt.Errorf("%w (%w: unmount %s: %w)", cause, mounts.ErrUndoIncomplete, mounts.DataDir, err)
		}
		return cause
	}
	if err := mounts.MakeDataDirs(mounts.DataDir); err != nil {
		return unmountData(fmt.Errorf("data partition directories: %w", err))
	}
	err := mounts.SwitchToData(n.Mounter, func(m mounts.Mount, err error) {
		// Extra modules are optional; the image's own still load.
		events.Emit(n.Log, events.MountFailed, "target", m.Target, "err", err)
	})
	if err != nil {
		return unmountData(err)
	}
	n.etcUpper, n.etcWork = mounts.DataDir+"/meta/etc", mounts.DataDir+"/meta/etc.work"
	n.dataDevice = dev
	return nil
}

// serveGrant hands the data partition's disk to the grow pod over a
// root-only socket (see internal/node/grow).
func (n *Node) serveGrant(dev string) {
	disk, part, err := datapart.Parent("/sys/class/block", dev)
	if err != nil {
		events.Emit(n.Log, events.GrantUnavailable, "err", err)
		return
	}
	ln, err := grow.Listen(filepath.Join(grow.SocketDir, grow.SocketName))
	if err != nil {
		events.Emit(n.Log, events.GrantUnavailable, "err", err)
		return
	}
	Go(n.Log, "grant", func() { _ = grow.Serve(ln, grow.Grant{Disk: disk, Partition: part, Dir: mounts.DataDir}, n.Log) })
}

// etcDirs are the writable layer of /etc: on the data partition, or tmpfs.
func (n *Node) etcDirs() (upper, work string) {
	if n.etcUpper != "" {
		return n.etcUpper, n.etcWork
	}
	return mounts.EtcUpper + "/upper", mounts.EtcUpper + "/work"
}
