package bench

import (
	"os"
	"regexp"

	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/vm"
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
	// Console milestones: figure -> the first console line that marks
	// it.
	Console map[compare.Figure]*regexp.Regexp
	// ConsoleBestEffort: a milestone missing from the console is left
	// out of that boot's figures instead of failing it. systemd stops
	// printing unit status once the serial getty has the console, so a
	// unit that becomes ready after it leaves no line.
	ConsoleBestEffort bool
}

// Console milestones of each system. Both print the kernel's banner;
// kiOS's PID 1 logs fixed-format events, systemd its status lines.
var (
	KiOSConsole = map[compare.Figure]*regexp.Regexp{
		compare.KernelStart:     regexp.MustCompile(`Linux version `),
		compare.PID1Start:       regexp.MustCompile(`kios: t=[0-9.]+ event=init-start`),
		compare.ContainerdReady: regexp.MustCompile(`kios: t=[0-9.]+ event=containerd-ready`),
		compare.KubeletStarted:  regexp.MustCompile(`kios: t=[0-9.]+ event=service-started name=kubelet `),
	}
	// systemd reports containerd started once it has notified READY
	// (Type=notify) and the kubelet at exec (Type=simple); the status
	// line may be cut at the terminal width, inside the unit name.
	BaselineConsole = map[compare.Figure]*regexp.Regexp{
		compare.KernelStart:     regexp.MustCompile(`Linux version `),
		compare.PID1Start:       regexp.MustCompile(`Welcome to .*Debian`),
		compare.ContainerdReady: regexp.MustCompile(`Started .*containerd\.servic`),
		compare.KubeletStarted:  regexp.MustCompile(`Started .*kubelet\.servic`),
	}
)

// consoleFigures finds each milestone's first line.
func consoleFigures(s System, lines []vm.Line) compare.Figures {
	out := compare.Figures{}
	for key, re := range s.Console {
		for _, l := range lines {
			if re.MatchString(l.Text) {
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
