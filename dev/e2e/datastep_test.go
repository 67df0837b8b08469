package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/mounts"
)

// TestDataStepUndone boots a disk whose data partition makes a mount of
// the data step fail half-way: /data/lib/kubelet/pods is a file where
// the step binds a directory, after /var/lib is already on the disk.
// PID 1 must undo what it mounted, run from RAM, say so with the cause,
// and leave what the partition holds as it was.
func TestDataStepUndone(t *testing.T) {
	vmtest.Need(t, "boots a VM")
	vmtest.Parallel(t)
	efi := sharedImage(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", efi, "--size", "1G", "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	// The same partition made again with a file in the way and a file
	// that must survive the boot.
	stage := filepath.Join(dir, "root")
	if err := mounts.MakeDataDirs(stage); err != nil {
		t.Fatal(err)
	}
	const keep = "written before the boot\n"
	for p, content := range map[string]string{"data/lib/kubelet/pods": "a file where a directory must be\n", "meta/keep": keep} {
		if err := os.WriteFile(filepath.Join(stage, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start, size := dataPartition(t, img)
	mkfs := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "kios-data", "-d", stage,
		"-E", fmt.Sprintf("offset=%d,root_owner=0:0", start), img, strconv.FormatInt(size/4096, 10))
	if out, err := mkfs.CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}

	inspPort := vmtest.FreePort(t)
	v := vmtest.Boot(t, vm.Config{Disk: img, MemoryMiB: 2048, CPUs: 2, Forwards: []vm.Forward{{Host: inspPort, Guest: 9090}}})
	v.ExpectEvent(like(events.DataPartition, "status", "ram-only",
		"reason", re(`data partition mount /var/lib/kubelet/pods: bind \S+ on /var/lib/kubelet/pods: not a directory`)), 4*time.Minute)
	v.Expect(`step=data status=failed`, time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "inspector-kios-e2e"), 5*time.Minute)

	t.Run("the node runs from RAM with the RAM-only mounts", func(t *testing.T) {
		var rep Report
		vmtest.Eventually(t, "inspector report", 2*time.Minute, func() (err error) {
			rep, err = fetchReport(fmt.Sprintf("http://127.0.0.1:%d", inspPort))
			return err
		})
		for _, err := range mounts.Check(rep.Mounts, mounts.ExpectedTable(false)) {
			t.Error(err)
		}
		for _, m := range rep.Mounts {
			if m.Target == mounts.DataDir || strings.HasPrefix(m.Source, mounts.DataDir) {
				t.Errorf("still mounted from the data partition: %+v", m)
			}
		}
	})

	if err := v.Powerdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.Done():
	case <-time.After(vmtest.Scale(2 * time.Minute)):
		t.Fatal("the VM did not power off")
	}
	t.Run("the partition keeps what it held", func(t *testing.T) {
		part := filepath.Join(dir, "part.img")
		extract(t, img, part, start, size)
		out, err := exec.Command("debugfs", "-R", "cat /meta/keep", part).Output()
		if err != nil || string(out) != keep {
			t.Errorf("/meta/keep after the boot: %q (%v), want %q", out, err, keep)
		}
		out, err = exec.Command("debugfs", "-R", "stat /data/lib/kubelet/pods", part).Output()
		if err != nil || !strings.Contains(string(out), "Type: regular") {
			t.Errorf("/data/lib/kubelet/pods after the boot: %v\n%s", err, out)
		}
	})
}

// dataPartition finds kiOS's data partition in a disk image: its offset
// and size in bytes.
func dataPartition(t *testing.T, img string) (start, size int64) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gpt.Read(f, st.Size(), 512)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tab.Find(gpt.DataPartitionType)
	if !ok {
		t.Fatal("no data partition in the disk image")
	}
	return int64(p.FirstLBA) * 512, int64(p.LastLBA-p.FirstLBA+1) * 512
}

// extract copies size bytes at start of img to out.
func extract(t *testing.T, img, out string, start, size int64) {
	t.Helper()
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b := make([]byte, size)
	if _, err := in.ReadAt(b, start); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
