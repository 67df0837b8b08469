package bench

import (
	"strings"
	"testing"

	"kios.dev/kios/internal/host/vm"
)

func TestSummarize(t *testing.T) {
	runs := []Run{
		{Host: map[string]float64{"kernel start": 10}, InitStart: 3, KubeletExec: 5, FirstPod: 11, RAMUsedMiB: 330},
		{Host: map[string]float64{"kernel start": 12}, InitStart: 3, KubeletExec: 6, FirstPod: 13, RAMUsedMiB: 320},
		{Host: map[string]float64{"kernel start": 11}, InitStart: 3, KubeletExec: 5.5, FirstPod: 12, RAMUsedMiB: 340},
	}
	med, spread := summarize(runs)
	if med["host: kernel start"] != 11 || spread["host: kernel start"] != 2 {
		t.Errorf("kernel start median %v spread %v", med["host: kernel start"], spread["host: kernel start"])
	}
	if med["init start -> kubelet exec"] != 2.5 || med["ram used (MiB)"] != 330 {
		t.Errorf("medians %v", med)
	}
	var b strings.Builder
	Report{Median: med, Spread: spread, Runs: runs}.Print(&b)
	if !strings.Contains(b.String(), "init start -> kubelet exec") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestFirstMatch(t *testing.T) {
	var v float64
	first(&v, reKubelet, "[ 5.3] kios: t=5.354 event=service-started name=kubelet pid=160 restarts=0")
	first(&v, reKubelet, "[ 9.3] kios: t=9.000 event=service-started name=kubelet pid=190 restarts=0")
	if v != 5.354 {
		t.Errorf("got %v", v)
	}
}

// The milestones the progress line reads are vm's.
func TestProgressMilestonesAreVMs(t *testing.T) {
	names := map[string]bool{}
	for _, m := range vm.Milestones {
		names[m.Name] = true
	}
	for _, n := range []string{kernelStart, firstStaticPod} {
		if !names[n] {
			t.Errorf("%q is not one of vm.Milestones", n)
		}
	}
}
