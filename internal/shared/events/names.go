package events

// The events PID 1 and the node programs it starts log, by the part of
// the node they come from. A reader names them through these constants,
// so renaming one breaks the build of every reader, not a VM test.
const (
	// PID 1's life and its boot steps.
	InitStart              Name = "init-start"
	Boot                   Name = "boot"
	HardwareDone           Name = "hardware-done"
	BootDone               Name = "boot-done"
	Halted                 Name = "halted"
	GoroutinePanic         Name = "goroutine-panic"
	SignalIgnored          Name = "signal-ignored"
	CtrlAltDelFailed       Name = "ctrl-alt-del-failed"
	CmdlineUnreadable      Name = "cmdline-unreadable"
	CmdlineIgnored         Name = "cmdline-ignored"
	ExecInitFailed         Name = "exec-init-failed"
	InitramfsCleanupFailed Name = "initramfs-cleanup-failed"

	// Kernel modules, links and routes.
	ModulesLoaded      Name = "modules-loaded"
	ModuleFailed       Name = "module-failed"
	ModprobePathFailed Name = "modprobe-path-failed"
	LowPriorityFailed  Name = "low-priority-failed"
	LinksUp            Name = "links-up"
	RouteWatchFailed   Name = "route-watch-failed"
	RouteWatchStopped  Name = "route-watch-stopped"

	// Identity and /etc.
	MachineID      Name = "machine-id"
	Hostname       Name = "hostname"
	EtcFileRefused Name = "etc-file-refused"

	// The node's configuration (docs/config.md): which source was
	// applied, or refused and why, and a source that did not answer.
	ConfigApplied  Name = "config-applied"
	ConfigRefused  Name = "config-refused"
	ConfigKept     Name = "config-kept"
	ConfigNone     Name = "config-none"
	ConfigStoreErr Name = "config-store-failed"

	// What the network pod reports over the report socket
	// (internal/shared/reportsock), PID 1 logs as its own: a node
	// without an address has no other place to show it.
	NetworkLink     Name = "network-link"     // link, from, does
	NetworkFallback Name = "network-fallback" // err
	NetworkLease    Name = "network-lease"    // link, family, address
	NetworkError    Name = "network-error"    // err
	NetworkDNS      Name = "network-dns"      // servers, search: what resolv.conf now says
	NetworkBond     Name = "network-bond"     // link, mode, active (active-backup) or ports, partner (802.3ad)
	ReportRefused   Name = "report-refused"   // err: a report PID 1 did not log

	// The root image (docs/root.md): its RAM copy's device-mapper device
	// in the initramfs, and its move to a copy on the data partition.
	RootMapFailed   Name = "root-map-failed"   // err: mounted from the RAM copy's loop device
	RootDisk        Name = "root-disk"         // status=ram|refused|disk, copy, reason, checked_in, freed_mib
	RootDiskWriting Name = "root-disk-writing" // copy, bytes: the copy's write begins
	RootDiskCopy    Name = "root-disk-copy"    // copy, bytes, took: written from the RAM copy
	RootDiskPruned  Name = "root-disk-pruned"  // removed: other images' copies

	// The data partition.
	DataPartition         Name = "data-partition"
	DataPartitionSize     Name = "data-partition-size"
	DataPartitionSpace    Name = "data-partition-space"
	DataPartitionFull     Name = "data-partition-full"
	DataPartitionFailing  Name = "data-partition-failing"
	DataPartitionReadonly Name = "data-partition-readonly"
	MountFailed           Name = "mount-failed"
	GrantUnavailable      Name = "grant-unavailable"
	GrantRefused          Name = "grant-refused"

	// Memory.
	Meminfo        Name = "meminfo"
	MeminfoFailed  Name = "meminfo-failed"
	MemoryReleased Name = "memory-released"

	// The services PID 1 supervises: containerd and the kubelet.
	ServiceStarted            Name = "service-started"
	ServiceStartFailed        Name = "service-start-failed"
	ServiceExited             Name = "service-exited"
	SupervisorPanic           Name = "supervisor-panic"
	ServiceEnv                Name = "service-env"
	ServiceEnvInvalid         Name = "service-env-invalid"
	ContainerdReady           Name = "containerd-ready"
	ImagePresent              Name = "image-present"
	ImageImported             Name = "image-imported"
	ImageImportFailed         Name = "image-import-failed"
	ContainerStarted          Name = "container-started"
	ContainerWatchInterrupted Name = "container-watch-interrupted"
	KubeletMode               Name = "kubelet-mode"
	KubeletRestart            Name = "kubelet-restart"
	KubeletRestartFailed      Name = "kubelet-restart-failed"
	KubeconfigWatchStopped    Name = "kubeconfig-watch-stopped"
	KubeconfigCheckFailed     Name = "kubeconfig-check-failed"

	// The system socket and the logind subset on the system bus.
	SystemSocket         Name = "system-socket"
	SystemSocketError    Name = "system-socket-error"
	SystemSocketIgnored  Name = "system-socket-ignored"
	SystemBusRefused     Name = "system-bus-refused"
	SystemBusWriteFailed Name = "system-bus-write-failed"
	SystemBusKillUnit    Name = "system-bus-killunit"
	InhibitorTaken       Name = "inhibitor-taken"
	InhibitorReleased    Name = "inhibitor-released"
	PrepareForShutdown   Name = "prepare-for-shutdown"

	// Shutdown and the power button.
	PowerButton      Name = "power-button"
	PowerButtonWatch Name = "power-button-watch"
	ShutdownStart    Name = "shutdown-start"
	PodsStopped      Name = "pods-stopped"
	ShutdownFinal    Name = "shutdown-final"
	UnmountBusy      Name = "unmount-busy"
	UnmountFailed    Name = "unmount-failed"
	RebootFailed     Name = "reboot-failed"

	// The watchdog.
	Watchdog           Name = "watchdog"
	WatchdogFeedFailed Name = "watchdog-feed-failed"

	// Upgrades: boot entries, trial boots, blessing, staging.
	BootEntry           Name = "boot-entry"
	EFIVarsUnreadable   Name = "efivars-unreadable"
	ESPCleaned          Name = "esp-cleaned"
	RolledBack          Name = "rolled-back"
	UpgradeFailed       Name = "upgrade-failed"
	Trial               Name = "trial"
	HealthWait          Name = "health-wait"
	TrialFailed         Name = "trial-failed"
	Blessed             Name = "blessed"
	BlessFailed         Name = "bless-failed"
	UpgradeSocketFailed Name = "upgrade-socket-failed"
	UpgradeRefused      Name = "upgrade-refused"
	UpgradeStageStart   Name = "upgrade-stage-start"
	UpgradeStage        Name = "upgrade-stage"
	UpgradeRollback     Name = "upgrade-rollback"
)

