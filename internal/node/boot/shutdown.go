package boot

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
)

// handleSignal turns SIGTERM and SIGUSR2 into a power-off, SIGINT
// (Ctrl-Alt-Del) into a reboot and SIGUSR1 into a halt; other signals
// are logged and ignored.
func (n *Node) handleSignal(s os.Signal) {
	switch s {
	case syscall.SIGTERM, syscall.SIGUSR2:
		n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF, "signal-"+unix.SignalName(s.(syscall.Signal)))
	case syscall.SIGINT:
		n.PowerDown(unix.LINUX_REBOOT_CMD_RESTART, "ctrl-alt-del")
	case syscall.SIGUSR1:
		n.PowerDown(unix.LINUX_REBOOT_CMD_HALT, "signal-SIGUSR1")
	default:
		events.Emit(n.Log, events.SignalIgnored, "signal", s)
	}
}

// shutdownState is the node's one power-down: it runs once, whatever
// and however many triggers arrive, and its wait for the kubelet to stop
// the pods can be cut short (0x02 on the system socket).
type shutdownState struct {
	once    sync.Once
	wait    context.Context // ends when the wait for the kubelet is cut short
	cutWait context.CancelFunc
}

// PowerDown shuts the node down once, however many triggers arrive:
// first the kubelet stops the pods (PrepareForShutdown on the system
// bus, waiting for its inhibitor lock up to the configured maximum),
// then every process goes, the filesystems are unmounted and the
// machine powers off, halts or reboots (cmd).
func (n *Node) PowerDown(cmd int, reason string) {
	n.shutdown.once.Do(func() {
		start := time.Now()
		events.Emit(n.Log, events.ShutdownStart, "reason", reason, "cmd", fmt.Sprintf("%#x", cmd))
		// A kubelet that dies while stopping pods is not started again:
		// a new one would not know the node is going down.
		n.Sup.Stop()
		if n.bus != nil {
			how := n.bus.PrepareForShutdown(n.shutdown.wait)
			events.Emit(n.Log, events.PodsStopped, "how", how, "took", fmt.Sprintf("%.1fs", time.Since(start).Seconds()))
		}
		Shutdown(n.Log, n.Sup, cmd)
	})
}

// SoftShutdown, ContinueShutdown, RestartKubelet and RestartRuntime
// answer the system socket.
func (n *Node) SoftShutdown() {
	Go(n.Log, "shutdown", func() { n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF, "system-socket") })
}

// ContinueShutdown stops waiting for the kubelet (or, with no shutdown
// under way, starts one that does not wait).
func (n *Node) ContinueShutdown() {
	if n.shutdown.cutWait != nil {
		n.shutdown.cutWait()
	}
	n.SoftShutdown()
}

func (n *Node) RestartKubelet() error {
	n.kubelet.askRestart()
	return n.Sup.Restart("kubelet")
}

func (n *Node) RestartRuntime() error { return n.Sup.Restart("containerd") }

// Shutdown stops every process, unmounts, syncs and powers off or reboots.
func Shutdown(log Logger, sup *supervise.Supervisor, cmd int) {
	pids := sup.Stop()
	for _, pid := range pids {
		_ = unix.Kill(pid, syscall.SIGTERM)
	}
	waitGone(pids, 10*time.Second)
	// The rest (shims, pods' processes) get 2 s after SIGTERM; most are
	// gone at once, and waiting for them rather than the full 2 s is
	// the difference between kiOS's power-off and a Debian node's.
	_ = unix.Kill(-1, syscall.SIGTERM)
	termed := waitNoProcesses("/proc", 2*time.Second)
	_ = unix.Kill(-1, syscall.SIGKILL)
	waitNoProcesses("/proc", time.Second) // let the killed release their files
	unix.Sync()
	left := unmountAll(log)
	unix.Sync()
	events.Emit(log, events.ShutdownFinal, "cmd", fmt.Sprintf("%#x", cmd), "mounts_left", left, "killed", len(termed))
	if err := unix.Reboot(cmd); err != nil {
		events.Emit(log, events.RebootFailed, "err", err)
	}
}

// unmountAll unmounts every mount but the root, the kernel's own
// filesystems and /run (RAM, where PID 1's bound sockets pin it), last
// mounted first, in a few rounds (a mount can be busy
// until the ones above it are gone). The data partition, if it cannot be
// unmounted, is made read-only so its journal is clean. It returns how
// many mounts are left.
func unmountAll(log Logger) int {
	if l, ok := log.(*Log); ok {
		l.Detach() // init.log lives on the data partition
	}
	keep := map[string]bool{"/": true, "/proc": true, "/sys": true, "/dev": true, "/run": true}
	var left []mounts.Info
	for round := 0; round < 5; round++ {
		infos, err := mounts.ReadMountinfo("/proc/self/mountinfo")
		if err != nil {
			events.Emit(log, events.UnmountFailed, "err", err)
			return -1
		}
		left = left[:0]
		progress := false
		for i := len(infos) - 1; i >= 0; i-- {
			m := infos[i]
			if keep[m.Target] {
				continue
			}
			if err := unix.Unmount(m.Target, 0); err != nil {
				left = append(left, m)
				continue
			}
			progress = true
		}
		if len(left) == 0 || !progress {
			break
		}
	}
	for i, m := range left {
		if m.Target != mounts.DataDir {
			continue
		}
		// Busy: the root image's copy is served from it (docs/root.md),
		// or a process would not die. Read-only, its journal is clean;
		// detached, nothing else reaches it until the reboot.
		err := unix.Mount("", m.Target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		events.Emit(log, events.DataPartitionReadonly, "err", err)
		if err == nil && unix.Unmount(m.Target, unix.MNT_DETACH) == nil {
			left = append(left[:i], left[i+1:]...)
			break
		}
	}
	if len(left) > 0 {
		var names []string
		for _, m := range left {
			names = append(names, m.Target)
		}
		events.Emit(log, events.UnmountBusy, "targets", strings.Join(names, ","))
	}
	return len(left)
}

func waitGone(pids []int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		alive := false
		for _, p := range pids {
			if unix.Kill(p, 0) == nil {
				alive = true
			}
		}
		if !alive {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
