package boot

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// DiskHealth is one sample of the data partition's state as the kernel
// reports it.
type DiskHealth struct {
	Errors   uint64 // ext4's error count (/sys/fs/ext4/DEV/errors_count)
	ReadOnly bool   // the filesystem went read-only (ST_RDONLY)
}

// FaultWatch turns health samples into log lines: one when the kernel
// first reports errors on the data partition, one when it makes it
// read-only (the same line when both come at once). A disk that keeps
// failing is not logged again: the kernel's own messages say the rest.
// Errors counted before the first sample (an earlier boot's) are not
// this boot's.
type FaultWatch struct {
	Device   string
	base     uint64
	sampled  bool
	failing  bool
	readOnly bool
}

const readOnlyAdvice = "the kernel made the data partition read-only after errors: image pulls, pod volumes, logs and /etc changes fail until the node reboots and replays its journal (what was synced is kept); running pods keep running"

// Sample returns the lines a sample calls for.
func (w *FaultWatch) Sample(h DiskHealth) []string {
	if !w.sampled {
		w.sampled, w.base = true, h.Errors
	}
	errs := h.Errors - min(h.Errors, w.base)
	var out []string
	switch {
	case h.ReadOnly && !w.readOnly:
		w.readOnly, w.failing = true, true
		out = append(out, events.New(events.DataPartitionReadonly, "device", w.Device, "errors", errs, "err", readOnlyAdvice).String())
	case errs > 0 && !w.failing:
		w.failing = true
		out = append(out, events.New(events.DataPartitionFailing, "device", w.Device, "errors", errs, "err", "the kernel reports errors on the data partition: writes to it may fail; running pods keep running").String())
	}
	return out
}

// Probing tells whether the watch should probe if the filesystem still
// takes writes (statfs does not report ext4's read-only state after a
// journal abort): only once errors were seen, and only until it is
// known read-only, as each probe of an aborted ext4 logs kernel errors.
func (w *FaultWatch) Probing() bool { return w.failing && !w.readOnly }

// readOnly probes dir's filesystem with a file created and removed:
// true only when the kernel refuses it as read-only (EROFS).
func readOnly(dir string) bool {
	p := filepath.Join(dir, ".kios-write-probe")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return errors.Is(err, unix.EROFS)
	}
	unix.Close(fd)
	unix.Unlink(p)
	return false
}

// ext4Errors reads ext4's error count of a device ("/dev/vda2"); 0 when
// the kernel does not say.
func ext4Errors(sysfs, device string) uint64 {
	b, err := os.ReadFile(filepath.Join(sysfs, "fs/ext4", filepath.Base(device), "errors_count"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
