// Command initramfs-init is the initramfs's /init: it mounts the root
// image, makes it the root and execs /bin/init there. It is kept apart
// from /bin/init so the initramfs carries a small program.
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/applets"
	"kios.dev/kios/internal/node/switchroot"
	"kios.dev/kios/internal/shared/events"
)

type consoleLog struct{ start time.Time }

func (consoleLog) Printf(format string, args ...any) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	fmt.Fprintf(os.Stdout, "kios: t=%.3f %s\n", float64(ts.Nano())/1e9, fmt.Sprintf(format, args...))
}

func main() {
	log := consoleLog{}
	log.Printf("step=switch-root status=start")
	if err := switchroot.SwitchRoot(log, applets.LoadModuleFile); err != nil {
		log.Printf("step=switch-root status=failed err=%q", err.Error())
	} else {
		log.Printf("step=switch-root status=ok")
		err := unix.Exec("/bin/init", []string{"/bin/init"}, []string{"PATH=/bin"})
		events.Emit(log, events.ExecInitFailed, "err", err)
	}
	// PID 1 must not exit: keep reaping so the console shows the error.
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err != nil {
			time.Sleep(time.Second)
		}
	}
}
