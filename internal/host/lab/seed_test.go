package lab

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"kios.dev/kios/internal/shared/nodeconfig"
)

// A lab node's seed is a NoCloud volume Linux and mtools read: labelled
// CIDATA, its user-data a valid configuration naming the node and its
// join, its meta-data the instance-id and hostname.
func TestSeedVolume(t *testing.T) {
	if _, err := exec.LookPath("mtype"); err != nil {
		if testing.Short() {
			t.Skip("mtools is not installed (make deps installs it)")
		}
		t.Fatal("mtools is not installed: run make deps")
	}
	env := &Env{Token: "abcdef.0123456789abcdef", CAHash: "sha256:" + strings.Repeat("c", 64)}
	dir := t.TempDir()
	seed, err := nodeSeed(env, dir, "kios-00000001")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(seed)
	if got := strings.TrimSpace(string(b[43:54])); got != "CIDATA" {
		t.Errorf("label %q, want CIDATA", got)
	}
	out, err := exec.Command("mtype", "-i", seed, "::user-data").Output()
	if err != nil {
		t.Fatalf("mtype user-data: %v", err)
	}
	d, err := nodeconfig.Parse(out)
	if err != nil {
		t.Fatalf("user-data: %v\n%s", err, out)
	}
	if d.Node == nil || d.Node.Hostname != "kios-00000001" || d.Node.Join == nil || d.Node.Join.Token != env.Token ||
		d.Node.RegistryMirrors["_default"][0] != "http://"+RegistryLab {
		t.Errorf("user-data says %+v", d.Node)
	}
	meta, err := exec.Command("mtype", "-i", seed, "::meta-data").Output()
	if err != nil || !strings.Contains(string(meta), "instance-id: lab-kios-00000001") || !strings.Contains(string(meta), "local-hostname: kios-00000001") {
		t.Errorf("meta-data %q, %v", meta, err)
	}
}
