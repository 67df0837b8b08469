// Package watchdog arms a hardware watchdog (/dev/watchdogN, the
// kernel's driver for it) and feeds it: if PID 1 stops feeding it, a
// hung kernel or PID 1 included, the machine resets, and a boot on
// trial counts as a failed try (internal/shared/upgrade/esp).
package watchdog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// ErrNone means the machine has no watchdog device (or no driver for
// it was loaded).
var ErrNone = errors.New("no watchdog device")

// Dog is an armed watchdog.
type Dog struct {
	Device   string
	Identity string        // the driver's name for it (i6300ESB timer)
	Timeout  time.Duration // as the driver set it
	f        *os.File
}

// Find is the first watchdog the kernel registered, from sysRoot's
// class/watchdog (watchdog0 is the one /dev/watchdog also opens).
func Find(sysRoot string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(sysRoot, "class", "watchdog", "watchdog*"))
	if len(m) == 0 {
		return "", ErrNone
	}
	sort.Strings(m)
	return "/dev/" + filepath.Base(m[0]), nil
}

// Arm opens dev, which starts the watchdog, and asks for timeout; the
// driver may round it, and Timeout says what it took.
func Arm(dev string, timeout time.Duration) (*Dog, error) {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dev, err)
	}
	d := &Dog{Device: dev, f: f}
	fd := int(f.Fd())
	secs := int(timeout / time.Second)
	if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, secs); err != nil {
		// Some drivers have a fixed timeout: armed all the same.
		d.Identity = "(timeout not settable: " + err.Error() + ")"
	}
	if got, err := unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err == nil {
		d.Timeout = time.Duration(got) * time.Second
	}
	if info, err := unix.IoctlGetWatchdogInfo(fd); err == nil {
		d.Identity = strings.TrimRight(string(info.Identity[:]), "\x00") + d.Identity
	}
	if err := d.Feed(); err != nil {
		return d, err
	}
	return d, nil
}

// Feed resets the watchdog's countdown.
func (d *Dog) Feed() error {
	if err := unix.IoctlWatchdogKeepalive(int(d.f.Fd())); err != nil {
		// Every driver takes a write as a keepalive.
		if _, werr := d.f.Write([]byte{0}); werr != nil {
			return fmt.Errorf("feed %s: %w", d.Device, errors.Join(err, werr))
		}
	}
	return nil
}

// Keep feeds the watchdog every interval, for as long as the process
// runs: the countdown stops only when PID 1 does.
func (d *Dog) Keep(interval time.Duration, log func(format string, args ...any)) {
	failing := false
	for range time.Tick(interval) {
		err := d.Feed()
		if err != nil && !failing {
			log("%s", events.New(events.WatchdogFeedFailed, "device", d.Device, "err", err))
		}
		failing = err != nil
	}
}
