package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/dev/compare"
)

// A containerd log as both nodes write it: a system pod, two growth
// pods (one whose sandbox never returned), and a growth container whose
// start did not return.
const callLog = `time="2026-12-02T13:45:50.000000000Z" level=info msg="RunPodSandbox for name:\"dhcp-kios\"  uid:\"d1\"  namespace:\"kube-system\""
time="2026-12-02T13:45:51.000000000Z" level=info msg="RunPodSandbox for name:\"dhcp-kios\"  uid:\"d1\"  namespace:\"kube-system\" returns sandbox id \"aa01\""
time="2026-12-02T13:45:51.100000000Z" level=info msg="CreateContainer within sandbox \"aa01\" for name:\"dhcp\" returns container id \"cc01\""
time="2026-12-02T13:45:51.200000000Z" level=info msg="StartContainer for \"cc01\""
time="2026-12-02T13:45:59.200000000Z" level=info msg="StartContainer for \"cc01\" returns successfully"
time="2026-12-02T13:46:00.000000000Z" level=info msg="RunPodSandbox for name:\"growth-74b6-x1\"  uid:\"g1\"  namespace:\"default\""
time="2026-12-02T13:46:00.500000000Z" level=info msg="RunPodSandbox for name:\"growth-74b6-x2\"  uid:\"g2\"  namespace:\"default\""
time="2026-12-02T13:46:01.000000000Z" level=info msg="RunPodSandbox for name:\"growth-74b6-x3\"  uid:\"g3\"  namespace:\"default\""
not a containerd line
time="2026-12-02T13:46:04.000000000Z" level=info msg="RunPodSandbox for name:\"growth-74b6-x1\"  uid:\"g1\"  namespace:\"default\" returns sandbox id \"bb01\""
time="2026-12-02T13:46:06.500000000Z" level=info msg="RunPodSandbox for name:\"growth-74b6-x2\"  uid:\"g2\"  namespace:\"default\" returns sandbox id \"bb02\""
time="2026-12-02T13:46:07.000000000Z" level=info msg="CreateContainer within sandbox \"bb01\" for name:\"growth\" returns container id \"dd01\""
time="2026-12-02T13:46:07.100000000Z" level=info msg="CreateContainer within sandbox \"bb02\" for name:\"growth\" returns container id \"dd02\""
time="2026-12-02T13:46:07.200000000Z" level=info msg="StartContainer for \"dd01\""
time="2026-12-02T13:46:07.300000000Z" level=info msg="StartContainer for \"dd02\""
time="2026-12-02T13:46:09.200000000Z" level=info msg="StartContainer for \"dd01\" returns successfully"
`

func TestParseCallTimesKeepsTheNamedPodsFinishedCalls(t *testing.T) {
	got := ParseCallTimes([]byte(callLog), "growth-")
	want := CallTimes{
		RunPodSandbox:  []time.Duration{4 * time.Second, 6 * time.Second},
		StartContainer: []time.Duration{2 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCallTimes (-want +got):\n%s", diff)
	}
}

func TestAddCallTimesGivesMedians(t *testing.T) {
	figs := compare.Figures{}
	addCallTimes(figs, []byte(callLog))
	want := compare.Figures{compare.PodsRunSandbox: 5, compare.PodsStartContainer: 2}
	if diff := cmp.Diff(want, figs); diff != "" {
		t.Errorf("figures (-want +got):\n%s", diff)
	}
	empty := compare.Figures{}
	addCallTimes(empty, []byte("no calls here\n"))
	if len(empty) != 0 {
		t.Errorf("a log without calls gave figures %v, want none", empty)
	}
}