// All is every event name, for tests that check the list is whole.
var All = []Name{
	InitStart, Boot, HardwareDone, BootDone, Halted, GoroutinePanic, SignalIgnored, CtrlAltDelFailed,
	CmdlineUnreadable, CmdlineIgnored, ExecInitFailed, InitramfsCleanupFailed,
	ModulesLoaded, ModuleFailed, ModprobePathFailed, LowPriorityFailed, LinksUp, RouteWatchFailed, RouteWatchStopped,
	MachineID, Hostname, EtcFileRefused,
	ConfigApplied, ConfigRefused, ConfigKept, ConfigNone, ConfigStoreErr,
	NetworkLink, NetworkFallback, NetworkLease, NetworkError, NetworkDNS, NetworkBond, ReportRefused,
	RootMapFailed, RootDisk, RootDiskWriting, RootDiskCopy, RootDiskPruned,
	DataPartition, DataPartitionSize, DataPartitionSpace, DataPartitionFull, DataPartitionFailing, DataPartitionReadonly,
	MountFailed, GrantUnavailable, GrantRefused,
	Meminfo, MeminfoFailed, MemoryReleased,
	ServiceStarted, ServiceStartFailed, ServiceExited, SupervisorPanic, ServiceEnv, ServiceEnvInvalid, ContainerdReady,
	ImagePresent, ImageImported, ImageImportFailed, ContainerStarted, ContainerWatchInterrupted,
	KubeletMode, KubeletRestart, KubeletRestartFailed, KubeconfigWatchStopped, KubeconfigCheckFailed,
	SystemSocket, SystemSocketError, SystemSocketIgnored, SystemBusRefused, SystemBusWriteFailed, SystemBusKillUnit,
	InhibitorTaken, InhibitorReleased, PrepareForShutdown,
	PowerButton, PowerButtonWatch, ShutdownStart, PodsStopped, ShutdownFinal, UnmountBusy, UnmountFailed, RebootFailed,
	Watchdog, WatchdogFeedFailed,
	BootEntry, EFIVarsUnreadable, ESPCleaned, RolledBack, UpgradeFailed, Trial, HealthWait, TrialFailed, Blessed,
	BlessFailed, UpgradeSocketFailed, UpgradeRefused, UpgradeStageStart, UpgradeStage, UpgradeRollback,
}
