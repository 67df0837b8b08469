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
func handleSignal(log Logger, sup *supervise.Supervisor, s os.Signal) {
	switch s {
	case syscall.SIGTERM, syscall.SIGUSR2:
		Shutdown(log, sup, unix.LINUX_REBOOT_CMD_POWER_OFF)
	case syscall.SIGINT:
		Shutdown(log, sup, unix.LINUX_REBOOT_CMD_RESTART)
	default:
		log.Printf("event=signal-ignored signal=%s", s)
	}
}

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
