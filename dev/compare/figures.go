package compare

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Figure names one measurement of a boot. Its name is the key of a
// run's figures in runs.json and, after the system's name, in
// report.json ("kios.node_ready_s"), so it never changes once recorded;
// it ends in the figure's unit: _s seconds, _mib MiB, _ms milliseconds,
// none for a count.
//
// Only this package makes figures: the variables below and the
// constructors after them (PodsRunning, RSS...), every one described in
// Registry. A figure cannot be written as a string elsewhere, so a
// misspelt figure fails to compile rather than leaving a figure blank.
type Figure struct{ name string }

// String is the figure's name.
func (f Figure) String() string { return f.name }

// MarshalText makes a figure a JSON object key.
func (f Figure) MarshalText() ([]byte, error) { return []byte(f.name), nil }

// UnmarshalText reads a figure's name back (runs.json). A name this
// version does not know is kept: an older run may have figures since
// renamed or dropped.
func (f *Figure) UnmarshalText(b []byte) error {
	f.name = string(b)
	return nil
}

// Figures are one boot's measurements.
type Figures map[Figure]float64

// Figures of every boot.
var (
	// The boot timeline, seconds from QEMU start.
	KernelStart     = Figure{"kernel_start_s"}
	PID1Start       = Figure{"pid1_start_s"}
	ContainerdReady = Figure{"containerd_ready_s"}
	KubeletStarted  = Figure{"kubelet_started_s"}
	DHCPLease       = Figure{"dhcp_lease_s"}
	NodeRegistered  = Figure{"node_registered_s"}
	NodeReady       = Figure{"node_ready_s"}
	FirstPodRunning = Figure{"first_pod_running_s"}
	BootSettled     = Figure{"boot_settled_s"}

	// The footprint at rest.
	RAMUsed       = Figure{"ram_used_mib"}
	HostProcesses = Figure{"host_processes"}
	HostRSS       = Figure{"host_rss_mib"}
	Executables   = Figure{"executables"}
	ImageSize     = Figure{"image_mib"}
	HostMounts    = Figure{"host_mounts"}

	// The growth steps' containerd calls, and the shutdown.
	PodsRunSandbox     = Figure{"pods_run_sandbox_s"}
	PodsStartContainer = Figure{"pods_start_container_s"}
	Shutdown           = Figure{"shutdown_s"}
)

// Figures of a growth step (n pods on the node), of a host program or
// of a kind of CPU time. Program names are made safe for a key: other
// characters than letters, digits, - and _ become _.

// PodsRunning is the time to n pods Running.
func PodsRunning(n int) Figure { return Figure{fmt.Sprintf("pods_%d_running_s", n)} }

// PodsRAMUsed is the RAM in use with n pods.
func PodsRAMUsed(n int) Figure { return AtPods(n, RAMUsed) }

// PodsRAMPerPod is the RAM in use with n pods divided by n.
func PodsRAMPerPod(n int) Figure { return Figure{fmt.Sprintf("pods_%d_ram_per_pod_mib", n)} }

// PodsRAMAddedPerPod is the growth of RAM in use from rest to n pods,
// divided by n.
func PodsRAMAddedPerPod(n int) Figure { return Figure{fmt.Sprintf("pods_%d_ram_added_per_pod_mib", n)} }

// AtPods is figure f (one of the footprint's: RAMUsed, HostMounts, CPU,
// ChildCPU, CPUAll) read again with n pods on the node; n = 0 is the
// reading at rest, f itself.
func AtPods(n int, f Figure) Figure {
	if n == 0 {
		return f
	}
	return Figure{fmt.Sprintf("pods_%d_%s", n, f.name)}
}

// RSS is the resident memory of a host program's processes.
func RSS(program string) Figure { return Figure{"rss_" + sanitize(program) + "_mib"} }

// RSSAnon is the anonymous part of a host program's resident memory.
func RSSAnon(program string) Figure { return Figure{"rss_anon_" + sanitize(program) + "_mib"} }

// Meminfo is a /proc/meminfo field (Shmem, AnonPages...) at rest.
func Meminfo(field string) Figure { return Figure{"meminfo_" + sanitize(field) + "_mib"} }

