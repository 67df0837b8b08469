package conformance

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	hostIP  = "[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]"
	probe   = `[It] [sig-node] Probing container should be restarted with a exec "cat /tmp/health" liveness probe [NodeConformance] [Conformance]`
	backOff = "[It] [sig-node] Pods should cap back-off at MaxContainerBackOff [Slow] [NodeConformance]"
	serial  = "[It] [sig-node] Kubelet with a serial test [Serial] [NodeConformance]"
)

func TestReadJUnitAndMerge(t *testing.T) {
	parallel, err := ReadJUnit("testdata/junit_01.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The serial pass ran the test the parallel pass left out, and left
	// out the ones the parallel pass ran.
	serialPass := []Outcome{
		{Name: hostIP, Status: "skipped", Filtered: true},
		{Name: serial, Status: "passed", Seconds: 3},
	}
	got := Merge(parallel, serialPass)
	want := []Outcome{
		{Name: hostIP, Status: "passed", Seconds: 10.5},
		{Name: probe, Status: "failed", Message: "[FAILED] pod never restarted\nIn [It] at: probe.go:10", Seconds: 15},
		{Name: backOff, Status: "skipped", Message: "Only supported for providers [gce gke] (not skeleton)"},
		{Name: serial, Status: "passed", Seconds: 3},
		{Name: "[It] [sig-node] Downward API should provide pod UID [NodeConformance] [Conformance]", Status: "skipped", Message: "interrupted before it ended: Interrupted by Timeout", Seconds: 4},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(Outcome{}, "Filtered")); d != "" {
		t.Errorf("merged outcomes (-want +got):\n%s", d)
	}
}

func TestMergeNamesWhyATestDidNotRun(t *testing.T) {
	feature := "[It] [sig-node] Pods should use a thing [Feature:Thing] [NodeConformance]"
	got := Merge([]Outcome{{Name: feature, Status: "skipped", Filtered: true}})
	if len(got) != 1 || !strings.HasPrefix(got[0].Message, "[Feature:...]") {
		t.Errorf("a [Feature:] test no pass ran: got %+v, want the [Feature:...] reason", got)
	}
}

func TestReadJUnitErrors(t *testing.T) {
	if _, err := ReadJUnit("testdata/missing.xml"); err == nil || !strings.Contains(err.Error(), "read the JUnit report") {
		t.Errorf("missing file: got %v, want an error saying the report could not be read", err)
	}
}

// The two passes select every [NodeConformance] test that is not left
// out for a named reason, and no test twice.
func TestPassesSplitTheSelection(t *testing.T) {
	names := []string{hostIP, probe, backOff, serial,
		"[It] [sig-node] X [Disruptive] [NodeConformance]",
		"[It] [sig-node] X [Serial] [Disruptive] [NodeConformance]",
		"[It] [sig-node] X [FeatureGate:Y] [Alpha] [Feature:OffByDefault] [NodeConformance]",
		"[It] [sig-node] X [FeatureGate:Y] [Beta] [NodeConformance]",
		"[It] [sig-apps] Deployment should work [Conformance]",
	}
	runs := map[string][]string{}
	for _, p := range Passes(4) {
		focus, skip := regexp.MustCompile(p.Focus), regexp.MustCompile(p.Skip)
		for _, n := range names {
			if focus.MatchString(n) && !skip.MatchString(n) {
				runs[n] = append(runs[n], p.Name)
			}
		}
	}
	want := map[string][]string{
		hostIP: {"parallel"}, probe: {"parallel"}, backOff: {"parallel"}, serial: {"serial"},
		"[It] [sig-node] X [FeatureGate:Y] [Beta] [NodeConformance]": {"parallel"},
	}
	if d := cmp.Diff(want, runs); d != "" {
		t.Errorf("which pass runs each test (-want +got):\n%s", d)
	}
}

func TestMarkdownSideBySide(t *testing.T) {
	kios := Result{Node: "kios", Date: "2026-12-02", Passes: []PassTime{{Name: "parallel", Procs: 4, Seconds: 100}},
		Tests: []Outcome{{Name: hostIP, Status: "failed", Message: "boom"}, {Name: backOff, Status: "skipped", Message: "slow"}}}
	base := Result{Node: "baseline", Date: "2026-12-02", Passes: []PassTime{{Name: "parallel", Procs: 4, Seconds: 90}},
		Tests: []Outcome{{Name: hostIP, Status: "passed"}, {Name: backOff, Status: "skipped", Message: "slow"}}}
	var b bytes.Buffer
	Markdown(&b, []Result{kios, base})
	for _, want := range []string{
		"| | kios | baseline |",
		"| failed | 1 | 0 |",
		"| parallel pass | 100 s, 4 process(es) | 90 s, 4 process(es) |",
		"- passed on baseline, failed on kios: " + hostIP,
		"- slow (1):",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSelectPasses(t *testing.T) {
	all := Passes(4)
	for _, tc := range []struct {
		names   []string
		want    []string
		wantErr string
	}{
		{[]string{"parallel", "serial"}, []string{"parallel", "serial"}, ""},
		{[]string{"serial"}, []string{"serial"}, ""},
		{[]string{"parallel", "nightly"}, nil, `no pass is named "nightly" (the passes: parallel, serial)`},
	} {
		got, err := Select(all, tc.names)
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		if msg := errString(err); msg != tc.wantErr || !cmp.Equal(names, tc.want) {
			t.Errorf("Select(%v) = %v, %q; want %v, %q", tc.names, names, msg, tc.want, tc.wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMarkUnreached(t *testing.T) {
	p := Passes(4)[0]
	outcomes := []Outcome{
		{Name: hostIP, Status: "passed"},
		{Name: probe, Status: "skipped", Filtered: true},  // selected, never started
		{Name: serial, Status: "skipped", Filtered: true}, // another pass's
	}
	MarkUnreached(outcomes, p, "not reached")
	want := []Outcome{
		{Name: hostIP, Status: "passed"},
		{Name: probe, Status: "skipped", Message: "not reached"},
		{Name: serial, Status: "skipped", Filtered: true},
	}
	if d := cmp.Diff(want, outcomes); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
}

// Two runs name the same set of test images only when every image and
// digest agree, whatever the order they were recorded in.
func TestImagesID(t *testing.T) {
	a := Result{Images: map[string]string{"busybox": "sha256:1", "agnhost": "sha256:2"}}
	same := Result{Images: map[string]string{"agnhost": "sha256:2", "busybox": "sha256:1"}}
	other := Result{Images: map[string]string{"busybox": "sha256:1", "agnhost": "sha256:3"}}
	if a.ImagesID() != same.ImagesID() {
		t.Errorf("the same images: %q and %q", a.ImagesID(), same.ImagesID())
	}
	if a.ImagesID() == other.ImagesID() {
		t.Errorf("agnhost differs, both %q", a.ImagesID())
	}
	if got := (Result{}).ImagesID(); got != "upstream's (pulled by the nodes)" {
		t.Errorf("no images recorded: %q", got)
	}
}
