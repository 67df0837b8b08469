package boot

import (
	"context"
	"os"
	"strings"
	"sync/atomic"

	"kios.dev/kios/internal/node/logind"
	"kios.dev/kios/internal/node/supervise"
	"kios.dev/kios/internal/node/watchdog"
	"kios.dev/kios/internal/shared/cmdline"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/kmod"
	"kios.dev/kios/internal/shared/mounts"
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
	// UpgradeHost is what the upgrade glue reads and does (upgrade.go).
	UpgradeHost UpgradeHost
	// ConfigRoot is where a node configuration is applied ("/" when
	// empty) and SetHostname names the machine (unix.Sethostname when
	// nil): tests apply to a temporary tree and keep the host's name.
	ConfigRoot  string
	SetHostname func(name []byte) error

	modules     *kmod.Loader
	overlay     chan error // the overlay module's load, under way from the overlay-module step
	coldplugged []string   // drivers the drivers step loaded for the devices present

	kubelet  kubeletState                 // the supervised kubelet (kubeletstate.go)
	shutdown shutdownState                // the power-down under way, if any (shutdown.go)
	upgrade  upgradeState                 // the running image, its ESP and its blessing (upgrade.go)
	dog      atomic.Pointer[watchdog.Dog] // the armed watchdog (watchdog.go)
	bus      *logind.Server
	cfg      configState // the node configuration applied (config.go)
	leased   leasedIPs   // addresses the network pod reported (nodeip.go)

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
		{"config", n.config},
		{"propagation", func(context.Context) error { return mounts.MakeShared() }},
		{"start-containerd", n.startContainerd},
		{"system-socket", n.systemSocket},
		{"system-bus", n.systemBus},
		{"report-socket", n.reportSocket},
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
		{"root-disk", n.rootDisk},
	}
}

func (n *Node) startHardware(ctx context.Context) error {
	Go(n.Log, "hardware", func() {
		failed := Run(ctx, n.Log, n.HardwareSteps())
		events.Emit(n.Log, events.HardwareDone, "failed", len(failed), "steps", strings.Join(failed, ","))
		ReleaseMemory(n.Log, "hardware")
	})
	return nil
}
