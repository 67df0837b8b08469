package compare

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Registry {
		name := d.Name()
		if (d.Family == "") == (d.Figure == Figure{}) {
			t.Errorf("%q: a Def is one figure or one family, not both or neither", name)
		}
		if d.Unit == "" || strings.TrimSpace(d.Description) == "" {
			t.Errorf("%q: no unit or no description", name)
		}
		if seen[name] {
			t.Errorf("%q registered twice", name)
		}
		seen[name] = true
		// The name's ending is the unit the report shows.
		if u := (Figure{name}).Unit(); u != d.Unit {
			t.Errorf("%q is registered in %s, its name says %s", name, d.Unit, u)
		}
		if d.Family != "" && !strings.Contains(d.Family, "{") {
			t.Errorf("family %q has no {n}, {program}, {kind} or {field}", d.Family)
		}
	}
}

// Every figure the benchmark makes is registered: the named ones, and
// what each constructor makes, in the family that describes it.
func TestFiguresAreRegistered(t *testing.T) {
	for _, d := range Registry {
		if d.Family != "" {
			continue
		}
		if got, ok := Lookup(d.Figure); !ok || got.Figure != d.Figure {
			t.Errorf("Lookup(%s) = %+v, %v", d.Figure, got, ok)
		}
	}
	for _, tt := range []struct {
		f      Figure
		name   string
		family string
	}{
		{PodsRunning(10), "pods_10_running_s", "pods_{n}_running_s"},
		{PodsRAMUsed(50), "pods_50_ram_used_mib", "pods_{n}_ram_used_mib"},
		{PodsRAMPerPod(100), "pods_100_ram_per_pod_mib", "pods_{n}_ram_per_pod_mib"},
		{PodsRAMAddedPerPod(100), "pods_100_ram_added_per_pod_mib", "pods_{n}_ram_added_per_pod_mib"},
		{RSS("containerd-shim"), "rss_containerd-shim_mib", "rss_{program}_mib"},
		{RSS("(sd-pam)"), "rss__sd-pam__mib", "rss_{program}_mib"},
		{RSSAnon("containerd"), "rss_anon_containerd_mib", "rss_anon_{program}_mib"},
		{Meminfo("Shmem"), "meminfo_Shmem_mib", "meminfo_{field}_mib"},
		{Meminfo("Active(file)"), "meminfo_Active_file__mib", "meminfo_{field}_mib"},
		{CPU("kubelet"), "cpu_kubelet_s", "cpu_{program}_s"},
		{ChildCPU("init"), "cpu_children_init_s", "cpu_children_{program}_s"},
		{CPUAll("softirq"), "cpu_all_softirq_s", "cpu_all_{kind}_s"},
		{ExecTime("runc_copy"), "exec_runc_copy_ms", "exec_{program}_ms"},
		{AtPods(10, HostMounts), "pods_10_host_mounts", "pods_{n}_host_mounts"},
		{AtPods(10, CPU("init")), "pods_10_cpu_init_s", "pods_{n}_cpu_{program}_s"},
		{AtPods(10, ChildCPU("init")), "pods_10_cpu_children_init_s", "pods_{n}_cpu_children_{program}_s"},
		{AtPods(10, CPUAll("user")), "pods_10_cpu_all_user_s", "pods_{n}_cpu_all_{kind}_s"},
		{AtPods(0, CPUAll("user")), "cpu_all_user_s", "cpu_all_{kind}_s"},
	} {
		if tt.f.String() != tt.name {
			t.Errorf("figure %q, want %q", tt.f, tt.name)
		}
		if d, ok := Lookup(tt.f); !ok || d.Family != tt.family {
			t.Errorf("Lookup(%s) = %q, %v; want the family %q", tt.f, d.Name(), ok, tt.family)
		}
	}
	for _, name := range []string{"node_redy_s", "pods_x_running_s", "pods_10_node_ready_s", "rss_a b_mib"} {
		if d, ok := Lookup(Figure{name}); ok {
			t.Errorf("Lookup(%q) = %q, want none", name, d.Name())
		}
	}
}

