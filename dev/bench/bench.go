// Package bench boots an image several times and reports the median
// boot timeline, the image size and the memory in use after boot.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// Run is one boot's figures.
type Run struct {
	Host map[string]float64 `json:"host_s"` // milestone -> seconds from QEMU start
	// Guest uptimes (seconds since the kernel started), from PID 1's lines.
	InitStart   float64 `json:"init_start_s"`
	KubeletExec float64 `json:"kubelet_exec_s"`
	FirstPod    float64 `json:"first_pod_s"`
	RAMUsedMiB  float64 `json:"ram_used_mib"`
}

// Report is what `kios bench` prints and writes.
type Report struct {
	Date     string             `json:"date"`
	Machine  string             `json:"machine"`
	EFI      string             `json:"efi"`
	EFIMiB   float64            `json:"efi_mib"`
	Runs     []Run              `json:"runs"`
	Median   map[string]float64 `json:"median"`
	Spread   map[string]float64 `json:"spread"` // max - min
	Accel    string             `json:"accel"`
	MemoryMB int                `json:"vm_memory_mib"`
}

// PID 1's events a boot's figures come from: the first of each.
var (
	kubeletExec = events.ServiceStarted.With("name", "kubelet", "restarts", "0")
	memInUse    = events.Meminfo.With("used_mib", "*")
)

// Logger reports progress.
type Logger interface {
	Printf(format string, args ...any)
}

// Bench boots efi n times, one VM at a time.
func Bench(efi string, n int, log Logger) (Report, error) {
	st, err := os.Stat(efi)
	if err != nil {
		return Report{}, err
	}
	r := Report{Date: time.Now().UTC().Format("2006-01-02"), EFI: efi, EFIMiB: float64(st.Size()) / (1 << 20),
		Machine: machine(), Accel: "tcg", MemoryMB: 2048}
	if vm.KVMUsable() {
		r.Accel = "kvm"
	}
	for i := 0; i < n; i++ {
		run, err := boot(efi)
		if err != nil {
			return r, fmt.Errorf("boot %d: %w", i+1, err)
		}
		log.Printf("bench: boot %d/%d: kernel start %.1fs, first static pod %.1fs (QEMU clock); init->kubelet %.2fs; RAM used %.0f MiB",
			i+1, n, run.Host[kernelStart], run.Host[firstStaticPod], run.KubeletExec-run.InitStart, run.RAMUsedMiB)
		r.Runs = append(r.Runs, run)
	}
	r.Median, r.Spread = summarize(r.Runs)
	return r, nil
}

func boot(efi string) (Run, error) {
	dir, err := os.MkdirTemp("", "kios-bench-")
	if err != nil {
		return Run{}, err
	}
	defer os.RemoveAll(dir)
	v, err := vm.Start(vm.Config{EFI: efi, Dir: dir, MemoryMiB: 2048, CPUs: 2})
	if err != nil {
		return Run{}, err
	}
	defer v.Stop(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, _, err := v.WaitEvent(ctx, memInUse, 0); err != nil {
		return Run{}, err
	}
	return runOf(v.Lines()), nil
}

// runOf reads a boot's figures from its console: the milestones from
// QEMU start, and PID 1's own clock at its events.
func runOf(lines []vm.Line) Run {
	run := Run{Host: map[string]float64{}}
	for k, d := range vm.TimelineOf(lines).At {
		run.Host[k] = d.Seconds()
	}
	var text []string
	for _, l := range lines {
		text = append(text, l.Text)
	}
	// The first event m matches among PID 1's lines (those with its
	// clock, t=).
	first := func(m events.Matcher) (events.Event, bool) {
		for _, e := range events.Find(text, m) {
			if e.T >= 0 {
				return e, true
			}
		}
		return events.Event{}, false
	}
	if e, ok := first(events.InitStart); ok {
		run.InitStart = e.T
	}
	if e, ok := first(kubeletExec); ok {
		run.KubeletExec = e.T
	}
	if e, ok := first(events.ContainerStarted); ok {
		run.FirstPod = e.T
	}
	if e, ok := first(memInUse); ok {
		run.RAMUsedMiB, _ = e.Float("used_mib")
	}
	return run
}

// The vm.Milestones each boot's progress line shows.
const (
	kernelStart    = "kernel start"
	firstStaticPod = "first static pod running"
)

// The keys of boot.json's median and spread: one per host milestone
// (hostKey) and these.
const (
	initToKubelet    = "init start -> kubelet exec"
	kernelToFirstPod = "kernel start -> first static pod"
	ramUsed          = "ram used (MiB)"
)

// hostKey is the key of a vm.Milestones milestone, from QEMU start.
func hostKey(milestone string) string { return "host: " + milestone }

func summarize(runs []Run) (median, spread map[string]float64) {
	series := map[string][]float64{}
	add := func(k string, v float64) { series[k] = append(series[k], v) }
	for _, r := range runs {
		for k, v := range r.Host {
			add(hostKey(k), v)
		}
		add(initToKubelet, r.KubeletExec-r.InitStart)
		add(kernelToFirstPod, r.FirstPod)
		add(ramUsed, r.RAMUsedMiB)
	}
	median, spread = map[string]float64{}, map[string]float64{}
	for k, v := range series {
		sort.Float64s(v)
		median[k] = medianOf(v)
		spread[k] = v[len(v)-1] - v[0]
	}
	return median, spread
}

// medianOf is the median of v (0 for none).
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func machine() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kib int64
	fmt.Sscanf(string(b), "MemTotal: %d kB", &kib)
	cpus := 0
	if c, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus = len(regexp.MustCompile(`(?m)^processor\s*:`).FindAll(c, -1))
	}
	return fmt.Sprintf("%d cores, %.0f GiB RAM", cpus, float64(kib)/(1<<20))
}

// Print writes the report as a table with the targets.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "kiOS benchmark, %s, %s, %s, %d boots, VM %d MiB / 2 vCPUs\n", r.Date, r.Machine, r.Accel, len(r.Runs), r.MemoryMB)
	fmt.Fprintf(w, "  %-40s %8s %8s\n", "figure", "median", "spread")
	keys := make([]string, 0, len(r.Median))
	for k := range r.Median {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return order(keys[i]) < order(keys[j]) || (order(keys[i]) == order(keys[j]) && keys[i] < keys[j])
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %8.2f %8.2f\n", k, r.Median[k], r.Spread[k])
	}
	fmt.Fprintf(w, "  %-40s %8.1f\n", "EFI size (MiB)", r.EFIMiB)
	fmt.Fprintln(w, "targets (TCG, 2 cores): init->kubelet <= 2 s, kernel->first pod <= 20 s, EFI <= 60 MB, RAM <= 350 MiB")
}

func order(k string) int {
	for i, m := range vm.Milestones {
		if k == hostKey(m.Name) {
			return i
		}
	}
	return 100
}

// Write saves the report as JSON under dir.
func (r Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "boot.json"), append(b, '\n'), 0o644)
}
