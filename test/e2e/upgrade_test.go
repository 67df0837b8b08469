package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/esp"
	"kios.dev/kios/internal/gpt"
	"kios.dev/kios/internal/uki/ukitest"
	"kios.dev/kios/internal/upgradesock"
	"kios.dev/kios/internal/vm"
	"kios.dev/kios/internal/vm/vmtest"
)

// versioned builds the test image (inspector, demo) as version v, with
// a short health gate so that a blessing comes within the test.
func versioned(t *testing.T, v string, cmdline string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), v)
	os.MkdirAll(dir, 0o755)
	efi, err := buildTestImage(dir, "--version", v, "--cmdline", cmdline)
	if err != nil {
		t.Fatal(err)
	}
	return efi
}

// smallUKI is a kiOS-shaped UKI of version v (no real kernel): enough
// for PID 1's checks, which refuse it before anything boots it.
func smallUKI(t *testing.T, v string) []byte { return ukitest.Kios(t, v, []byte("loader")) }

type upgradeAnswer struct {
	Result upgradesock.Result
	Error  string
}

// askUpgrade sends a request to PID 1's upgrade socket through the
// inspector (as the upgrade pod would), with image as the stage's EFI.
func askUpgrade(insp, query string, image []byte) (upgradeAnswer, error) {
	resp, err := http.Post(insp+"/upgrade?"+query, "application/octet-stream", bytes.NewReader(image))
	if err != nil {
		return upgradeAnswer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return upgradeAnswer{}, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var a upgradeAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("answer %q: %w", body, err)
	}
	return a, nil
}

// espOf copies the ESP out of a stopped node's disk image.
func espOf(t *testing.T, img string) string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	tab, err := gpt.Read(f, st.Size(), 512)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tab.Find(gpt.ESPType)
	if !ok {
		t.Fatal("no ESP on the disk")
	}
	out := filepath.Join(t.TempDir(), "esp.img")
	b := make([]byte, int64(p.LastLBA-p.FirstLBA+1)*512)
	if _, err := f.ReadAt(b, int64(p.FirstLBA)*512); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkESP runs dosfstools' fsck.fat on the ESP, read-only: only the
// dirty bit a power cut leaves (Linux marks a mounted vfat dirty) is
// allowed. It returns the ESP's entries (mtools' listing).
func checkESP(t *testing.T, img string) []string {
	t.Helper()
	part := espOf(t, img)
	out, err := exec.Command("fsck.fat", "-n", part).CombinedOutput()
	var problems []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "fsck.fat ") || strings.Contains(l, "files, ") || strings.Contains(l, "Dirty bit") ||
			strings.Contains(l, "Automatically removing dirty bit") || strings.HasPrefix(l, "There are differences between boot sector") ||
			strings.Contains(l, "not properly unmounted") || strings.Contains(l, "Leaving filesystem unchanged") || strings.HasPrefix(l, "1)") ||
			strings.HasPrefix(l, "2)") || strings.HasPrefix(l, "3)") || strings.HasPrefix(l, "4)") {
			continue
		}
		problems = append(problems, l)
	}
	if len(problems) > 0 {
		t.Errorf("fsck.fat -n on the ESP (exit %v) reports:\n%s", err, out)
	}
	ls, err := exec.Command("mdir", "-b", "-i", part, "::"+esp.EntriesDir).CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v\n%s", err, ls)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(ls)), "\n") {
		names = append(names, filepath.Base(strings.TrimSpace(l)))
	}
	return names
}

