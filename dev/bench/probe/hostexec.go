package probe

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// HostRoot is the host's root seen from the probe (host PID namespace).
const HostRoot = "/proc/1/root"

// ExecProbe is a host program the probe starts to time what one process
// start costs the node: the runtime starts runc and a shim for every
// pod, and the kubelet runs mount for each of its tmpfs volumes.
type ExecProbe struct {
	Name string   // figure name: exec_<Name>_ms
	Args []string // Args[0] is the path in the host's root
}

// ExecProbes are the same programs on every node (/bin is /usr/bin on a
// merged-/usr Debian): runc and the shim are the same binaries on both;
// mount is kiOS's applet in its init binary, util-linux's on Debian.
// Each is asked for something it answers at once.
var ExecProbes = []ExecProbe{
	{"runc", []string{"/bin/runc", "--version"}},
	{"shim", []string{"/bin/containerd-shim-runc-v2", "-v"}},
	{"mount", []string{"/bin/mount", "--version"}},
	// The same runc, copied to the CNI plugins' directory (the data
	// partition's ext4 on kiOS, tmpfs RAM-only, the ext4 root on Debian;
	// writable and executable on every node): the start of one binary
	// from two file systems of one node tells the root's part.
	{"runc_copy", []string{RuncCopy, "--version"}},
}

// RuncCopy is where the probe copies runc for runc_copy (in the host's
// root); it is removed after the timing.
const RuncCopy = "/opt/cni/bin/kios-bench-runc"

// CopyRunc copies the host's /bin/runc to RuncCopy; the returned
// function removes the copy.
func CopyRunc(root string) (remove func(), err error) {
	dst := filepath.Join(root, RuncCopy)
	b, err := os.ReadFile(filepath.Join(root, "bin", "runc"))
	if err == nil {
		err = os.WriteFile(dst, b, 0o500)
	}
	if err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("copy runc: %w", err)
	}
	return func() { os.Remove(dst) }, nil
}

// ExecTime is the median wall time of starting one program to its exit.
type ExecTime struct {
	Name     string  `json:"name"`
	MedianMS float64 `json:"median_ms"`
	Runs     int     `json:"runs"`
}

// Starter starts a program in root and waits for its exit. A program
// that ran and exited non-zero counts as started: the cost measured is
// the start, not the answer.
type Starter func(root string, args []string) error

// hostCommand is args run with root as their root directory (the probe
// is privileged): the host's programs on the host's files.
func hostCommand(root string, args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	return cmd
}

// chrootStart runs args in root.
func chrootStart(root string, args []string) error {
	err := hostCommand(root, args...).Run()
	if _, exited := err.(*exec.ExitError); exited {
		return nil // it ran to its end: a refusal is an answer too
	}
	return err
}

// TimeExecs starts each probe runs times in root and reports the median.
// A program that cannot be started at all is an error naming it.
func TimeExecs(root string, probes []ExecProbe, runs int, start Starter) ([]ExecTime, error) {
	var out []ExecTime
	for _, p := range probes {
		ms := make([]float64, 0, runs)
		for i := 0; i < runs; i++ {
			t0 := time.Now()
			if err := start(root, p.Args); err != nil {
				return nil, fmt.Errorf("start %s in %s: %w", p.Args[0], root, err)
			}
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
		sort.Float64s(ms)
		out = append(out, ExecTime{Name: p.Name, MedianMS: median(ms), Runs: runs})
	}
	return out, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Journal is a systemd host's journal of one unit, its messages only
// (containerd and the kubelet print their own time stamps), read with
// the host's journalctl. A host without journalctl (kiOS writes these
// logs to /var/log) gets an error.
func Journal(root, unit string) ([]byte, error) {
	cmd := hostCommand(root, "/usr/bin/journalctl", "--no-pager", "-o", "cat", "-u", unit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl -u %s: %w: %s", unit, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
