package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"kios.dev/kios/dev/baseline"
	"kios.dev/kios/dev/compare"
	"kios.dev/kios/internal/host/disk"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// ComparisonConfig is `kios bench --baseline`.
type ComparisonConfig struct {
	Out          string // report.md, report.json, timeline.png, runs.json, consoles
	Parts        string // out/parts
	Cache        string // build/cache
	BaselineRoot string // the debootstrap root (build/cache/baseline/root)
	ProbeArchive string // the benchprobe image archive
	Rounds       int    // boots of each system, one of each per round
	Pods         []int
	MemoryMiB    int
	// Only, when set, boots only these systems (compare.KiOS...): a run
	// to complete an earlier one whose other systems it keeps
	// (runs.json of both, then --report-from).
	Only []string
	// NoShutdown leaves the shutdown out (make bench-pods: measured by
	// make bench on a node at rest, which a node that ran 100 pods is not
	// for many minutes under emulation).
	NoShutdown bool
	Log        Logger
}

// Comparison builds the nodes for one lab cluster (kiOS on its disk,
// the same kiOS EFI alone, the baseline on its disk), boots them in
// turn and writes the report.
func Comparison(c ComparisonConfig) (compare.Report, error) {
	var rep compare.Report
	// Ctrl-C stops the boot under way and the lab, and leaves no VM,
	// control plane or network namespace behind.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env, systems, err := startLab(ctx, c)
	if err != nil {
		return rep, err
	}
	defer env.Close()
	if len(c.Only) > 0 {
		var kept []System
		for _, s := range systems {
			if slices.Contains(c.Only, s.Name) {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			return rep, fmt.Errorf("no system is named %v (the systems: %v)", c.Only, compare.Columns)
		}
		systems = kept
	}
	runs, err := RunRounds(ctx, env, systems, PairsConfig{Rounds: c.Rounds, Pods: c.Pods, MemoryMiB: c.MemoryMiB,
		Consoles: filepath.Join(c.Out, "consoles"), NoShutdown: c.NoShutdown, Log: c.Log})
	if werr := writeJSON(filepath.Join(c.Out, "runs.json"), runs); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return rep, err
	}
	if len(c.Only) > 0 && !(slices.Contains(c.Only, compare.KiOS) && slices.Contains(c.Only, compare.Baseline)) {
		return rep, ErrRunsOnly
	}
	rep, err = compare.Compare(runs)
	if err != nil {
		return rep, err
	}
	rep.Date = time.Now().UTC().Format("2006-01-02")
	rep.Machine = machineLine(c.MemoryMiB)
	rep.Reproduce = "make bench"
	return rep, WriteComparison(rep, c.Out)
}

// ErrRunsOnly says a comparison wrote runs.json and no report: its
// --systems left out kiOS or the baseline, so there are no ratios until
// its runs are merged with others (--report-from).
var ErrRunsOnly = errors.New("no report: --systems left out kios or baseline; merge runs.json with another run's and use --report-from")

// machineLine is the report's machine: this host, the accelerator and
// the VMs.
func machineLine(memoryMiB int) string {
	return fmt.Sprintf("%s, %s, VMs of 2 vCPUs and %d MiB", machine(), accel(), memoryMiB)
}

func accel() string {
	if vm.KVMUsable() {
		return "KVM"
	}
	return "TCG"
}

// startLab starts the lab cluster and builds the systems compared, all
// joined to it with the same kubeadm-style join result: kiOS on its own
// disk, the same kiOS EFI alone (RAM-only), the baseline on its disk.
func startLab(ctx context.Context, c ComparisonConfig) (*lab.Env, []System, error) {
	labDir := filepath.Join(c.Out, "lab")
	os.RemoveAll(labDir)
	env, err := lab.StartEnv(ctx, labDir, c.Cache, c.Log.Printf)
	if err != nil {
		return nil, nil, err
	}
	systems, err := buildSystems(ctx, env, labDir, c)
	if err != nil {
		env.Close()
		return nil, nil, err
	}
	return env, systems, nil
}

