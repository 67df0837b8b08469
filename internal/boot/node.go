package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/cmdline"
	"kios.dev/kios/internal/containerd"
	"kios.dev/kios/internal/kmod"
	"kios.dev/kios/internal/kubelet"
	"kios.dev/kios/internal/logind"
	"kios.dev/kios/internal/mounts"
	"kios.dev/kios/internal/primed"
	"kios.dev/kios/internal/supervise"
	"kios.dev/kios/internal/svcenv"
	"kios.dev/kios/internal/syssock"
	"kios.dev/kios/internal/watchdog"
)

// Paths of the image that PID 1 reads.
const (
	ModulesList     = "/etc/kios/modules"
	PrimedImagesDir = "/lib/kios/images"
	ContainerdConf  = "/etc/containerd/config.toml"
)

// Node is everything the boot steps act on. Fields are the seams tests
// replace; New fills them with the real operations.
type Node struct {
	Log        Logger
	Cmdline    cmdline.Kios // the kernel command line's kios.* keys, read once
	Mounter    mounts.MountUnmounter
	LoadModule func(path string) error
	Sup        *supervise.Supervisor
	Env        []string

	modules     *kmod.Loader
	overlay     chan error // the overlay module's load, under way from the overlay-module step
	coldplugged []string   // drivers the drivers step loaded for the devices present

	kubelet  kubeletState                 // the supervised kubelet (kubeletstate.go)
	shutdown shutdownState                // the power-down under way, if any (shutdown.go)
	upgrade  upgradeState                 // the running image, its ESP and its blessing (upgrade.go)
	dog      atomic.Pointer[watchdog.Dog] // the armed watchdog (watchdog.go)
	bus      *logind.Server

	etcUpper   string // /etc's writable layer on the data partition
	etcWork    string
	dataDevice string   // the data partition, when mounted
	journal    string   // its journal at mount time: clean or replayed
	imageEtc   *os.File // the image's /etc, under the overlay, from the etc step to etc-check
}

// Steps is PID 1's boot, in order. The overlay module loads while the
// data partition is looked for; containerd starts as soon as its mounts,
// that module and its config exist, and the kubelet the moment the
// runtime answers, while the primed images are imported (the sandbox
// image first). Hardware setup (HardwareSteps) starts after the kubelet:
// loading dozens of modules would take CPU from containerd's start, and
// the kubelet needs seconds to initialise before a pod needs the network.
func (n *Node) Steps() []Step {
	return []Step{
		{"mount", n.mount},
		{"protect-memory", func(context.Context) error { return ProtectHostMemory("/proc", "/sys") }},
		{"host-cgroup", func(context.Context) error { return JoinHostCgroup(mounts.CgroupRoot, os.Getpid()) }},
		{"overlay-module", n.loadOverlay},
		{"watchdog", n.armWatchdog},
		{"data", n.data},
		{"etc", n.mountEtc},
		{"etc-check", n.checkEtc},
		{"propagation", func(context.Context) error { return mounts.MakeShared() }},
		{"start-containerd", n.startContainerd},
		{"system-socket", n.systemSocket},
		{"system-bus", n.systemBus},
		{"sysctl", func(context.Context) error { return SetSysctls("/proc/sys", Sysctls) }},
		{"identity", n.identity},
		{"boot-entry", n.bootEntry},
		{"wait-containerd", n.waitContainerd},
		{"start-kubelet", n.startKubelet},
		{"hardware", n.startHardware},
		{"watch-kubeconfig", n.watchKubeconfigs},
		{"watch-containers", n.watchContainers},
		{"import-images", n.importImages},
	}
}

// systemSocket serves /run/system.sock (root-only) for restart and
// shutdown requests, e.g. from the join pod.
func (n *Node) systemSocket(context.Context) error {
	ln, err := syssock.Listen(syssock.Path)
	if err != nil {
		return err
	}
	s := &syssock.Server{H: n, Log: n.Log}
	Go(n.Log, "system-socket", func() { _ = s.Serve(ln) })
	return nil
}

// systemBus serves the part of D-Bus and logind the kubelet's graceful
// node shutdown uses (internal/logind), root-only.
func (n *Node) systemBus(context.Context) error {
	ln, err := logind.Listen(logind.SocketPath)
	if err != nil {
		return err
	}
	n.bus = &logind.Server{Log: n.Log, DelayMax: func() time.Duration { return logind.ReadDelayMax("/etc") }, Slack: logind.DefaultSlack}
	Go(n.Log, "system-bus", func() { _ = n.bus.Serve(ln) })
	return nil
}

// HardwareSteps run in the background from the "hardware" step: module
// loading signs and links dozens of modules, which takes seconds under
// emulation, and nothing before the kubelet needs them. The drivers of
// the devices present come first, so the network link is up before the
// DHCP pod asks for it; the listed modules (for pods' networking) load
// after it, at a lower CPU priority than the kubelet and the runtime.
func (n *Node) HardwareSteps() []Step {
	return []Step{
		{"drivers", n.loadDrivers},
		{"watchdog-late", n.armWatchdogLate},
		{"network", n.network},
		{"modules", n.loadModules},
		{"bridge-sysctl", func(context.Context) error { return SetSysctls("/proc/sys", BridgeSysctls) }},
		{"power-button", n.powerButton},
	}
}

