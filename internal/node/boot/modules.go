package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kmod"
)

// loadOverlay starts loading the one module containerd needs before it
// starts; startContainerd waits for it.
func (n *Node) loadOverlay(context.Context) error {
	if err := n.openModules(); err != nil {
		return err
	}
	n.overlay = make(chan error, 1)
	Go(n.Log, "overlay-module", func() {
		_, err := n.modules.Probe("overlay")
		n.overlay <- err
	})
	return nil
}

func (n *Node) openModules() error {
	if n.modules != nil {
		return nil
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return err
	}
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	l, err := kmod.Open(dir, n.LoadModule)
	if err != nil {
		return err
	}
	l.Resident = kmod.InSysfs("/sys")
	n.modules = l
	// The kernel's own requests (fs-overlay, crypto-crc32c for ext4,
	// nf_conntrack...) go through the init binary's modprobe.
	if err := os.WriteFile("/proc/sys/kernel/modprobe", []byte("/bin/modprobe"), 0o644); err != nil {
		events.Emit(n.Log, events.ModprobePathFailed, "err", err)
	}
	return nil
}

func (n *Node) loadDrivers(context.Context) error {
	if err := n.openModules(); err != nil {
		return err
	}
	n.coldplugged = n.modules.Coldplug("/sys", n.Log)
	return nil
}

func (n *Node) loadModules(context.Context) error {
	if err := n.openModules(); err != nil {
		return err
	}
	b, err := os.ReadFile(ModulesList)
	if err != nil {
		return fmt.Errorf("read module list: %w", err)
	}
	var errs []error
	count := 0
	err = atLowPriority(func() {
		for _, name := range append(moduleNames(string(b)), n.cfg.modules...) {
			loaded, err := n.modules.Probe(name)
			count += len(loaded)
			if err != nil {
				errs = append(errs, err)
			}
		}
	})
	if err != nil {
		events.Emit(n.Log, events.LowPriorityFailed, "err", err)
	}
	events.Emit(n.Log, events.ModulesLoaded, "listed", count, "coldplug", len(n.coldplugged), "coldplugged", strings.Join(n.coldplugged, ","))
	return errors.Join(errs...)
}

// moduleNames reads the module list: one name a line, # comments.
func moduleNames(list string) []string {
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if name := strings.TrimSpace(strings.SplitN(line, "#", 2)[0]); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// atLowPriority runs f on an OS thread of its own at nice 10 (or the
// caller's niceness, when that is lower in priority already): module
// loading (signature checks, relocation) runs in the loading thread, and
// should yield the CPU to the kubelet and the runtime. The thread is
// never unlocked, so it ends with f and its priority goes with it. The
// error is the priority's; f runs either way.
func atLowPriority(f func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Linux: PRIO_PROCESS with who 0 is the calling thread.
		// The raw getpriority value is 20 - nice.
		nice := 10
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil {
			nice = max(nice, 20-p)
		}
		err := unix.Setpriority(unix.PRIO_PROCESS, 0, nice)
		defer func() {
			if r := recover(); r != nil {
				err = errors.Join(err, fmt.Errorf("panic: %v", r))
			}
			done <- err
		}()
		f()
	}()
	return <-done
}

// probeModules loads modules a step needs (with their dependencies); one
// that fails is logged and the step goes on: the mount or read that
// needs it says what went wrong. openModules must have succeeded.
func (n *Node) probeModules(names ...string) {
	for _, m := range names {
		if _, err := n.modules.Probe(m); err != nil {
			events.Emit(n.Log, events.ModuleFailed, "name", m, "err", err)
		}
	}
}

// vfatModules are vfat and the character sets its default mount
// options name (the ESP, a FAT seed volume).
var vfatModules = []string{"vfat", "nls_cp437", "nls_ascii"}