// CPU is the CPU time a host program's running processes have used.
func CPU(program string) Figure { return Figure{"cpu_" + sanitize(program) + "_s"} }

// ChildCPU is the CPU time of the children a host program has waited
// for.
func ChildCPU(program string) Figure { return Figure{"cpu_children_" + sanitize(program) + "_s"} }

// CPUAll is the machine's CPU time of a kind (user, system...).
func CPUAll(kind string) Figure { return Figure{"cpu_all_" + sanitize(kind) + "_s"} }

// ExecTime is the median time to start a host program and see it exit.
func ExecTime(program string) Figure { return Figure{"exec_" + sanitize(program) + "_ms"} }

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

// Pods is the pod count of a growth step's figure ("pods_50_running_s":
// 50).
func (f Figure) Pods() (int, bool) {
	rest, ok := strings.CutPrefix(f.name, "pods_")
	if !ok {
		return 0, false
	}
	i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 || rest[i] != '_' {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:i])
	return n, err == nil
}

// Unit is what a figure is counted in.
type Unit string

const (
	Seconds      Unit = "s"
	MiB          Unit = "MiB"
	Milliseconds Unit = "ms"
	Count        Unit = "count"
)

// Unit is the figure's unit, from its name's ending.
func (f Figure) Unit() Unit {
	switch {
	case strings.HasSuffix(f.name, "_s"):
		return Seconds
	case strings.HasSuffix(f.name, "_mib"):
		return MiB
	case strings.HasSuffix(f.name, "_ms"):
		return Milliseconds
	}
	return Count
}

// Def describes a figure, or a family of figures a constructor makes.
type Def struct {
	Figure Figure // one figure, or
	// Family is the pattern of a family's names: {n} a growth step's
	// pod count, {program} a host program, {kind} a kind of CPU time.
	Family      string
	Unit        Unit
	Description string
	// Since is the date (YYYY-MM-DD) the benchmark began making the
	// figure; reports recorded before it lack it.
	Since string
}

// Name is the figure's name or the family's pattern.
func (d Def) Name() string {
	if d.Family != "" {
		return d.Family
	}
	return d.Figure.name
}

