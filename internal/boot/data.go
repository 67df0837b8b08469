package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/datapart"
	"kios.dev/kios/internal/mounts"
	"kios.dev/kios/internal/supervise"
)

// DataMount is where the data partition is mounted.
const DataMount = "/run/kios/data"

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
// pods, the logs and /etc's writable layer live on disk. With none, the
// node runs from RAM and says so once.
func (n *Node) data(context.Context) error {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	spec, err := datapart.ParseCmdline(string(cmdline))
	if err != nil {
		n.Log.Printf("event=data-partition status=ram-only reason=%q", err.Error())
		return err
	}
	open := func(name string) (datapart.Disk, error) {
		f, err := os.Open("/dev/" + name)
		if err != nil {
			return nil, err
		}
		return blockDev{f}, nil
	}
	var found datapart.Found
	err = datapart.ErrNone
	if spec.Kind != datapart.TmpFS && n.openModules() == nil {
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
	} else if spec.Kind == datapart.TmpFS {
		_, err = datapart.Find("/sys/class/block", spec, open)
	}
	if err == nil {
		// ext4 checksums its metadata with crc32c.
		for _, m := range []string{"crc32c_intel", "crc32c_generic", "ext4"} {
			if _, perr := n.modules.Probe(m); perr != nil {
				n.Log.Printf("event=module-failed name=%s err=%q", m, perr.Error())
			}
		}
	}
	if errors.Is(err, datapart.ErrNone) {
		n.Log.Printf("event=data-partition status=ram-only reason=%q", err.Error())
		return nil
	}
	if err != nil {
		n.Log.Printf("event=data-partition status=ram-only reason=%q", err.Error())
		return err
	}
	if err := n.mountData(found.Device); err != nil {
		n.Log.Printf("event=data-partition status=ram-only reason=%q", err.Error())
		return err
	}
	n.etcUpper, n.etcWork = DataMount+"/meta/etc", DataMount+"/meta/etc.work"
	if l, ok := n.Log.(*Log); ok {
		// /var/log is now on disk: PID 1's log moves there too.
		w := &supervise.Output{Dir: "/var/log", MaxBytes: 4 << 20}
		l.AlsoTo(w.File("init"))
	}
	n.Log.Printf("event=data-partition status=mounted device=%s reason=%q", found.Device, found.Reason)
	return nil
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

func (n *Node) mountData(dev string) error {
	// devtmpfs makes partition nodes a moment after the kernel reads the
	// partition table.
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.MkdirAll(DataMount, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dev, DataMount, "ext4", unix.MS_NODEV|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount %s: %w", dev, err)
	}
	for _, d := range []string{"meta/etc", "meta/etc.work", "meta/log", "data/oci", "data/pods", "modules"} {
		if err := os.MkdirAll(filepath.Join(DataMount, d), 0o700); err != nil {
			return err
		}
	}
	if err := os.MkdirAll("/var/lib/kubelet/pods", 0o750); err != nil {
		return err
	}
	for _, b := range []struct {
		src, dst string
		flags    uintptr
	}{
		{"data/oci", "/var/lib/containerd", unix.MS_NODEV | unix.MS_NOSUID},
		{"data/pods", "/var/lib/kubelet/pods", unix.MS_NODEV | unix.MS_NOSUID},
		{"meta/log", "/var/log", unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC},
	} {
		src := filepath.Join(DataMount, b.src)
		if err := unix.Mount(src, b.dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", src, b.dst, err)
		}
		if err := unix.Mount("", b.dst, "", unix.MS_BIND|unix.MS_REMOUNT|b.flags, ""); err != nil {
			return fmt.Errorf("restrict %s: %w", b.dst, err)
		}
	}
	return nil
}

// etcDirs are the writable layer of /etc: on the data partition, or tmpfs.
func (n *Node) etcDirs() (upper, work string) {
	if n.etcUpper != "" {
		return n.etcUpper, n.etcWork
	}
	return mounts.EtcUpper + "/upper", mounts.EtcUpper + "/work"
}