func TestPods(t *testing.T) {
	for _, tt := range []struct {
		f  Figure
		n  int
		ok bool
	}{
		{PodsRunning(50), 50, true},
		{AtPods(100, CPU("init")), 100, true},
		{PodsRunSandbox, 0, false},
		{NodeReady, 0, false},
	} {
		if n, ok := tt.f.Pods(); n != tt.n || ok != tt.ok {
			t.Errorf("%s.Pods() = %d, %v; want %d, %v", tt.f, n, ok, tt.n, tt.ok)
		}
	}
}

// results is where recorded runs are kept.
const results = "../../bench/results"

// recorded is the newest full comparison recorded (docs/benchmark.md
// cites it): one round of the three systems grown to 10 pods.
const recorded = results + "/2026-12-04"

// A recorded comparison's runs.json, read with the registered figures,
// gives its report.json and report.md again, byte for byte: the keys
// and the text other runs are compared with have not moved.
func TestRecordedReportsAgain(t *testing.T) {
	files, err := filepath.Glob(results + "/*/runs.json")
	if err != nil {
		t.Fatal(err)
	}
	pods, _ := filepath.Glob(results + "/pods/*/runs.json")
	files = append(append(files, results+"/runs.json"), pods...)
	again := 0
	for _, f := range files {
		dir := filepath.Dir(f)
		want, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil {
			continue // runs of one system, no report
		}
		r := readRecorded(t, dir)
		var js bytes.Buffer
		if err := r.JSON(&js); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(js.Bytes(), want) {
			t.Errorf("%s: report.json written again differs from the recorded one", dir)
		}
		again++
	}
	if again < 5 {
		t.Errorf("%d recorded reports found under %s, want at least 5", again, results)
	}
	// runs.json as the benchmark writes it (some recorded ones were
	// merged by hand), and report.md, whose layout was last changed
	// before this run.
	b, err := os.ReadFile(filepath.Join(recorded, "runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var runs []Run
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(js, '\n'), b) {
		t.Errorf("%s: runs.json written again differs from the recorded one", recorded)
	}
	want, err := os.ReadFile(filepath.Join(recorded, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	readRecorded(t, recorded).Markdown(&md)
	if !bytes.Equal(md.Bytes(), want) {
		t.Errorf("%s: report.md written again differs from the recorded one:\n%s", recorded, md.String())
	}
}

// readRecorded compares a recorded run's runs.json as `kios-dev bench
// --report-from` does.
func readRecorded(t *testing.T, dir string) Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var runs []Run
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	r, err := Compare(CompleteRounds(runs))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var prev struct{ Date, Machine string }
	if b, err := os.ReadFile(filepath.Join(dir, "report.json")); err == nil {
		json.Unmarshal(b, &prev)
	}
	r.Date, r.Machine, r.Reproduce = prev.Date, prev.Machine, "make bench"
	return r
}

// The recorded report.json has every figure the benchmark made on its
// date, and nothing this registry does not describe.
func TestRecordedReportHasEveryFigure(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(recorded, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	kios := map[string]bool{} // registry names seen in the kiOS column
	for key := range js {
		sys, name, ok := strings.Cut(key, ".")
		if !ok || (sys != KiOS && sys != KiOSRAMOnly && sys != Baseline) {
			continue // runs, date, spread.*, ratio.*
		}
		d, ok := Lookup(Figure{name})
		if !ok {
			t.Errorf("%s: %q is no registered figure", recorded, key)
			continue
		}
		if sys == KiOS {
			kios[d.Name()] = true
		}
	}
	for _, d := range Registry {
		if !kios[d.Name()] && d.Since <= filepath.Base(recorded) {
			t.Errorf("%s: no %s.%s, which every boot grown to pods has", recorded, KiOS, d.Name())
		}
	}
}
