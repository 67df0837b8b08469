package boot

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
	unix.Sync()
	log.Printf("event=shutdown-final cmd=%#x", cmd)
	if err := unix.Reboot(cmd); err != nil {
		log.Printf("event=reboot-failed err=%q", err.Error())
	}
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