func (n *Node) startHardware(ctx context.Context) error {
	Go(n.Log, "hardware", func() {
		failed := Run(ctx, n.Log, n.HardwareSteps())
		n.Log.Printf("event=hardware-done failed=%d steps=%q", len(failed), strings.Join(failed, ","))
		ReleaseMemory(n.Log, "hardware")
	})
	return nil
}

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
	n.modules = l
	// The kernel's own requests (fs-overlay, crypto-crc32c for ext4,
	// nf_conntrack...) go through the init binary's modprobe.
	if err := os.WriteFile("/proc/sys/kernel/modprobe", []byte("/bin/modprobe"), 0o644); err != nil {
		n.Log.Printf("event=modprobe-path-failed err=%q", err.Error())
	}
	return nil
}

func mountedNow() func(string) bool {
	infos, err := mounts.ReadMountinfo("/proc/self/mountinfo")
	if err != nil {
		return func(string) bool { return false }
	}
	return func(t string) bool { return mounts.Mounted(infos, t) }
}

func (n *Node) mount(context.Context) error {
	if err := mounts.Apply(n.Mounter, mounts.Pseudo, mountedNow()); err != nil {
		return err
	}
	return mounts.Apply(n.Mounter, mounts.Writable, mountedNow())
}

// logToFile copies PID 1's log to /var/log/init.log, beside the
// kubelet's and the runtime's (size-capped, rotated once), from the
// first line of the boot on. It runs once /var/log is final: on the
// data partition, or tmpfs.
func (n *Node) logToFile() {
	if l, ok := n.Log.(*Log); ok {
		w := &supervise.Output{Dir: "/var/log", MaxBytes: 4 << 20}
		l.AlsoTo(w.File("init"))
	}
	if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		n.Log.Printf("event=boot id=%s", strings.TrimSpace(string(id)))
	}
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
		for _, name := range moduleNames(string(b)) {
			loaded, err := n.modules.Probe(name)
			count += len(loaded)
			if err != nil {
				errs = append(errs, err)
			}
		}
	})
	if err != nil {
		n.Log.Printf("event=low-priority-failed err=%q", err.Error())
	}
	n.Log.Printf("event=modules-loaded listed=%d coldplug=%d coldplugged=%q", count, len(n.coldplugged), strings.Join(n.coldplugged, ","))
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

// atLowPriority runs f on an OS thread of its own at nice 10: module
// loading (signature checks, relocation) runs in the loading thread, and
// should yield the CPU to the kubelet and the runtime. The thread is
// never unlocked, so it ends with f and its priority goes with it. The
// error is the priority's; f runs either way.
func atLowPriority(f func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Linux: PRIO_PROCESS with who 0 is the calling thread.
		err := unix.Setpriority(unix.PRIO_PROCESS, 0, 10)
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

// powerButton starts watching the input devices the modules step made
// (evdev, button) for the power key.
func (n *Node) powerButton(context.Context) error {
	devs, err := inputDevices()
	if err != nil {
		return err
	}
	Go(n.Log, "power-button", func() {
		watchPowerButton(n.Log, devs, func() { n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF, "power-button") })
	})
	n.Log.Printf("event=power-button-watch devices=%d", len(devs))
	return nil
}

func (n *Node) mountEtc(context.Context) error {
	upper, work := n.etcDirs()
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Kept open: the image's copy of a file is what etc-check falls back
	// to, and the overlay hides it.
	img, err := os.Open("/etc")
	if err != nil {
		return fmt.Errorf("open the image's /etc: %w", err)
	}
	if err := n.Mounter.Mount(mounts.Etc(upper, work)); err != nil {
		img.Close()
		return err
	}
	n.imageEtc = img
	return nil
}

func (n *Node) identity(context.Context) error {
	var errs []error
	if b, err := os.ReadFile("/etc/machine-id"); err != nil || !validID(strings.TrimSpace(string(b))) {
		id, dmi := MachineID("/")
		if err := os.WriteFile("/etc/machine-id", []byte(id+"\n"), 0o444); err != nil {
			errs = append(errs, fmt.Errorf("write machine-id: %w", err))
		}
		n.Log.Printf("event=machine-id id=%s from_dmi=%t", id, dmi)
	}
	name, err := Hostname("/")
	if err != nil {
		// The node still needs a name: it takes the one it would have
		// with no /etc/hostname, and says why.
		n.Log.Printf("event=etc-file-refused path=/etc/hostname err=%q fallback=%q", err.Error(), "a name from the machine-id")
	}
	if name == "" {
		b, _ := os.ReadFile("/etc/machine-id")
		name = "kios-" + strings.TrimSpace(string(b))[:min(8, len(strings.TrimSpace(string(b))))]
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		errs = append(errs, fmt.Errorf("set hostname %s: %w", name, err))
	}
	n.Log.Printf("event=hostname name=%s", name)
	return errors.Join(errs...)
}

