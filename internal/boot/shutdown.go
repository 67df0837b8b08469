package boot

import (
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/mounts"
	"kios.dev/kios/internal/supervise"
)

// handleSignal turns SIGTERM into a power-off and SIGINT (Ctrl-Alt-Del)
// into a reboot; other signals are logged and ignored.
func (n *Node) handleSignal(s os.Signal) {
	switch s {
	case syscall.SIGTERM, syscall.SIGUSR2:
		n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF)
	case syscall.SIGINT:
		n.PowerDown(unix.LINUX_REBOOT_CMD_RESTART)
	default:
		n.Log.Printf("event=signal-ignored signal=%s", s)
	}
}

// PowerDown shuts the node down once, however many triggers arrive.
func (n *Node) PowerDown(cmd int) {
	n.shutdown.Do(func() { Shutdown(n.Log, n.Sup, cmd) })
}

// SoftShutdown, ContinueShutdown, RestartKubelet and RestartRuntime
// answer the system socket.
func (n *Node) SoftShutdown() {
	Go(n.Log, "shutdown", func() { n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF) })
}

func (n *Node) ContinueShutdown() { n.SoftShutdown() }

func (n *Node) RestartKubelet() error {
	n.mu.Lock()
	n.restartPending = true
	n.mu.Unlock()
	return n.Sup.Restart("kubelet")
}

func (n *Node) RestartRuntime() error { return n.Sup.Restart("containerd") }

// Shutdown stops every process, unmounts, syncs and powers off or reboots.
func Shutdown(log Logger, sup *supervise.Supervisor, cmd int) {
	log.Printf("event=shutdown-start")
	pids := sup.Stop()
	for _, pid := range pids {
		_ = unix.Kill(pid, syscall.SIGTERM)
	}
	waitGone(pids, 10*time.Second)
	_ = unix.Kill(-1, syscall.SIGTERM)
	time.Sleep(2 * time.Second)
	_ = unix.Kill(-1, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond) // let the killed release their files
	unix.Sync()
	left := unmountAll(log)
	unix.Sync()
	log.Printf("event=shutdown-final cmd=%#x mounts_left=%d", cmd, left)
	if err := unix.Reboot(cmd); err != nil {
		log.Printf("event=reboot-failed err=%q", err.Error())
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
		infos, err := readMountinfo()
		if err != nil {
			log.Printf("event=unmount-failed err=%q", err.Error())
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
	for _, m := range left {
		if m.Target == mounts.DataDir {
			err := unix.Mount("", m.Target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
			log.Printf("event=data-partition-readonly err=%v", err)
		}
	}
	if len(left) > 0 {
		var names []string
		for _, m := range left {
			names = append(names, m.Target)
		}
		log.Printf("event=unmount-busy targets=%q", strings.Join(names, ","))
	}
	return len(left)
}

func readMountinfo() ([]mounts.Info, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mounts.ParseMountinfo(f)
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
