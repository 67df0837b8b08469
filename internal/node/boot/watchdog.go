package boot

import (
	"context"
	"errors"
	"strings"
	"time"

	"kios.dev/kios/internal/node/watchdog"
	"kios.dev/kios/internal/shared/events"
)

// Watchdog timing: the machine resets when PID 1 has not fed the
// watchdog for watchdogTimeout; it feeds it every watchdogFeed.
const (
	watchdogTimeout = 60 * time.Second
	watchdogFeed    = 5 * time.Second
)

// armWatchdog loads the watchdog drivers of the devices present and
// arms the first watchdog, in the background: loading a module takes
// CPU the boot's first steps need. PID 1 then feeds it for as long as
// it runs, so a boot that hangs is reset (and, on trial, counts as a
// failed try).
func (n *Node) armWatchdog(context.Context) error {
	if n.Cmdline.WatchdogOff {
		events.Emit(n.Log, events.Watchdog, "status", "off", "reason", "kios.watchdog=off")
		return nil
	}
	if err := n.openModules(); err != nil {
		return err
	}
	Go(n.Log, "watchdog", func() {
		loaded := n.modules.ColdplugMatching("/sys", n.Log, n.isWatchdogDevice)
		n.tryArm(strings.Join(loaded, ","), false)
	})
	return nil
}

// armWatchdogLate arms a watchdog that only the hardware step's drivers
// revealed (Intel's TCO timer appears once its bridge's driver loads).
func (n *Node) armWatchdogLate(context.Context) error {
	if n.Cmdline.WatchdogOff || n.dog.Load() != nil {
		return nil
	}
	n.tryArm("", true)
	return nil
}

func (n *Node) tryArm(loaded string, last bool) {
	dev, err := watchdog.Find("/sys")
	if errors.Is(err, watchdog.ErrNone) {
		if last {
			events.Emit(n.Log, events.Watchdog, "status", "none", "reason", "no watchdog device on this machine")
		}
		return
	}
	d, err := watchdog.Arm(dev, watchdogTimeout)
	if err != nil {
		events.Emit(n.Log, events.Watchdog, "status", "failed", "device", dev, "err", err)
		return
	}
	if !n.dog.CompareAndSwap(nil, d) {
		return
	}
	events.Emit(n.Log, events.Watchdog, "status", "armed", "device", d.Device, "identity", d.Identity, "timeout", d.Timeout, "feed", watchdogFeed, "drivers", loaded)
	Go(n.Log, "watchdog-feed", func() { d.Keep(watchdogFeed, n.Log.Printf) })
}

// isWatchdogDevice: a device whose driver is a watchdog driver.
func (n *Node) isWatchdogDevice(modalias string) bool {
	for _, m := range n.modules.Index.Match(modalias) {
		if strings.Contains(n.modules.Index.Paths[m], "/drivers/watchdog/") {
			return true
		}
	}
	return false
}
