package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/dev/bench/probe"
	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/vm"
)

func lines(texts map[float64]string) []vm.Line {
	var out []vm.Line
	for at, text := range texts {
		out = append(out, vm.Line{At: time.Duration(at * float64(time.Second)), Text: text})
	}
	// In time order, as the console delivers them.
	sort.Slice(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// Console lines as each system prints them (the baseline's from a real
// boot: systemd's status lines carry colour codes and are cut at the
// terminal width).
func TestConsoleFigures(t *testing.T) {
	tests := []struct {
		name    string
		system  System
		console map[float64]string
		want    compare.Figures
	}{
		{"kiOS", System{Console: KiOSConsole}, map[float64]string{
			7.0:  "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
			9.5:  "[    2.512000] kios: t=2.501 event=init-start version=dev",
			11.0: "[    4.010000] kios: t=4.001 event=containerd-ready took=1.2s",
			11.1: "[    4.110000] kios: t=4.101 event=service-started name=kubelet pid=301 restarts=0",
			30.0: "[   23.000000] kios: t=23.000 event=service-started name=kubelet pid=901 restarts=1",
		}, compare.Figures{compare.KernelStart: 7, compare.PID1Start: 9.5, compare.ContainerdReady: 11, compare.KubeletStarted: 11.1}},
		{"baseline", System{Console: BaselineConsole}, map[float64]string{
			6.9:  "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
			12.5: "Welcome to \x1b[1mDebian GNU/Linux 12 (bookworm)\x1b[0m!",
			15.0: "         Starting \x1b[0;1;39mcontainerd.servic… - containerd container runtime...",
			18.3: "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mkubelet.service\x1b[0…ubelet: The Kubernetes Node Agent.",
			20.1: "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mcontainerd.service…0m - containerd container runtime.",
		}, compare.Figures{compare.KernelStart: 6.9, compare.PID1Start: 12.5, compare.ContainerdReady: 20.1, compare.KubeletStarted: 18.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := consoleFigures(tt.system, lines(tt.console))
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
				t.Errorf("figures (-want +got):\n%s", diff)
			}
		})
	}
}

// A milestone missing from the console is named in the error by what
// marks it.
func TestMilestoneString(t *testing.T) {
	for _, tt := range []struct {
		m    Milestone
		want string
	}{
		{KiOSConsole[compare.KubeletStarted], "event=service-started name=kubelet"},
		{BaselineConsole[compare.KubeletStarted], `Started .*kubelet\.servic`},
	} {
		if got, want := fmt.Sprint(tt.m), tt.want; got != want {
			t.Errorf("milestone %q, want %q", got, want)
		}
	}
}

func TestAddPerPod(t *testing.T) {
	tests := []struct {
		name string
		figs compare.Figures
		pods []int
		want compare.Figures
	}{
		{"largest step", compare.Figures{compare.RAMUsed: 300, compare.PodsRAMUsed(10): 350, compare.PodsRAMUsed(100): 1300}, []int{10, 100},
			compare.Figures{compare.RAMUsed: 300, compare.PodsRAMUsed(10): 350, compare.PodsRAMUsed(100): 1300,
				compare.PodsRAMPerPod(100): 13, compare.PodsRAMAddedPerPod(100): 10}},
		{"no growth", compare.Figures{compare.RAMUsed: 300}, nil, compare.Figures{compare.RAMUsed: 300}},
		{"step not measured", compare.Figures{compare.RAMUsed: 300}, []int{10}, compare.Figures{compare.RAMUsed: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addPerPod(tt.figs, tt.pods)
			if diff := cmp.Diff(tt.want, tt.figs); diff != "" {
				t.Errorf("figures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddFootprint(t *testing.T) {
	f := probe.Footprint{MemTotalKiB: 4 << 20, MemAvailableKiB: 4<<20 - 300*1024 - 10*1024, ProbeRSSKiB: 10 * 1024, Executables: 9,
		HostMounts: 31, CPU: map[string]int64{"user": 250, "system": 100, "idle": 5000},
		Meminfo: map[string]int64{"Shmem": 1024, "AnonPages": 2560},
		Processes: []probe.Process{{PID: 1, Name: "init", RSSKiB: 20 * 1024, RSSAnonKiB: 5 * 1024, CPUTicks: 150}, {PID: 7, Name: "containerd-shim", RSSKiB: 1024, RSSAnonKiB: 512, CPUTicks: 20, ChildCPUTicks: 30},
			{PID: 8, Name: "containerd-shim", RSSKiB: 2048, RSSAnonKiB: 1024, CPUTicks: 5, ChildCPUTicks: 12}, {PID: 9, Name: "(sd-pam)", RSSKiB: 512}}}
	figs := compare.Figures{}
	addFootprint(figs, f)
	want := compare.Figures{compare.RAMUsed: 300, compare.HostProcesses: 4, compare.Executables: 9, compare.HostRSS: 23.5,
		compare.RSS("init"): 20, compare.RSS("containerd-shim"): 3, compare.RSS("(sd-pam)"): 0.5,
		compare.RSSAnon("init"): 5, compare.RSSAnon("containerd-shim"): 1.5, compare.RSSAnon("(sd-pam)"): 0,
		compare.Meminfo("Shmem"): 1, compare.Meminfo("AnonPages"): 2.5,
		compare.CPU("init"): 1.5, compare.CPU("containerd-shim"): 0.25, compare.CPU("(sd-pam)"): 0, compare.ChildCPU("containerd-shim"): 0.42,
		compare.HostMounts: 31, compare.CPUAll("user"): 2.5, compare.CPUAll("system"): 1}
	if diff := cmp.Diff(want, figs); diff != "" {
		t.Errorf("figures (-want +got):\n%s", diff)
	}
}

// The report a comparison writes, from figures shaped as boots give
// them: the stable keys of report.json, the table and the chart.
func TestWriteComparison(t *testing.T) {
	var runs []compare.Run
	for i := 0; i < 5; i++ {
		k := compare.Figures{compare.KernelStart: 7, compare.PID1Start: 9, compare.ContainerdReady: 11, compare.KubeletStarted: 11.1,
			compare.NodeRegistered: 15, compare.NodeReady: 18 + float64(i), compare.FirstPodRunning: 20, compare.RAMUsed: 400, compare.ImageSize: 60,
			compare.PodsRunning(10): 12, compare.Shutdown: 9}
		b := compare.Figures{compare.KernelStart: 7, compare.PID1Start: 12, compare.ContainerdReady: 20, compare.KubeletStarted: 18,
			compare.NodeRegistered: 22, compare.NodeReady: 27, compare.FirstPodRunning: 30, compare.RAMUsed: 350, compare.ImageSize: 870,
			compare.PodsRunning(10): 17, compare.Shutdown: 14}
		ram := compare.Figures{compare.KernelStart: 7, compare.PID1Start: 9, compare.ContainerdReady: 10.5, compare.KubeletStarted: 10.6,
			compare.NodeRegistered: 14, compare.NodeReady: 16.2, compare.FirstPodRunning: 19, compare.RAMUsed: 420, compare.ImageSize: 60,
			compare.PodsRunning(10): 11, compare.Shutdown: 8}
		runs = append(runs, compare.Run{System: compare.KiOS, Figures: k}, compare.Run{System: compare.Baseline, Figures: b},
			compare.Run{System: compare.KiOSRAMOnly, Figures: ram})
	}
	r, err := compare.Compare(runs)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := WriteComparison(r, out); err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]float64{"kios.node_ready_s": 20, "baseline.node_ready_s": 27, "ratio.node_ready": 20.0 / 27,
		"kios.ram_used_mib": 400, "baseline.ram_used_mib": 350, "ratio.ram_used": 400.0 / 350, "kios.image_mib": 60,
		"baseline.image_mib": 870, "runs": 5, "kios_ram_only.node_ready_s": 16.2, "ratio_ram_only.node_ready": 16.2 / 27,
		"kios_ram_only.ram_used_mib": 420, "ratio_ram_only.ram_used": 420.0 / 350, "spread.kios.node_ready_s": 4} {
		got, ok := js[key].(float64)
		if !ok || got-want > 0.001 || want-got > 0.001 {
			t.Errorf("report.json %s = %v, want %v", key, js[key], want)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| figure | kiOS (disk) | kiOS (RAM-only) | baseline | disk / baseline | RAM-only / baseline |",
		"| node_ready_s | 20.00 s (±2.00) | 16.20 s (±0.00) | 27.00 s (±0.00) | 0.74 (±0.07) | 0.60 (±0.00) |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{"report.md", "timeline.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSurplus(t *testing.T) {
	fp := func(names ...string) probe.Footprint {
		var f probe.Footprint
		for i, n := range names {
			f.Processes = append(f.Processes, probe.Process{PID: i + 1, Name: n})
		}
		return f
	}
	rest := fp("systemd", "containerd-shim", "pause", "pause")
	for _, tc := range []struct {
		name string
		now  probe.Footprint
		want map[string]int
	}{
		{"at rest", rest, map[string]int{}},
		{"a pod's shim and pause left", fp("systemd", "containerd-shim", "containerd-shim", "pause", "pause", "pause"), map[string]int{"containerd-shim": 1, "pause": 1}},
		{"a helper that did not run at rest", fp("systemd", "systemd-userwor", "containerd-shim", "pause", "pause"), map[string]int{}},
		{"fewer than at rest", fp("systemd", "pause"), map[string]int{}},
	} {
		if diff := cmp.Diff(tc.want, surplus(rest, tc.now)); diff != "" {
			t.Errorf("%s: surplus (-want +got):\n%s", tc.name, diff)
		}
	}
}