func (n *Node) network(context.Context) error {
	up, err := LinksUp()
	n.Log.Printf("event=links-up links=%s", strings.Join(up, ","))
	return err
}

func (n *Node) startContainerd(context.Context) error {
	if n.overlay != nil {
		if err := <-n.overlay; err != nil {
			// The kernel may still load it on demand: start anyway.
			n.Log.Printf("event=module-failed name=overlay err=%q", err.Error())
		}
	}
	return n.Sup.Add(supervise.Service{
		Name: "containerd",
		Args: func() ([]string, error) { return []string{"/bin/containerd", "--config", ContainerdConf}, nil },
		Env:  n.serviceEnv("containerd"),
	})
}

func (n *Node) waitContainerd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := containerd.WaitSocket(ctx, containerd.Socket); err != nil {
		return err
	}
	n.Log.Printf("event=containerd-ready")
	return nil
}

// importImages imports the images primed into the image, then those
// primed on the data partition (kios disk --image).
func (n *Node) importImages(ctx context.Context) error {
	idx, err := primed.Read(filepath.Join(PrimedImagesDir, primed.IndexFile))
	if err != nil {
		return err
	}
	c, err := containerd.Connect(containerd.Socket)
	if err != nil {
		return err
	}
	// The container watch has its own client; this one is done after.
	defer c.Close()
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err = containerd.Import(ictx, c, PrimedImagesDir, idx, containerd.SandboxImage, n.Log)
	dataImages := filepath.Join(mounts.DataDir, mounts.DataImages)
	if n.dataDevice != "" {
		if didx, derr := primed.Read(filepath.Join(dataImages, primed.IndexFile)); derr == nil {
			err = errors.Join(err, containerd.Import(ictx, c, dataImages, didx, "", n.Log))
		} else if !errors.Is(derr, os.ErrNotExist) {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// watchContainers reports pod container starts (the boot timeline uses
// the first), resubscribing after containerd restarts. It runs before
// the imports: a pod whose image is already there starts while they go
// on, and an event before the subscription is lost.
func (n *Node) watchContainers(context.Context) error {
	c, err := containerd.Connect(containerd.Socket)
	if err != nil {
		return err
	}
	Go(n.Log, "container-watch", func() {
		for {
			if err := containerd.LogStarts(context.Background(), c, n.Log); err != nil {
				n.Log.Printf("event=container-watch-interrupted err=%q", err.Error())
			}
			wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = containerd.WaitSocket(wctx, containerd.Socket)
			cancel()
			time.Sleep(time.Second)
		}
	})
	return nil
}

func (n *Node) startKubelet(context.Context) error {
	return n.Sup.Add(supervise.Service{
		Name: "kubelet",
		Args: func() ([]string, error) {
			// One read of /etc gives both the flags and what a later
			// change is compared with.
			snap, err := n.takeKubelet()
			if err != nil {
				return nil, err
			}
			n.kubelet.starting(snap)
			if snap.Held {
				n.Log.Printf("event=kubelet-mode mode=%s held=cluster api=%s reason=%q", snap.Mode, strings.Join(snap.APIServers, ","), "no route to the API server yet")
				n.kubelet.routeWatch.Do(func() {
					Go(n.Log, "route-watch", func() { watchRoutes(n.Log, n.releaseHeldKubelet) })
				})
			} else {
				n.Log.Printf("event=kubelet-mode mode=%s", snap.Mode)
			}
			return append([]string{"/bin/kubelet"}, snap.Flags...), nil
		},
		Env: n.serviceEnv("kubelet"),
	})
}

// serviceEnv is what program starts with: PID 1's environment and
// /etc/kios/env/<program>. A file that does not parse is reported once
// and left out: the program runs with the Go runtime's own defaults.
func (n *Node) serviceEnv(program string) []string {
	extra, err := svcenv.Read("/", program)
	if err != nil {
		n.Log.Printf("event=service-env-invalid name=%s err=%q fallback=%q", program, err.Error(), "none")
	} else if len(extra) > 0 {
		n.Log.Printf("event=service-env name=%s env=%q", program, strings.Join(extra, " "))
	}
	return append(append([]string{}, n.Env...), extra...)
}

// takeKubelet reads what the kubelet is to start with; a cluster-mode
// kubelet is held standalone while no API server is routable
// (kubelet.Hold).
func (n *Node) takeKubelet() (kubelet.Snapshot, error) {
	return kubelet.Hold("/", n.Log, Routable)
}

// releaseHeldKubelet restarts a held kubelet in cluster mode once a
// route to its API server exists.
func (n *Node) releaseHeldKubelet() {
	if n.kubelet.held() {
		n.restartKubeletIfNeeded()
	}
}
