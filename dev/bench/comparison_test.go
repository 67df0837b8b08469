package bench

import (
	"encoding/json"
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
		want    map[string]float64
	}{
		{"kiOS", System{Console: KiOSConsole}, map[float64]string{
			7.0:  "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
			9.5:  "[    2.512000] kios: t=2.501 event=init-start version=dev",
			11.0: "[    4.010000] kios: t=4.001 event=containerd-ready took=1.2s",
			11.1: "[    4.110000] kios: t=4.101 event=service-started name=kubelet pid=301 restarts=0",
			30.0: "[   23.000000] kios: t=23.000 event=service-started name=kubelet pid=901 restarts=1",
		}, map[string]float64{"kernel_start_s": 7, "pid1_start_s": 9.5, "containerd_ready_s": 11, "kubelet_started_s": 11.1}},
		{"baseline", System{Console: BaselineConsole}, map[float64]string{
			6.9:  "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
			12.5: "Welcome to \x1b[1mDebian GNU/Linux 12 (bookworm)\x1b[0m!",
			15.0: "         Starting \x1b[0;1;39mcontainerd.servic… - containerd container runtime...",
			18.3: "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mkubelet.service\x1b[0…ubelet: The Kubernetes Node Agent.",
			20.1: "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mcontainerd.service…0m - containerd container runtime.",
		}, map[string]float64{"kernel_start_s": 6.9, "pid1_start_s": 12.5, "containerd_ready_s": 20.1, "kubelet_started_s": 18.3}},
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

func TestAddPerPod(t *testing.T) {
	tests := []struct {
		name string
		figs map[string]float64
		pods []int
		want map[string]float64
	}{
		{"largest step", map[string]float64{"ram_used_mib": 300, "pods_10_ram_used_mib": 350, "pods_100_ram_used_mib": 1300}, []int{10, 100},
			map[string]float64{"ram_used_mib": 300, "pods_10_ram_used_mib": 350, "pods_100_ram_used_mib": 1300,
				"pods_100_ram_per_pod_mib": 13, "pods_100_ram_added_per_pod_mib": 10}},
		{"no growth", map[string]float64{"ram_used_mib": 300}, nil, map[string]float64{"ram_used_mib": 300}},
		{"step not measured", map[string]float64{"ram_used_mib": 300}, []int{10}, map[string]float64{"ram_used_mib": 300}},
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
		Processes: []probe.Process{{PID: 1, Name: "init", RSSKiB: 20 * 1024, CPUTicks: 150}, {PID: 7, Name: "containerd-shim", RSSKiB: 1024, CPUTicks: 20, ChildCPUTicks: 30},
			{PID: 8, Name: "containerd-shim", RSSKiB: 2048, CPUTicks: 5, ChildCPUTicks: 12}, {PID: 9, Name: "(sd-pam)", RSSKiB: 512}}}
	figs := map[string]float64{}
	addFootprint(figs, f)
	want := map[string]float64{"ram_used_mib": 300, "host_processes": 4, "executables": 9, "host_rss_mib": 23.5,
		"rss_init_mib": 20, "rss_containerd-shim_mib": 3, "rss__sd-pam__mib": 0.5,
		"cpu_init_s": 1.5, "cpu_containerd-shim_s": 0.25, "cpu__sd-pam__s": 0, "cpu_children_containerd-shim_s": 0.42,
		"host_mounts": 31, "cpu_all_user_s": 2.5, "cpu_all_system_s": 1}
	if diff := cmp.Diff(want, figs); diff != "" {
		t.Errorf("figures (-want +got):\n%s", diff)
	}
}

// The report a comparison writes, from figures shaped as boots give
// them: the stable keys of report.json, the table and the chart.
func TestWriteComparison(t *testing.T) {
	var runs []compare.Run
	for i := 0; i < 5; i++ {
		k := map[string]float64{"kernel_start_s": 7, "pid1_start_s": 9, "containerd_ready_s": 11, "kubelet_started_s": 11.1,
			"node_registered_s": 15, "node_ready_s": 18 + float64(i), "first_pod_running_s": 20, "ram_used_mib": 400, "image_mib": 60,
			"pods_10_running_s": 12, "shutdown_s": 9}
		b := map[string]float64{"kernel_start_s": 7, "pid1_start_s": 12, "containerd_ready_s": 20, "kubelet_started_s": 18,
			"node_registered_s": 22, "node_ready_s": 27, "first_pod_running_s": 30, "ram_used_mib": 350, "image_mib": 870,
			"pods_10_running_s": 17, "shutdown_s": 14}
		ram := map[string]float64{"kernel_start_s": 7, "pid1_start_s": 9, "containerd_ready_s": 10.5, "kubelet_started_s": 10.6,
			"node_registered_s": 14, "node_ready_s": 16.2, "first_pod_running_s": 19, "ram_used_mib": 420, "image_mib": 60,
			"pods_10_running_s": 11, "shutdown_s": 8}
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
