package bench

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// A boot's figures are the first of each event, on PID 1's clock; the
// kubelet's is its first start (restarts=0).
func TestRunOf(t *testing.T) {
	got := runOf(lines(map[float64]string{
		7.0:  "[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)",
		9.0:  "[    2.512000] kios: t=2.501 event=init-start version=dev",
		11.2: "[    5.300000] kios: t=5.100 event=service-started name=containerd pid=150 restarts=0",
		11.4: "[    5.300000] kios: t=5.354 event=service-started name=kubelet pid=160 restarts=0",
		12.0: "[    9.300000] kios: t=9.000 event=service-started name=kubelet pid=190 restarts=0",
		20.0: "[   16.000000] kios: t=16.010 event=container-started name=kube-apiserver",
		21.0: "[   17.000000] kios: t=17.000 event=container-started name=etcd",
		30.0: "[   26.000000] kios: t=26.000 event=meminfo total_mib=1985.0 used_mib=313.4 shmem_mib=1.0",
		40.0: "[   36.000000] kios: t=36.000 event=meminfo total_mib=1985.0 used_mib=400.0 shmem_mib=1.0",
	}))
	want := Run{Host: map[string]float64{"kernel start": 7, "init start": 9, "kubelet started": 11.4, "first static pod running": 20},
		InitStart: 2.501, KubeletExec: 5.354, FirstPod: 16.01, RAMUsedMiB: 313.4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runOf (-want +got):\n%s", diff)
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
