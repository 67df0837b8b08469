package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"kios.dev/kios/internal/baseline"
	"kios.dev/kios/internal/compare"
	"kios.dev/kios/internal/image"
	"kios.dev/kios/internal/join"
	"kios.dev/kios/internal/lab"
	"kios.dev/kios/internal/up"
	"kios.dev/kios/internal/vm"
)

// ComparisonConfig is `kios bench --baseline`.
type ComparisonConfig struct {
	Out          string // report.md, report.json, timeline.png, runs.json, consoles
	Parts        string // out/parts
	Cache        string // build/cache
	BaselineRoot string // the debootstrap root (build/cache/baseline/root)
	ProbeArchive string // the benchprobe image archive
	Pairs        int
	Pods         []int
	MemoryMiB    int
	Log          Logger
}

// Comparison builds both nodes for one lab cluster, boots them in turn
// and writes the report.
func Comparison(c ComparisonConfig) (compare.Report, error) {
	var rep compare.Report
	labDir := filepath.Join(c.Out, "lab")
	os.RemoveAll(labDir)
	// Ctrl-C stops the boot under way and the lab, and leaves no VM,
	// control plane or network namespace behind.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env, err := up.StartEnv(ctx, labDir, c.Cache, c.Log.Printf)
	if err != nil {
		return rep, err
	}
	defer env.Close()
	for _, a := range []string{filepath.Join(c.Parts, "images", "pause.tar"), filepath.Join(c.Parts, "extra", "cni-installer.tar"), c.ProbeArchive} {
		var out bytes.Buffer
		if err := up.Load(labDir, a, &out); err != nil {
			return rep, fmt.Errorf("push %s to the lab registry: %w", a, err)
		}
	}
	joinFiles, err := kubeadmJoin(ctx, env)
	if err != nil {
		return rep, err
	}
	kiosEFI, err := buildKiOS(labDir, c.Parts, joinFiles)
	if err != nil {
		return rep, fmt.Errorf("build the kiOS node: %w", err)
	}
	kiosMiB, err := fileMiB(kiosEFI)
	if err != nil {
		return rep, err
	}
	base, err := baseline.Build(baseline.Options{Root: c.BaselineRoot, Parts: c.Parts, Cache: c.Cache,
		Files: map[string][]byte{"etc/containerd/certs.d/_default/hosts.toml": []byte(up.MirrorConfig)}})
	if err != nil {
		return rep, fmt.Errorf("build the baseline node: %w", err)
	}
	baseDisk := filepath.Join(labDir, "baseline-root.img")
	if err := base.Session(baseDisk, joinFiles); err != nil {
		return rep, err
	}
	c.Log.Printf("bench: kiOS %s (%.1f MiB), baseline %s + root disk (%.1f MiB)", kiosEFI, kiosMiB, base.EFI, float64(base.ImageBytes)/(1<<20))
	systems := [2]System{
		{Name: compare.KiOS, EFI: kiosEFI, NodeName: "kios-00000001", ImageMiB: kiosMiB, Console: KiOSConsole,
			Extra: []string{"-uuid", "00000001-6b1e-4a1c-9f00-000000000001"}},
		{Name: compare.Baseline, EFI: base.EFI, Disk: baseDisk, NodeName: baseline.Hostname,
			ImageMiB: float64(base.ImageBytes) / (1 << 20), Console: BaselineConsole},
	}
	runs, err := RunPairs(ctx, env, systems, PairsConfig{Pairs: c.Pairs, Pods: c.Pods, MemoryMiB: c.MemoryMiB,
		Consoles: filepath.Join(c.Out, "consoles"), Log: c.Log})
	if werr := writeJSON(filepath.Join(c.Out, "runs.json"), runs); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return rep, err
	}
	rep, err = compare.Compare(runs)
	if err != nil {
		return rep, err
	}
	accel := "TCG"
	if vm.KVMUsable() {
		accel = "KVM"
	}
	rep.Date = time.Now().UTC().Format("2006-01-02")
	rep.Machine = fmt.Sprintf("%s, %s, VMs of 2 vCPUs and %d MiB", machine(), accel, c.MemoryMiB)
	rep.Reproduce = "make bench"
	return rep, WriteComparison(rep, c.Out)
}

// buildKiOS builds the kiOS node with the same join result in its
// configuration (kios build --config: /etc/kubernetes/bootstrap-kubelet.conf
// and pki/ca.crt), so the kubelet starts in cluster mode as the
// baseline's does, the lab registry as a mirror, and the CNI installer
// primed as kios up primes it.
func buildKiOS(dir, parts string, joinFiles map[string][]byte) (string, error) {
	cfg := filepath.Join(dir, "bench-node-config")
	files := map[string][]byte{"etc/containerd/certs.d/_default/hosts.toml": []byte(up.MirrorConfig)}
	for p, b := range joinFiles {
		files[p] = b
	}
	for p, b := range files {
		dst := filepath.Join(cfg, strings.TrimPrefix(p, "etc/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return "", err
		}
	}
	efi := filepath.Join(dir, "bench-node.efi")
	err := image.Build(image.Options{Parts: parts, Config: cfg, Output: efi,
		Images: []string{filepath.Join(parts, "extra", "cni-installer.tar")}})
	return efi, err
}

// kubeadmJoin does what kubeadm join does before it starts the kubelet:
// discover the cluster with the token, pinned to the CA's hash, and
// write the bootstrap kubeconfig and the CA. The baseline's disk gets
// the result, so its boots start where a joined kubeadm node's do.
func kubeadmJoin(ctx context.Context, env *up.Env) (map[string][]byte, error) {
	p := join.Params{API: lab.Gateway.String() + ":6443", Token: env.Token, CAHash: env.CAHash, Dial: env.Lab.DialContext}
	// The controller manager signs cluster-info for a new token a little
	// after it is stored: retry for a while, as kubeadm join does.
	var r join.Result
	var err error
	for try := 0; try < 60; try++ {
		if r, err = join.Discover(ctx, p); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("discover the lab cluster: %w", err)
	}
	dir, err := os.MkdirTemp("", "kios-bench-join-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := join.Write(dir, r, env.Token); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for src, dst := range map[string]string{"bootstrap-kubelet.conf": "etc/kubernetes/bootstrap-kubelet.conf", "pki/ca.crt": "etc/kubernetes/pki/ca.crt"} {
		b, err := os.ReadFile(filepath.Join(dir, src))
		if err != nil {
			return nil, err
		}
		files[dst] = b
	}
	return files, nil
}

// ReportFrom writes the report again (e.g. with a newer table or chart)
// from the runs.json of an earlier comparison, keeping its date and
// machine line from the report.json beside it.
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
	if rep, err = compare.Compare(runs); err != nil {
		return rep, fmt.Errorf("%s: %w", runsFile, err)
	}
	var prev struct{ Date, Machine string }
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(runsFile), "report.json")); err == nil {
		json.Unmarshal(b, &prev)
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