// Registry describes every figure a boot can have: the one list of
// them, which docs/benchmark.md's table explains at more length.
var Registry = []Def{
	{Figure: KernelStart, Unit: Seconds, Description: "console: the kernel's `Linux version` line, from QEMU start (all times are)"},
	{Figure: PID1Start, Unit: Seconds, Description: "console: kiOS's event=init-start; systemd's `Welcome to Debian`"},
	{Figure: ContainerdReady, Unit: Seconds, Description: "console: kiOS's event=containerd-ready; systemd's `Started containerd.service` (Type=notify: after READY)"},
	{Figure: KubeletStarted, Unit: Seconds, Description: "console: kiOS's event=service-started name=kubelet; systemd's `Started kubelet.service`"},
	{Figure: DHCPLease, Unit: Seconds, Description: "the lab's DHCP server: its first ACK to the node in this boot"},
	{Figure: NodeRegistered, Unit: Seconds, Description: "the API server, polled every 0.2 s: the Node exists"},
	{Figure: NodeReady, Unit: Seconds, Description: "the API server, polled every 0.2 s: the Node's Ready condition is True"},
	{Figure: FirstPodRunning, Unit: Seconds, Description: "a one-replica Deployment (the pause image) created at Ready: its pod Running"},
	{Figure: BootSettled, Unit: Seconds, Description: "kiOS: console event=hardware-done, the end of PID 1's boot work (the root image's move to disk last); the footprint is read after it", Since: "2026-12-08"},
	{Figure: RAMUsed, Unit: MiB, Description: "MemTotal - MemAvailable at rest (kiOS: after boot_settled_s), 15 s after the probe starts, minus the probe pod's own resident memory"},
	{Figure: HostProcesses, Unit: Count, Description: "user-space processes outside the probe's pod"},
	{Figure: HostRSS, Unit: MiB, Description: "the resident memory of those processes"},
	{Figure: Executables, Unit: Count, Description: "regular files with an execute bit under PID 1's root, outside the API and container stores"},
	{Figure: ImageSize, Unit: MiB, Description: "kiOS: the EFI; the baseline: its UKI plus the blocks of its root file system"},
	{Figure: HostMounts, Unit: Count, Description: "the mounts in PID 1's mount namespace"},
	{Family: "meminfo_{field}_mib", Unit: MiB, Description: "a /proc/meminfo field at rest, read with RAMUsed (Meminfo)", Since: "2026-12-07"},
	{Family: "rss_anon_{program}_mib", Unit: MiB, Description: "the anonymous part (RssAnon: heap, stacks; not reclaimable without swap) of a host program's resident memory (RSSAnon)", Since: "2026-12-07"},
	{Family: "rss_{program}_mib", Unit: MiB, Description: "the resident memory of a host program's processes (RSS: anonymous, file and shared pages)"},
	{Family: "cpu_all_{kind}_s", Unit: Seconds, Description: "the machine's CPU time since boot of one kind, from /proc/stat (CPUAll)"},
	{Family: "cpu_children_{program}_s", Unit: Seconds, Description: "the CPU time of the children a host program has waited for (ChildCPU)"},
	{Family: "cpu_{program}_s", Unit: Seconds, Description: "the CPU time a host program's running processes have used (CPU)"},
	{Family: "exec_{program}_ms", Unit: Milliseconds, Description: "the median time to start a host program and see it exit, from the probe (ExecTime)"},
	{Family: "pods_{n}_running_s", Unit: Seconds, Description: "a Deployment of pause pods scaled to n, 10 at a time: time until n are Running (PodsRunning)"},
	{Family: "pods_{n}_ram_used_mib", Unit: MiB, Description: "RAM in use with n pods (PodsRAMUsed)"},
	{Family: "pods_{n}_ram_per_pod_mib", Unit: MiB, Description: "at the largest step: RAM in use with n pods divided by n (PodsRAMPerPod)"},
	{Family: "pods_{n}_ram_added_per_pod_mib", Unit: MiB, Description: "at the largest step: the growth of RAM in use from rest to n pods, divided by n (PodsRAMAddedPerPod)"},
	{Family: "pods_{n}_host_mounts", Unit: Count, Description: "the mounts with n pods (AtPods)"},
	{Family: "pods_{n}_cpu_all_{kind}_s", Unit: Seconds, Description: "the machine's CPU time of one kind, read with n pods (AtPods of CPUAll)"},
	{Family: "pods_{n}_cpu_children_{program}_s", Unit: Seconds, Description: "a program's children's CPU time, read with n pods (AtPods of ChildCPU)"},
	{Family: "pods_{n}_cpu_{program}_s", Unit: Seconds, Description: "a program's CPU time, read with n pods (AtPods of CPU)"},
	{Figure: PodsRunSandbox, Unit: Seconds, Description: "containerd's log: the median RunPodSandbox call of the growth pods"},
	{Figure: PodsStartContainer, Unit: Seconds, Description: "containerd's log: the median StartContainer call of the growth pods"},
	{Figure: Shutdown, Unit: Seconds, Description: "a pod that takes 5 s to stop; the power button to QEMU's exit, the node at rest"},
}

var (
	patternsOnce sync.Once
	patterns     []*regexp.Regexp // Registry's, in its order
)

var placeholder = regexp.MustCompile(`\\\{(n|program|kind|field)\\\}`)

// Lookup returns the description of f, or of the family it belongs to.
func Lookup(f Figure) (Def, bool) {
	patternsOnce.Do(func() {
		for _, d := range Registry {
			re := placeholder.ReplaceAllStringFunc(regexp.QuoteMeta(d.Name()), func(p string) string {
				if p == `\{n\}` {
					return `[0-9]+`
				}
				return `[A-Za-z0-9_-]+`
			})
			patterns = append(patterns, regexp.MustCompile("^"+re+"$"))
		}
	})
	for _, d := range Registry {
		if d.Family == "" && d.Figure == f {
			return d, true
		}
	}
	for i, re := range patterns {
		if Registry[i].Family != "" && re.MatchString(f.name) {
			return Registry[i], true
		}
	}
	return Def{}, false
}
