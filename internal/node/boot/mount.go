package boot

import (
	"context"
	"fmt"
	"os"
	"strings"

	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
)

func mountedNow() func(string) bool {
	infos, err := mounts.ReadMountinfo("/proc/self/mountinfo")
	if err != nil {
		return func(string) bool { return false }
	}
	return func(t string) bool { return mounts.Mounted(infos, t) }
}

func (n *Node) mount(context.Context) error {
	if err := mounts.Apply(n.Mounter, mounts.Pseudo, mountedNow()); err != nil {
		return err
	}
	return mounts.Apply(n.Mounter, mounts.Writable, mountedNow())
}

// logToFile copies PID 1's log to /var/log/init.log, beside the
// kubelet's and the runtime's (size-capped, rotated once), from the
// first line of the boot on. It runs once /var/log is final: on the
// data partition, or tmpfs.
func (n *Node) logToFile() {
	if l, ok := n.Log.(*Log); ok {
		w := &supervise.Output{Dir: "/var/log", MaxBytes: 4 << 20}
		l.AlsoTo(w.File("init"))
	}
	if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		events.Emit(n.Log, events.Boot, "id", strings.TrimSpace(string(id)))
	}
}

func (n *Node) mountEtc(context.Context) error {
	upper, work := n.etcDirs()
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Kept open: the image's copy of a file is what etc-check falls back
	// to, and the overlay hides it.
	img, err := os.Open("/etc")
	if err != nil {
		return fmt.Errorf("open the image's /etc: %w", err)
	}
	if err := n.Mounter.Mount(mounts.Etc(upper, work)); err != nil {
		img.Close()
		return err
	}
	n.imageEtc = img
	return nil
}
