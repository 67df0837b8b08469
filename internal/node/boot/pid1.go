package boot

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/node/applets"
	"kios.dev/kios/internal/node/logind"
	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/meminfo"
	"kios.dev/kios/internal/shared/mounts"
)

// Env is the environment of every program PID 1 starts.
var Env = []string{"PATH=/bin", "HOME=/", "TMPDIR=/tmp", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + logind.SocketPath}

// Backoff restarts containerd and the kubelet quickly at first and never
// less often than every 30 s.
var Backoff = supervise.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second, ResetAfter: 60 * time.Second}

// Main is PID 1. It never returns while it is PID 1.
func Main() {
	// A signal with no handler would make the Go runtime exit, and PID 1
	// exiting panics the kernel: take them all.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGQUIT)
	debug.SetGCPercent(PID1GCPercent)
	log := openLog()
	// The wall clock as the hardware gave it: a node that boots with a
	// wrong one (no battery-backed clock) shows it here until ntp steps it.
	events.Emit(log, events.InitStart, "pid", os.Getpid(), "clock", time.Now().UTC().Format(time.RFC3339))
	// Ctrl-Alt-Del sends PID 1 SIGINT (an orderly reboot) instead of
	// rebooting at once.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		events.Emit(log, events.CtrlAltDelFailed, "err", err)
	}
	// containerd runs the shim and runc ("-info", "features") while it
	// starts, and the kubelet starts the moment it answers; reading them
	// now, on the other CPU, takes their decompression off the path (the
	// kubelet's 80 MB cost about half a second under emulation).
	Go(log, "prefetch", func() { prefetch("/bin/containerd-shim-runc-v2", "/bin/runc", "/bin/kubelet") })
	args := readCmdline(log)
	var mirror io.Writer
	if args.LogConsole {
		mirror = os.Stdout
	}
	out := &supervise.Output{Dir: "/var/log", MaxBytes: 8 << 20, Mirror: mirror}
	start := func(name string, argv, env []string) (int, error) {
		w, err := out.Pipe(name)
		if err != nil {
			return 0, err
		}
		defer w.Close()
		return supervise.StartProcess(argv, env, w, w)
	}
	sup := supervise.New(start, Backoff, log, func(pid int, s syscall.Signal) error { return unix.Kill(pid, s) })
	Go(log, "reaper", func() { supervise.Reap(sup, log) })
	node := &Node{Log: log, Cmdline: args, Mounter: mounts.System{}, LoadModule: applets.LoadModuleFile, Sup: sup, Env: Env}
	node.shutdown.wait, node.shutdown.cutWait = context.WithCancel(context.Background())
	// Signals are taken from the start: a power-off during boot works.
	Go(log, "signals", func() {
		for s := range sigs {
			Go(log, "shutdown", func() { node.handleSignal(s) })
		}
	})
	failed := Run(context.Background(), log, node.Steps())
	events.Emit(log, events.BootDone, "failed", len(failed), "steps", strings.Join(failed, ","))
	ReleaseMemory(log, "boot")
	Go(log, "meminfo", func() { reportMemory(log, args.DebugMeminfo) })
	select {} // PID 1 never returns; its goroutines do the work
}

// reportMemory logs the memory in use 30 and 60 seconds after the boot
// steps end, when the node has settled; benchmarks read these lines.
func reportMemory(log Logger, full bool) {
	for _, wait := range []time.Duration{30 * time.Second, 30 * time.Second} {
		time.Sleep(wait)
		m, err := meminfo.Read("/proc/meminfo")
		if err != nil {
			events.Emit(log, events.MeminfoFailed, "err", err)
			return
		}
		if b, err := os.ReadFile("/proc/meminfo"); err == nil && full {
			log.Printf("%s", b)
		}
		events.Emit(log, events.Meminfo, "total_mib", fmt.Sprintf("%.1f", float64(m.TotalKiB)/1024), "used_mib", fmt.Sprintf("%.1f", m.UsedMiB()), "shmem_mib", fmt.Sprintf("%.1f", mib(m.ShmemKiB)), "cached_mib", fmt.Sprintf("%.1f", mib(m.CachedKiB)), "anon_mib", fmt.Sprintf("%.1f", mib(m.AnonKiB)), "slab_mib", fmt.Sprintf("%.1f", mib(m.SlabKiB)), "buffers_mib", fmt.Sprintf("%.1f", mib(m.BuffersKiB)))
	}
}

// prefetch reads files once so the root image's blocks are decompressed
// into the page cache before they are executed.
func prefetch(paths ...string) {
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
	}
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func openLog() *Log {
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		return NewLog(f, "<5>", nil)
	}
	// /dev is not mounted yet in the initramfs: the console is stdout.
	return NewLog(os.Stdout, "", nil)
}

// readCmdline reads the kernel command line's kios.* keys, once: a word
// PID 1 cannot use is logged and left at its default.
func readCmdline(log Logger) cmdline.Kios {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		events.Emit(log, events.CmdlineUnreadable, "err", err)
	}
	args, problems := cmdline.Parse(string(b))
	for _, p := range problems {
		events.Emit(log, events.CmdlineIgnored, "err", p)
	}
	return args
}

// Hang keeps PID 1 alive after a fatal error, reaping children.
func Hang(log Logger) {
	events.Emit(log, events.Halted, "reason", "boot cannot continue")
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err != nil {
			time.Sleep(time.Second)
		}
	}
}
