package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/uki/ukitest"
	"kios.dev/kios/internal/shared/upgrade/esp"
	"kios.dev/kios/internal/shared/upgrade/upgradesock"
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

// partition finds a partition of type typ on a stopped node's disk
// image and returns its byte offset and size.
func partition(t *testing.T, img, typ string) (offset, size int64) {
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
	p, ok := tab.Find(typ)
	if !ok {
		t.Fatalf("no partition of type %s on %s", typ, img)
	}
	return int64(p.FirstLBA) * 512, int64(p.LastLBA-p.FirstLBA+1) * 512
}

// espOf copies the ESP out of a stopped node's disk image.
func espOf(t *testing.T, img string) string {
	t.Helper()
	off, size := partition(t, img, gpt.ESPType)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), "esp.img")
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// toFirstLayout turns a stopped node's ESP into kios disk's first
// layout (before systemd-boot: the image itself at the firmware's
// default path, no entries), with mtools on the disk image in place.
func toFirstLayout(t *testing.T, img, efi string) {
	t.Helper()
	off, _ := partition(t, img, gpt.ESPType)
	at := fmt.Sprintf("%s@@%d", img, off)
	for _, args := range [][]string{
		{"mdeltree", "-i", at, "::" + esp.EntriesDir},
		{"mdeltree", "-i", at, "::loader"},
		{"mcopy", "-o", "-i", at, efi, "::" + esp.LoaderFile},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dataLog prints the end of a log file of the node's data partition
// (e2fsprogs' debugfs reads the stopped node's disk image at the
// partition's offset), for a failure that needs the kubelet's side.
func dataLog(t *testing.T, img, name string, lines int) {
	t.Helper()
	off, _ := partition(t, img, gpt.DataPartitionType)
	out, err := exec.Command("debugfs", "-R", "cat /meta/log/"+name, fmt.Sprintf("%s?offset=%d", img, off)).Output()
	if err != nil {
		t.Logf("debugfs cat %s: %v", name, err)
		return
	}
	all := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	t.Logf("last %d lines of %s on the data partition:\n%s", lines, name, strings.Join(all[max(0, len(all)-lines):], "\n"))
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

// TestUpgradeOnDisk boots a disk installed by an older kios disk (the
// first layout: the image at the firmware's default path) with version
// 1.0.0 and, in that boot and the ones it leads to: the watchdog is
// armed; bad images are refused with the reason and the ESP left as it
// was; 2.0.0 staged converts the ESP to boot entries, boots on trial
// and blesses itself once healthy; 3.0.0, whose kernel crashes on
// trial and hangs (kernel.panic=0), is reset by the watchdog and the
// loader goes back to 2.0.0; a rollback boots 1.0.0 again; a power cut
// while 2.0.0 is written again (writes slowed to 1 MiB/s so the cut
// falls inside the write) leaves 1.0.0 booting, its pods running and
// the ESP consistent.
func TestUpgradeOnDisk(t *testing.T) {
	vmtest.Need(t, "boots VMs")
	vmtest.Parallel(t)
	const gate = "kios.bless-after=10s kios.trial-timeout=5m"
	v1 := versioned(t, "1.0.0", gate)
	v2 := versioned(t, "2.0.0", gate)
	// 3.0.0 stays on trial long enough to be crashed.
	v3 := versioned(t, "3.0.0", "kios.bless-after=10m kios.trial-timeout=20m")
	img := filepath.Join(t.TempDir(), "disk.img")
	if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", v1, "--size", "2G", "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	toFirstLayout(t, img, v1)
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
	stage := func(t *testing.T, image, query, next string) upgradesock.Result {
		t.Helper()
		b, err := os.ReadFile(image)
		if err != nil {
			t.Fatal(err)
		}
		a, err := askUpgrade(insp, query, b)
		if err != nil {
			t.Fatal(err)
		}
		if a.Error != "" || a.Result.Next != next || !a.Result.Rebooting {
			t.Fatalf("stage %s: %+v, want %s to boot next", image, a, next)
		}
		return a.Result
	}

	v := vmtest.Boot(t, config)
	v.ExpectEventAnywhere(events.BootEntry.With("version", "1.0.0", "status", "first-layout", "device", "/dev/vda1", "secure_boot", "false", "entries", ""), 4*time.Minute)
	t.Run("watchdog armed", func(t *testing.T) {
		v.ExpectEventAnywhere(events.Watchdog.With("status", "armed", "device", "/dev/watchdog0", "identity", "i6300ESB timer", "timeout", "1m0s"), 3*time.Minute)
	})
	if got := status(t).Entries; len(got) != 0 {
		t.Fatalf("entries of a first-layout ESP: %v, want none", got)
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
			if got := status(t).Entries; len(got) != 0 {
				t.Errorf("%s changed the ESP: entries %v, want none (first layout)", tt.name, got)
			}
		}
	})

	// Each version serves its root from its own copy on the data
	// partition; the new version's first boot writes its copy and
	// removes the old one.
	root1 := v.ExpectEventAnywhere(like(events.RootDisk, "status", re(`\S+`)), 5*time.Minute)
	if root1.Get("status") != "disk" {
		t.Errorf("1.0.0: %s, want its root served from disk", root1)
	}
	t.Run("the first upgrade converts the ESP, boots on trial, is blessed", func(t *testing.T) {
		from := len(v.Lines())
		res := stage(t, v2, "op=stage&tries=1&reboot=1", "kios-2.0.0+1.efi")
		if len(res.Done) == 0 || !strings.HasPrefix(res.Done[0], "converted the ESP") {
			t.Errorf("the stage's steps %q do not start with the conversion", res.Done)
		}
		t.Logf("figure: bytes written to a first-layout ESP for its first upgrade (conversion included): %d", res.Written)
		v.ExpectEvent(events.ShutdownStart.With("reason", "upgrade"), 2*time.Minute)
		v.ExpectEvent(events.BootEntry.With("version", "2.0.0", "entry", "kios-2.0.0+0-1.efi", "state", "trial"), 4*time.Minute)
		v.ExpectEvent(events.Blessed.With("version", "2.0.0"), 4*time.Minute)
		if diff := cmp.Diff([]string{"kios-1.0.0.efi", "kios-2.0.0.efi"}, status(t).Entries); diff != "" {
			t.Errorf("entries after the blessing (-want +got):\n%s", diff)
		}
		var root2 []events.Event
		vmtest.Eventually(t, "2.0.0's root-disk line", 5*time.Minute, func() error {
			if root2 = eventsIn(v.Lines()[from:], events.Any(events.RootDisk)); len(root2) == 0 {
				return errors.New("none yet")
			}
			return nil
		})
		if r := root2[0]; r.Get("status") != "disk" || r.Get("copy") == root1.Get("copy") {
			t.Errorf("2.0.0: %s, want its root served from a copy of its own (1.0.0's was %s)", r, root1.Get("copy"))
		}
		pruned := eventStrings(eventsIn(v.Lines()[from:], events.RootDiskPruned))
		if old := path.Base(root1.Get("copy")); !strings.Contains(strings.Join(pruned, " "), old) {
			t.Errorf("2.0.0's boot removed %q, want 1.0.0's copy %s among them", pruned, old)
		}
	})

	t.Run("a trial boot that hangs is reset by the watchdog and counts as a failed try", func(t *testing.T) {
		res := stage(t, v3, "op=stage&tries=1&reboot=1", "kios-3.0.0+1.efi")
		t.Logf("figure: bytes written to the ESP for one upgrade: %d", res.Written)
		v.ExpectEvent(events.BootEntry.With("version", "3.0.0", "entry", "kios-3.0.0+0-1.efi", "state", "trial"), 6*time.Minute)
		status(t) // the inspector runs: the boot got as far as pods
		// A privileged pod makes the kernel wait forever after a panic
		// (PID 1 sets kernel.panic=10: a panic reboots by itself), then
		// crashes it (sysrq 'c'): the machine hangs, and only the
		// watchdog can bring it back. The crash's request never gets an
		// answer.
		if _, err := get(insp + "/write?path=/proc/sys/kernel/panic&data=0"); err != nil {
			t.Fatal(err)
		}
		go (&http.Client{Timeout: 10 * time.Second}).Get(insp + "/write?path=/proc/sysrq-trigger&data=c")
		panicked := v.Expect(`Kernel panic - not syncing`, time.Minute)
		from := v.Mark()
		v.ExpectEvent(events.BootEntry.With("version", "2.0.0", "entry", "kios-2.0.0.efi", "state", "good"), 6*time.Minute)
		v.ExpectEvent(events.UpgradeFailed.With("version", "3.0.0", "entry", "kios-3.0.0+0-1.efi", "running", "2.0.0"), time.Minute)
		lines := v.Lines()
		var reset time.Duration
		for _, l := range lines[from:v.Mark()] {
			if strings.Contains(l.Text, "Rebooting in") {
				t.Errorf("the kernel rebooted by itself after the panic (%q): the watchdog was not what reset it", l.Text)
			}
			if reset == 0 && strings.Contains(l.Text, "BdsDxe:") {
				reset = l.At - lines[from-1].At
			}
		}
		t.Logf("figure: the watchdog reset the hung node %.0fs after the panic (%s)", reset.Seconds(), panicked)
		if got := status(t).Entries; !contains(got, "kios-3.0.0+0-1.efi") || !contains(got, "kios-2.0.0.efi") {
			t.Errorf("entries after the failed try: %v, want 3.0.0 marked bad beside 2.0.0", got)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		a, err := askUpgrade(insp, "op=rollback&reboot=1", nil)
		if err != nil || a.Error != "" || a.Result.Next != "kios-1.0.0.efi" {
			t.Fatalf("rollback: %+v, %v", a, err)
		}
		v.ExpectEvent(events.BootEntry.With("version", "1.0.0", "entry", "kios-1.0.0.efi", "state", "good"), 5*time.Minute)
		v.ExpectEvent(events.RolledBack.With("version", "2.0.0", "entry", "kios-2.0.0+0.efi"), time.Minute)
	})

	t.Run("power cut while writing leaves the old version", func(t *testing.T) {
		status(t)
		image2, err := os.ReadFile(v2)
		if err != nil {
			t.Fatal(err)
		}
		// 1 MiB/s: the image takes over a minute to reach the disk; the
		// cut comes 20 s into the stage, after the removals of the bad
		// entries and before the rename.
		if err := v.ThrottleWrites(1 << 20); err != nil {
			t.Fatal(err)
		}
		go askUpgrade(insp, "op=stage&tries=1", image2) // dies with the node
		v.ExpectEvent(like(events.UpgradeStageStart, "bytes", re(`\d+`)), 5*time.Minute)
		time.Sleep(20 * time.Second)
		from := v.Mark()
		v.Kill()
		for _, l := range v.Lines()[from:] {
			if isEvent(l.Text, events.UpgradeStage) {
				t.Fatalf("the stage ended before the power cut (%q): the cut did not fall inside the write", l.Text)
			}
		}
		// Whichever step the cut fell in, the ESP holds the running
		// version's entry, the bad ones not yet removed, and at most a
		// hidden temporary file: never 2.0.0 under a name the loader boots.
		allowed := func(e string) bool {
			return e == "kios-1.0.0.efi" || e == "kios-2.0.0+0.efi" || e == "kios-3.0.0+0-1.efi"
		}
		entries := checkESP(t, img)
		t.Logf("ESP entries after the power cut: %v", entries)
		if !contains(entries, "kios-1.0.0.efi") {
			t.Errorf("the power cut lost the running version's entry: %v", entries)
		}
		for _, e := range entries {
			if !allowed(e) && !strings.HasPrefix(e, ".kios-2.0.0+1.efi.tmp-") {
				t.Errorf("after the power cut the ESP holds %q (entries %v)", e, entries)
			}
		}
		v = vmtest.Boot(t, config)
		v.ExpectEvent(events.BootEntry.With("version", "1.0.0", "entry", "kios-1.0.0.efi", "state", "good"), 4*time.Minute)
		var got []string
		func() {
			defer func() {
				if t.Failed() {
					v.Stop(time.Minute)
					dataLog(t, img, "kubelet.log", 80)
				}
			}()
			got = status(t).Entries // the inspector pod runs again
		}()
		// PID 1 removed the temporary file at boot.
		for _, e := range got {
			if !allowed(e) {
				t.Errorf("entries after the boot that followed the power cut: %v", got)
			}
		}
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
