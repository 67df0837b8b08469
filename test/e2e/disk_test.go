package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/internal/vm"
	"kios.dev/kios/internal/vm/vmtest"
)

// TestDataPartition boots a disk made by `kios disk` twice: the first
// boot mounts the data partition, takes its hostname from /meta/etc and
// imports the primed images; after a power-off through the power
// button, the second boot finds the images and the machine-id kept.
func TestDataPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM twice")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.MkdirAll(cfg, 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-disk\n"), 0o644)
	img := filepath.Join(dir, "disk.img")
	out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", need(t, "out/kios-amd64.efi"), "--config", cfg,
		"--size", "2G", "-o", img).CombinedOutput()
	if err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}

	first := vmtest.Boot(t, vm.Config{Disk: img, MemoryMiB: 2048, CPUs: 2})
	first.Expect(`event=data-partition status=mounted device=/dev/vda2`, 4*time.Minute)
	idLine := first.Expect(`event=machine-id id=[0-9a-f]+`, time.Minute)
	first.Expect(`event=hostname name=kios-disk`, time.Minute)
	first.ExpectAnywhere(`event=image-imported file=\S+pause.tar`, 2*time.Minute)
	first.ExpectAnywhere(`event=container-started pod=dhcp-kios-disk`, 3*time.Minute)
	first.Stop(90 * time.Second) // the power button: a clean shutdown
	if !strings.Contains(lastLines(first.Lines(), 40), "event=shutdown-final") {
		t.Errorf("first boot did not shut down through PID 1")
	}

	second := vmtest.Boot(t, vm.Config{Disk: img, MemoryMiB: 2048, CPUs: 2})
	second.Expect(`event=data-partition status=mounted device=/dev/vda2`, 4*time.Minute)
	second.Expect(`event=hostname name=kios-disk`, time.Minute)
	second.ExpectAnywhere(`event=image-present file=\S+pause.tar`, 2*time.Minute)
	second.ExpectAnywhere(`event=container-started pod=dhcp-kios-disk`, 3*time.Minute)
	id := regexp.MustCompile(`id=([0-9a-f]+)`).FindStringSubmatch(idLine)[1]
	for _, l := range second.Lines() {
		if strings.Contains(l.Text, "event=machine-id") {
			t.Errorf("second boot made a new machine-id (first was %s): %s", id, l.Text)
		}
		if strings.Contains(l.Text, "event=image-imported") {
			t.Errorf("second boot imported again: %s", l.Text)
		}
	}
}

func lastLines(lines []vm.Line, n int) string {
	var b strings.Builder
	for _, l := range lines[max(0, len(lines)-n):] {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}