func buildSystems(ctx context.Context, env *lab.Env, labDir string, c ComparisonConfig) ([]System, error) {
	if err := baseline.LoadLabImages(labDir, c.Parts); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := lab.Load(labDir, c.ProbeArchive, &out); err != nil {
		return nil, fmt.Errorf("push %s to the lab registry: %w", c.ProbeArchive, err)
	}
	joinFiles, err := env.KubeadmJoin(ctx)
	if err != nil {
		return nil, err
	}
	// kiOS gets the same join result in its configuration (kios build
	// --config: /etc/kubernetes/...), so its kubelet starts in cluster
	// mode as the baseline's does.
	etc := map[string][]byte{}
	for p, b := range joinFiles {
		etc["kubernetes/"+p] = b
	}
	kiosEFI, err := lab.BuildNode(labDir, c.Parts, nil, etc)
	if err != nil {
		return nil, fmt.Errorf("build the kiOS node: %w", err)
	}
	kiosMiB, err := fileMiB(kiosEFI)
	if err != nil {
		return nil, err
	}
	base, err := baseline.BuildForLab(c.BaselineRoot, c.Parts, c.Cache)
	if err != nil {
		return nil, fmt.Errorf("build the baseline node: %w", err)
	}
	baseDisk := filepath.Join(labDir, "baseline-root.img")
	onDisk := map[string][]byte{}
	for p, b := range joinFiles {
		onDisk["etc/kubernetes/"+p] = b
	}
	if err := base.Session(baseDisk, onDisk); err != nil {
		return nil, err
	}
	// kiOS installed as the baseline is: its own disk (ESP with the same
	// EFI, data partition for the container store, logs and kubelet
	// state), the same size as the baseline's root disk.
	kiosDisk := filepath.Join(labDir, "kios-disk.img")
	if err := disk.Write(disk.Options{EFI: kiosEFI, Size: int64(baseline.DefaultDiskMiB) << 20, Output: kiosDisk}); err != nil {
		return nil, fmt.Errorf("kios disk for the benchmark: %w", err)
	}
	c.Log.Printf("bench: kiOS %s (%.1f MiB) alone and on %s, baseline %s + root disk (%.1f MiB)", kiosEFI, kiosMiB, kiosDisk, base.EFI, float64(base.ImageBytes)/(1<<20))
	uuid := []string{"-uuid", "00000001-6b1e-4a1c-9f00-000000000001"}
	return []System{
		{Name: compare.KiOS, BootDisk: kiosDisk, NodeName: "kios-00000001", ImageMiB: kiosMiB, Console: KiOSConsole, Extra: uuid, Settled: events.HardwareDone},
		{Name: compare.Baseline, EFI: base.EFI, Disk: baseDisk, NodeName: baseline.Hostname,
			ImageMiB: float64(base.ImageBytes) / (1 << 20), Console: BaselineConsole, ConsoleBestEffort: true},
		{Name: compare.KiOSRAMOnly, EFI: kiosEFI, NodeName: "kios-00000001", ImageMiB: kiosMiB, Console: KiOSConsole, Extra: uuid, Settled: events.HardwareDone},
	}, nil
}

// ReportFrom writes the report again (e.g. with a newer table or chart)
// from the runs.json of an earlier comparison, keeping its date and
// machine line from the report.json beside it. Of a comparison cut short
// (Ctrl-C), which leaves runs.json but no report, it reports the
// complete rounds.
func ReportFrom(runsFile, out string) (compare.Report, error) {
	var rep compare.Report
	b, err := os.ReadFile(runsFile)
	if err != nil {
		return rep, err
	}
	var runs []compare.Run
	if err := json.Unmarshal(b, &runs); err != nil {
		return rep, fmt.Errorf("%s: %w", runsFile, err)
	}
	if rep, err = compare.Compare(compare.CompleteRounds(runs)); err != nil {
		return rep, fmt.Errorf("%s: %w", runsFile, err)
	}
	var prev struct{ Date, Machine string }
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(runsFile), "report.json")); err == nil {
		json.Unmarshal(b, &prev)
	} else if st, err := os.Stat(runsFile); err == nil {
		// A run cut short wrote runs.json but no report: it ran here,
		// with the default VM.
		prev.Date = st.ModTime().UTC().Format("2006-01-02")
		prev.Machine = machineLine(4096)
	}
	rep.Date, rep.Machine, rep.Reproduce = prev.Date, prev.Machine, "make bench"
	return rep, WriteComparison(rep, out)
}

// WriteComparison writes report.md, report.json and timeline.png.
func WriteComparison(r compare.Report, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var md bytes.Buffer
	r.Markdown(&md)
	if err := os.WriteFile(filepath.Join(out, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	var js bytes.Buffer
	if err := r.JSON(&js); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "report.json"), js.Bytes(), 0o644); err != nil {
		return err
	}
	return r.Chart(filepath.Join(out, "timeline.png"))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
