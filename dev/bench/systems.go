// This file describes the systems compared: what each boots, and how its
// console shows the boot's milestones.

package bench

import (
	"os"
	"regexp"

	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// System is one side of the comparison: what to boot and how its
// console shows the boot's milestones.
type System struct {
	Name string // compare.KiOS, compare.KiOSRAMOnly or compare.Baseline
	EFI  string // boot this EFI file from a virtual FAT disk
	// BootDisk, when set instead of EFI, is a whole disk image the
	// firmware boots from (kios disk); each boot gets a fresh
	// copy-on-write overlay of it.
	BootDisk string
	NodeName string
	// ImageMiB is what the node is made of: the EFI, or for the
	// baseline its UKI plus the root file system.
	ImageMiB float64
	// Disk, when set, is the root disk; each boot gets a fresh
	// copy-on-write overlay of it.
	Disk string
	// Extra QEMU arguments (kiOS: the firmware UUID that names it).
	Extra []string
	// Seeds are more disks (a NoCloud volume); Cmdline, with Loader,
	// boots the EFI with that kernel command line (vm.Config).
	Seeds           []string
	Cmdline, Loader string
	// Console milestones: figure -> what marks it on the console (its
	// first line).
	Console map[compare.Figure]Milestone
	// ConsoleBestEffort: a milestone missing from the console is left
	// out of that boot's figures instead of failing it. systemd stops
	// printing unit status once the serial getty has the console, so a
	// unit that becomes ready after it leaves no line.
	ConsoleBestEffort bool
	// Settled, when set, marks the end of the system's own boot work;
	// the footprint is read after it (kiOS: hardware-done, which
	// follows the root image's move to disk).
	Settled events.Matcher
}

// A Milestone is how a console shows one point of the boot: an event
// kiOS's PID 1 logs (EventMilestone), or a line of another program's
// (LineMilestone: the kernel's banner, systemd's status lines).
type Milestone interface {
	// Marks tells whether a console line marks the milestone.
	Marks(line string) bool
	String() string
}

// EventMilestone is marked by the PID 1 event m matches.
func EventMilestone(m events.Matcher) Milestone { return eventMilestone{m} }

type eventMilestone struct{ events.Matcher }

func (m eventMilestone) Marks(line string) bool {
	e, ok := events.Parse(line)
	return ok && m.Match(e)
}

// LineMilestone is marked by a line that matches the regular expression
// pattern.
func LineMilestone(pattern string) Milestone { return lineMilestone{regexp.MustCompile(pattern)} }

type lineMilestone struct{ *regexp.Regexp }

func (m lineMilestone) Marks(line string) bool { return m.MatchString(line) }

// Console milestones of each system. Both print the kernel's banner;
// kiOS's PID 1 logs events, systemd its status lines.
var (
	KiOSConsole = map[compare.Figure]Milestone{
		compare.KernelStart:     LineMilestone(`Linux version `),
		compare.PID1Start:       EventMilestone(events.InitStart),
		compare.ContainerdReady: EventMilestone(events.ContainerdReady),
		compare.KubeletStarted:  EventMilestone(events.ServiceStarted.With("name", "kubelet")),
	}
	// systemd reports containerd started once it has notified READY
	// (Type=notify) and the kubelet at exec (Type=simple); the status
	// line may be cut at the terminal width, inside the unit name.
	BaselineConsole = map[compare.Figure]Milestone{
		compare.KernelStart:     LineMilestone(`Linux version `),
		compare.PID1Start:       LineMilestone(`Welcome to .*Debian`),
		compare.ContainerdReady: LineMilestone(`Started .*containerd\.servic`),
		compare.KubeletStarted:  LineMilestone(`Started .*kubelet\.servic`),
	}
)

// consoleFigures finds each milestone's first line.
func consoleFigures(s System, lines []vm.Line) compare.Figures {
	out := compare.Figures{}
	for key, m := range s.Console {
		for _, l := range lines {
			if m.Marks(l.Text) {
				out[key] = l.At.Seconds()
				break
			}
		}
	}
	return out
}

func fileMiB(p string) (float64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return float64(st.Size()) / (1 << 20), nil
}