// TestUpgradeOnDisk boots a disk installed with version 1.0.0 and, in
// that one boot and the ones it leads to: the watchdog is armed; bad
// images are refused with the reason and the ESP left as it was; 2.0.0
// staged boots on trial and blesses itself once healthy; a rollback
// boots 1.0.0 again; a power cut while 2.0.0 is written again leaves
// 1.0.0 booting and the ESP consistent.
func TestUpgradeOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("boots VMs")
	}
	const gate = "kios.bless-after=10s kios.trial-timeout=5m"
	v1 := versioned(t, "1.0.0", gate)
	v2 := versioned(t, "2.0.0", gate)
	img := filepath.Join(t.TempDir(), "disk.img")
	if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", v1, "--size", "2G", "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	inspPort := vmtest.FreePort(t)
	insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)
	config := vm.Config{Disk: img, MemoryMiB: 2048, CPUs: 2, Forwards: []vm.Forward{{Host: inspPort, Guest: 9090}}}
	status := func(t *testing.T) upgradesock.Result {
		t.Helper()
		var a upgradeAnswer
		vmtest.Eventually(t, "the upgrade socket's status", 3*time.Minute, func() (err error) {
			a, err = askUpgrade(insp, "op=status", nil)
			if err == nil && a.Error != "" {
				err = fmt.Errorf("status: %s", a.Error)
			}
			return err
		})
		return a.Result
	}

	v := vmtest.Boot(t, config)
	v.ExpectAnywhere(`event=boot-entry version=1\.0\.0 entry=kios-1\.0\.0\.efi state=good device=/dev/vda1 secure_boot=false`, 4*time.Minute)
	t.Run("watchdog armed", func(t *testing.T) {
		v.ExpectAnywhere(`event=watchdog status=armed device=/dev/watchdog0 identity="i6300ESB timer" timeout=1m0s`, 3*time.Minute)
	})
	installed := []string{"kios-1.0.0.efi"}
	if diff := cmp.Diff(installed, status(t).Entries); diff != "" {
		t.Fatalf("entries of a fresh install (-want +got):\n%s", diff)
	}

	t.Run("bad images are refused and change nothing", func(t *testing.T) {
		loader, err := os.ReadFile(need(t, "out/parts/loader.efi"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name, query string
			image       []byte
			want        string
		}{
			{"not an EFI", "op=stage", []byte("#!/bin/sh\necho upgrade\n"), "not an EFI program"},
			{"an EFI that is not kiOS", "op=stage", loader, "not a kiOS image"},
			{"the same version", "op=stage", smallUKI(t, "1.0.0"), "already runs this version"},
			{"a downgrade without the flag", "op=stage", smallUKI(t, "0.9.0"), "older than the running version"},
			{"too large for the ESP", "op=stage&pad=" + fmt.Sprint(300<<20), smallUKI(t, "3.0.0"), "does not fit on the ESP"},
		} {
			a, err := askUpgrade(insp, tt.query, tt.image)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if !strings.Contains(a.Error, tt.want) {
				t.Errorf("%s: PID 1 answered %q, want an error saying %q", tt.name, a.Error, tt.want)
			}
			if diff := cmp.Diff(installed, status(t).Entries); diff != "" {
				t.Errorf("%s changed the entries (-want +got):\n%s", tt.name, diff)
			}
		}
	})

	image2, err := os.ReadFile(v2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("staged, on trial, blessed", func(t *testing.T) {
		a, err := askUpgrade(insp, "op=stage&tries=1&reboot=1", image2)
		if err != nil {
			t.Fatal(err)
		}
		if a.Error != "" || a.Result.Next != "kios-2.0.0+1.efi" || !a.Result.Rebooting {
			t.Fatalf("stage: %+v", a)
		}
		t.Logf("figure: bytes written to the ESP for one upgrade: %d", a.Result.Written)
		v.Expect(`event=shutdown-start reason=upgrade`, 2*time.Minute)
		v.Expect(`event=boot-entry version=2\.0\.0 entry=kios-2\.0\.0\+0-1\.efi state=trial`, 4*time.Minute)
		v.Expect(`event=blessed version=2\.0\.0`, 4*time.Minute)
		if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0.efi"}, status(t).Entries); diff != "" {
			t.Errorf("entries after the blessing (-want +got):\n%s", diff)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		a, err := askUpgrade(insp, "op=rollback&reboot=1", nil)
		if err != nil || a.Error != "" || a.Result.Next != "kios-1.0.0.efi" {
			t.Fatalf("rollback: %+v, %v", a, err)
		}
		v.Expect(`event=boot-entry version=1\.0\.0 entry=kios-1\.0\.0\.efi state=good`, 5*time.Minute)
		v.Expect(`event=rolled-back version=2\.0\.0 entry=kios-2\.0\.0\+0\.efi`, time.Minute)
	})
	// Last: the power cut. The boot after it is only checked for the
	// version it runs (see the closing note of 2026-12-05: pods did not
	// start in the boot after such a cut, which is being looked into).
	t.Run("power cut while writing leaves the old version", func(t *testing.T) {
		status(t)
		go askUpgrade(insp, "op=stage&tries=1", image2) // dies with the node
		v.Expect(`event=upgrade-stage-start bytes=\d+`, 5*time.Minute)
		time.Sleep(2 * time.Second)
		v.Kill()
		entries := checkESP(t, img)
		t.Logf("ESP entries after the power cut: %v", entries)
		// The stage removes 2.0.0's bad entry before it writes the new
		// one: 1.0.0 stays, 2.0.0 is there whole or not at all.
		for _, e := range entries {
			if e != "kios-1.0.0.efi" && e != "kios-2.0.0+1.efi" {
				t.Errorf("after the power cut the ESP holds %q (entries %v)", e, entries)
			}
		}
		if !contains(entries, "kios-1.0.0.efi") {
			t.Errorf("the power cut lost the running version's entry: %v", entries)
		}
		// A whole new entry boots (on trial); otherwise 1.0.0 does.
		want := `event=boot-entry version=1\.0\.0 entry=kios-1\.0\.0\.efi state=good`
		if contains(entries, "kios-2.0.0+1.efi") {
			want = `event=boot-entry version=2\.0\.0 entry=kios-2\.0\.0\+0-1\.efi state=trial`
		}
		v = vmtest.Boot(t, config)
		v.Expect(want, 4*time.Minute)
	})
	v.Stop(time.Minute)
	checkESP(t, img)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
