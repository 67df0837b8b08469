package boot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// HostCgroup is the cgroup (under the cgroup2 mount) that PID 1 and all
// it starts run in: containerd, the shims, the kubelet. Left in the root
// cgroup, each of their threads weighs as much as the pods' whole
// kubepods group does (cgroup v2 schedules the root's own tasks beside
// its child groups), so on a busy node the pods' processes, runc's init
// that sets up each new container among them, got a sliver of the CPU
// and every container start waited for it (docs/benchmark.md tells how
// that was found). In a group of their own the
// host and the pods share the CPU by their groups' weights, as systemd's
// system.slice and kubepods.slice do on a conventional node.
const HostCgroup = "system"

// JoinHostCgroup creates HostCgroup under cgroupRoot (normally
// /sys/fs/cgroup) and moves process pid (PID 1) into it; processes it
// starts afterwards are born there.
func JoinHostCgroup(cgroupRoot string, pid int) error {
	dir := filepath.Join(cgroupRoot, HostCgroup)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create the host cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("move PID %d into %s: %w", pid, dir, err)
	}
	return nil
}
