package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/mounts"
)

// writerPod appends fsynced records to a hostPath volume and to an
// emptyDir (dev/inspector in writer mode) and reports them on :9091.
const writerPod = `apiVersion: v1
kind: Pod
metadata: {name: writer, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: writer
    image: localhost/kios-dev/inspector:v1
    imagePullPolicy: Never
    args: ["--listen=:9091", "--write-dirs=/hostpath,/scratch"]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: ["ALL"]}
    volumeMounts:
    - {name: hostpath, mountPath: /hostpath}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: hostpath
    hostPath: {path: /var/lib/kios-test, type: DirectoryOrCreate}
  - name: scratch
    emptyDir: {}
`

type writerStatus map[string]struct {
	Resumed, Synced, Errors int
	Valid                   bool
}

// TestDataPartition boots a disk made by `kios disk`, a 2 GiB image on an
// 8 GiB disk, three times: a first boot (the grow pod, a full disk, a
// hostname change), a reboot through Ctrl-Alt-Del, and a boot after a
// power cut. What the node wrote and synced must survive each. Before the
// reboot, files under /etc that cannot work are stored; the second boot
// refuses them and runs on the image's, then its disk fails every write
// for 30 s before the power cut.
func TestDataPartition(t *testing.T) {
	vmtest.Need(t, "boots VMs")
	vmtest.Parallel(t)
	efi := sharedImage(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.MkdirAll(filepath.Join(cfg, "kubernetes", "manifests"), 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-disk\n"), 0o644)
	os.WriteFile(filepath.Join(cfg, "kubernetes", "manifests", "writer.yaml"), []byte(writerPod), 0o644)
	// An image primed on the data partition rather than in the EFI.
	primed := filepath.Join(dir, "primed.tar")
	pimg, tag, err := ociimage.FromBinary(need(t, "out/bin/pause"), "localhost/kios-test/primed:v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociimage.WriteArchive(primed, tag, pimg); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.img")
	out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", efi, "--config", cfg, "--image", primed, "--size", "2G", "-o", img).CombinedOutput()
	if err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	if err := os.Truncate(img, 8<<30); err != nil { // the image written to a larger disk
		t.Fatal(err)
	}
	webPort, inspPort, writerPort := vmtest.FreePort(t), vmtest.FreePort(t), vmtest.FreePort(t)
	config := vm.Config{Disk: img, DiskFaults: true, MemoryMiB: 2048, CPUs: 2,
		Forwards: []vm.Forward{{Host: webPort, Guest: 80}, {Host: inspPort, Guest: 9090}, {Host: writerPort, Guest: 9091}}}
	insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)
	web := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	status := func(t *testing.T) writerStatus {
		t.Helper()
		var st writerStatus
		vmtest.Eventually(t, "writer status", 3*time.Minute, func() error {
			body, err := get(fmt.Sprintf("http://127.0.0.1:%d/status", writerPort))
			if err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				return err
			}
			if len(st) != 2 {
				return fmt.Errorf("writer reports %d directories: %s", len(st), body)
			}
			return nil
		})
		return st
	}

	v := vmtest.Boot(t, config)
	v.ExpectEvent(events.DataPartition.With("status", "mounted", "device", "/dev/vda2", "journal", "clean"), 4*time.Minute)
	bootID := v.ExpectEventAnywhere(like(events.Boot, "id", re(`\S+`)), time.Minute).Get("id")
	firstID := v.ExpectEventAnywhere(like(events.MachineID, "id", re(`[0-9a-f]+`)), time.Minute)
	v.ExpectEventAnywhere(events.Hostname.With("name", "kios-disk"), time.Minute)
	v.ExpectEventAnywhere(like(events.ImageImported, "file", re(`\S+pause.tar`)), 2*time.Minute)
	v.ExpectEventAnywhere(events.ImageImported.With("file", "00-primed.tar", "names", "localhost/kios-test/primed:v1"), 2*time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "writer-kios-disk"), 4*time.Minute)

	// The root image moves to a copy on the data partition: written once,
	// checked through dm-verity, swapped under the mounted root, and the
	// RAM copy freed.
	v.ExpectEventAnywhere(like(events.RootDiskCopy, "copy", re(`/run/kios/data/root/[0-9a-f]{64}\.img`), "bytes", re(`\d+`), "took", re(`\S+`)), 5*time.Minute)
	first := v.ExpectEventAnywhere(like(events.RootDisk, "status", re(`\S+`)), 5*time.Minute)
	t.Run("the root image is served from the data partition", func(t *testing.T) {
		if freed, _ := first.Float("freed_mib"); first.Get("status") != "disk" || freed < 40 {
			t.Errorf("%s: want status=disk and the RAM copy (over 40 MiB) freed", first)
		}
	})

	t.Run("the root reads back from its copy once the page cache is dropped", func(t *testing.T) {
		// Every page of the root's programs is then read again through
		// dm-verity from the copy on disk, as under memory pressure.
		if _, err := get(insp + "/write?path=/proc/sys/vm/drop_caches&data=3"); err != nil {
			t.Fatal(err)
		}
		from := len(v.Lines())
		c := http.Client{Timeout: 5 * time.Minute}
		resp, err := c.Get(insp + "/sum?glob=/bin/*")
		if err != nil {
			t.Fatal(err)
		}
		var sums map[string]string
		err = json.NewDecoder(resp.Body).Decode(&sums)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"init", "containerd", "containerd-shim-runc-v2", "runc", "kubelet"} {
			b, err := os.ReadFile(need(t, "out/parts/bin/"+name))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%x", sha256.Sum256(b)); sums["/bin/"+name] != want {
				t.Errorf("/bin/%s read from the copy: %q, want the build's sha256 %s", name, sums["/bin/"+name], want)
			}
		}
		for _, l := range v.Lines()[from:] {
			if strings.Contains(l.Text, "SQUASHFS error") || strings.Contains(l.Text, "device-mapper: verity") || isEvent(l.Text, events.ServiceExited) {
				t.Errorf("console at %.1f s: %s", l.At.Seconds(), l.Text)
			}
		}
	})

	t.Run("grow pod fills an 8 GiB disk", func(t *testing.T) {
		v.ExpectEventAnywhere(like(events.DataPartitionSize, "device", "/dev/vda2", "bytes", re(`\d+`), "size", re(`7\.[5-9]\d*GiB`)), 3*time.Minute)
		eventuallyInFile(t, "the grow pod's log says ext4 grew", insp+"/file?glob=/var/log/pods/kube-system_grow-*/grow/*.log", "ext4 grew from")
	})

	var rep Report
	vmtest.Eventually(t, "inspector report", 2*time.Minute, func() (err error) {
		rep, err = fetchReport(insp)
		return err
	})
	t.Run("data partition mounts match the table", func(t *testing.T) {
		for _, err := range mounts.Check(rep.Mounts, mounts.ExpectedTable(true)) {
			t.Error(err)
		}
	})

	t.Run("a full data partition", func(t *testing.T) {
		if _, err := get(insp + "/fill?path=" + mounts.DataDir + "/fill"); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(like(events.DataPartitionFull, "device", "/dev/vda2", "free", re(`\S+`), "size", re(`\S+`),
			"err", re(`the data partition is full.*`)), time.Minute)
		// The space watch samples every 5 s: three more samples of a full
		// disk must not log it again.
		vmtest.Holds(t, "one data-partition-full line while the disk stays full", 15*time.Second, func() error {
			if n := len(v.Events(events.DataPartitionFull)); n != 1 {
				return fmt.Errorf("%d data-partition-full lines, want 1", n)
			}
			return nil
		})
		if _, err := get(web); err != nil {
			t.Errorf("web pod with the disk full: %v", err)
		}
		full := status(t)
		if _, err := get(insp + "/remove?path=" + mounts.DataDir + "/fill"); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(events.DataPartitionSpace.With("status", "ok", "device", "/dev/vda2"), time.Minute)
		if n := len(v.Events(events.DataPartitionFull)); n != 1 {
			t.Errorf("%d data-partition-full lines, want 1", n)
		}
		// Writers recover without a reboot.
		vmtest.Eventually(t, "writer syncs again", time.Minute, func() error {
			now := status(t)
			for d, s := range now {
				if s.Synced <= full[d].Synced {
					return fmt.Errorf("%s: synced %d, was %d when the disk was full", d, s.Synced, full[d].Synced)
				}
			}
			return nil
		})
		vmtest.Eventually(t, "PID 1 logs to disk again", time.Minute, func() error {
			if log := files(t, insp+"/file?glob=/var/log/init.log"); len(findEvents(log, events.DataPartitionSpace.With("status", "ok"))) == 0 {
				return fmt.Errorf("init.log lacks the recovery line")
			}
			return nil
		})
	})

	if _, err := get(insp + "/write?path=/etc/hostname&data=kios-renamed%0A"); err != nil {
		t.Fatalf("change the hostname: %v", err)
	}
	// Files under /etc that cannot work, stored on the data partition as
	// a user's mistake would be: the next boot must refuse each once,
	// run on the image's copy (or none), and keep the stored file.
	badEtc := map[string]string{
		"containerd/config.toml": "version = 1\n",
		"kubernetes/config.yaml": "apiVersion: v1\nkind: Pod\n",
		"kubernetes/node-labels": "Not A Key: x\n",
		"kios/modules":           "../evil\n",
	}
	for rel, data := range badEtc {
		if _, err := get(insp + "/write?path=/etc/" + rel + "&data=" + url.QueryEscape(data)); err != nil {
			t.Fatalf("store a bad /etc/%s: %v", rel, err)
		}
	}
	before := status(t)
	if err := v.CtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	v.ExpectEvent(events.ShutdownFinal.With("cmd", "0x1234567", "mounts_left", "0"), 2*time.Minute)

	// The same QEMU boots again.
	v.ExpectEvent(events.InitStart.With("pid", "1"), 3*time.Minute)
	secondBoot := v.Mark()
	v.ExpectEvent(events.DataPartition.With("status", "mounted", "device", "/dev/vda2", "journal", "clean"), 4*time.Minute)
	v.ExpectEvent(events.Hostname.With("name", "kios-renamed"), time.Minute)
	v.ExpectEvent(like(events.ImagePresent, "file", re(`\S+pause.tar`)), 2*time.Minute)
	v.ExpectEvent(events.ImagePresent.With("file", "00-primed.tar"), time.Minute)
	v.ExpectEvent(events.ContainerStarted.With("pod", "writer-kios-renamed"), 4*time.Minute)
	t.Run("the reboot serves the root from the copy it wrote", func(t *testing.T) {
		var said []events.Event
		vmtest.Eventually(t, "the second boot's root-disk line", 5*time.Minute, func() error {
			if said = eventsIn(v.Lines()[secondBoot:], events.Any(events.RootDisk)); len(said) == 0 {
				return errors.New("none yet")
			}
			return nil
		})
		if e := said[0]; len(said) != 1 || e.Get("status") != "disk" || e.Get("copy") != first.Get("copy") {
			t.Errorf("%q: want one, status=disk from %s", eventStrings(said), first.Get("copy"))
		}
		if n := len(eventsIn(v.Lines()[secondBoot:], events.RootDiskCopy)); n != 0 {
			t.Errorf("the reboot wrote the copy again (%d root-disk-copy lines)", n)
		}
	})
	t.Run("bad files under /etc are refused once, the node runs on the image's", func(t *testing.T) {
		second := v.Lines()[secondBoot:]
		for rel := range badEtc {
			if refused := eventsIn(second, events.EtcFileRefused.With("path", "/etc/"+rel)); len(refused) != 1 {
				t.Errorf("/etc/%s: want one %s line, got %d: %q", rel, events.EtcFileRefused, len(refused), eventStrings(refused))
			}
		}
		for _, l := range second {
			if strings.Contains(l.Text, "step=etc-check status=failed") {
				t.Errorf("the etc-check step failed: %s", l.Text)
			}
		}
		// The stored files are kept for the operator, unchanged, and the
		// node reads the image's copy. (The inspector pod of the second
		// boot may start after the writer.)
		vmtest.Eventually(t, "the stored files kept, the image's copy read", 2*time.Minute, func() error {
			for rel, data := range badEtc {
				got, err := fileContents(insp + "/file?glob=" + mounts.DataDir + "/meta/etc/" + rel)
				if err != nil {
					return err
				}
				if got != data {
					return fmt.Errorf("the stored /etc/%s: %q, want %q as written", rel, got, data)
				}
			}
			got, err := fileContents(insp + "/file?glob=/etc/containerd/config.toml")
			if err != nil {
				return err
			}
			if got == badEtc["containerd/config.toml"] || !strings.Contains(got, "version = ") {
				return fmt.Errorf("/etc/containerd/config.toml as the node reads it: %.200q, want the image's copy", got)
			}
			return nil
		})
	})
	t.Run("reboot keeps files, images, identity and logs", func(t *testing.T) {
		// A static pod's identity includes the node's name: renamed, the
		// node runs a new writer pod with a new emptyDir, while the
		// hostPath file carries on. (The emptyDir's survival is checked
		// across the power cut below, where the name stays.)
		after := status(t)
		if s := after["/hostpath"]; !s.Valid || s.Resumed < before["/hostpath"].Synced {
			t.Errorf("hostPath after the reboot: %+v; before it %d records were synced", s, before["/hostpath"].Synced)
		}
		if s := after["/scratch"]; !s.Valid {
			t.Errorf("emptyDir after the reboot: %+v", s)
		}
		second := v.Lines()[secondBoot:]
		for _, l := range second {
			if isEvent(l.Text, events.MachineID) {
				t.Errorf("the reboot made a new machine-id (first: %s): %s", firstID, l.Text)
			}
			if isEvent(l.Text, events.ImageImported) {
				t.Errorf("the reboot imported again: %s", l.Text)
			}
		}
		// The inspector pod of the second boot may start after the writer.
		eventuallyEventInFile(t, "init.log keeps the first boot's lines", insp+"/file?glob=/var/log/init.log*", events.Boot.With("id", bootID))
		eventuallyInFile(t, "grow pod has nothing to do", insp+"/file?glob=/var/log/pods/kube-system_grow-*/grow/*.log", "nothing to do")
	})

	// The data disk fails every write for 30 s, as a dying disk or a
	// lost SAN path does; then the power is cut and the third boot must
	// replay the journal and find what was synced.
	t.Run("the data disk fails writes for 30 s", func(t *testing.T) {
		from := len(v.Lines())
		before := status(t)
		// The renamed node's web pod may start after the writer and the
		// inspector the subtests before waited for (2026-12-05: its
		// container started as this subtest began and refused the first
		// request): the fault begins once it answers.
		vmtest.Eventually(t, "web pod answers before the fault", 2*time.Minute, func() error {
			_, err := get(web)
			return err
		})
		if err := v.DiskWriteErrors(true); err != nil {
			t.Fatal(err)
		}
		vmtest.Holds(t, "the web pod answers while the disk fails every write", 30*time.Second, func() error {
			_, err := get(web)
			return err
		})
		if err := v.DiskWriteErrors(false); err != nil {
			t.Fatal(err)
		}
		v.ExpectEvent(events.DataPartitionReadonly.With("device", "/dev/vda2"), time.Minute)
		if after := status(t); after["/hostpath"].Errors <= before["/hostpath"].Errors {
			t.Errorf("the writer saw no failed write (before %+v, after %+v): the fault did not reach the guest", before["/hostpath"], after["/hostpath"])
		}
		vmtest.Holds(t, "the node runs on once the errors stop, the failing mount logged once", 30*time.Second, func() error {
			if _, err := get(web); err != nil {
				return err
			}
			said := eventsIn(v.Lines()[from:], events.Any(events.DataPartitionReadonly, events.DataPartitionFailing))
			readonly := 0
			for _, e := range said {
				if e.Name == events.DataPartitionReadonly {
					readonly++
				}
			}
			if len(said) == 0 || len(said) > 2 || readonly != 1 {
				return fmt.Errorf("want one data-partition-readonly line (and at most one failing line before it), got %q", eventStrings(said))
			}
			return nil
		})
		for _, l := range v.Lines()[from:] {
			if isEvent(l.Text, events.ServiceExited) {
				t.Logf("a service exited during the fault (PID 1 restarts it): %s", l.Text)
			}
		}
	})

	// Power cut: the writer is syncing records as QEMU dies.
	cut := status(t)
	v.Kill()
	t.Logf("power cut with %+v synced", cut)
	// While the power is off, a byte of the root image's copy changes:
	// the next boot must find it and keep its root in RAM.
	flipInData(t, img, strings.TrimPrefix(first.Get("copy"), mounts.DataDir), 100)
	v = vmtest.Boot(t, config)
	refused := v.ExpectEventAnywhere(like(events.RootDisk, "status", re(`\S+`)), 6*time.Minute)
	if refused.Get("status") != "refused" || refused.Get("copy") != first.Get("copy") || !strings.Contains(refused.Get("reason"), "dm-verity") {
		t.Errorf("%s: want status=refused naming %s and the failed read through dm-verity", refused, first.Get("copy"))
	}
	v.ExpectEvent(events.DataPartition.With("status", "mounted", "device", "/dev/vda2", "journal", "replayed"), 4*time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "writer-kios-renamed"), 4*time.Minute)
	t.Run("power cut loses nothing synced", func(t *testing.T) {
		for d, s := range status(t) { // the hostPath file and the emptyDir
			if !s.Valid || s.Resumed < cut[d].Synced {
				t.Errorf("%s after the power cut: %+v; %d records were synced before it", d, s, cut[d].Synced)
			}
			t.Logf("figure: %s after disk write errors and a power cut: %d records synced before, resumed after record %d", d, cut[d].Synced, s.Resumed)
		}
		vmtest.Eventually(t, "web pod answers", 2*time.Minute, func() error {
			_, err := get(web)
			return err
		})
	})
	if refused.Get("removed") != "yes" {
		t.Fatalf("%s: want the refused copy removed (removed=yes), so the next boot writes a good one", refused)
	}

	// The next boot writes the copy anew, and the power is cut while it
	// does: the write goes to a temporary file, so the copy's own name
	// must not exist after the cut, and the boot after writes it again
	// and serves its root from it.
	v.Kill()
	// Writes throttled to 2 MiB/s (QMP; the disk's write faults are not
	// needed again) make the copy's write last about half a minute, so
	// the cut falls inside it whatever the machine's speed.
	slow := config
	slow.DiskFaults = false
	v = vmtest.Boot(t, slow)
	vmtest.Eventually(t, "QEMU's writes throttled", time.Minute, func() error { return v.ThrottleWrites(2 << 20) })
	v.ExpectEventAnywhere(like(events.RootDiskWriting, "copy", first.Get("copy"), "bytes", re(`\d+`)), 6*time.Minute)
	time.Sleep(2 * time.Second)
	if said := eventsIn(v.Lines(), events.Any(events.RootDiskCopy, events.RootDisk)); len(said) > 0 {
		t.Fatalf("the copy was done within 2 s of its write's start (%q): nothing left to cut on this machine", eventStrings(said))
	}
	v.Kill()
	name := strings.TrimPrefix(first.Get("copy"), mounts.DataDir)
	listing := lsInData(t, img, path.Dir(name))
	t.Logf("the copy's directory after the cut: %q", listing)
	if slices.Contains(listing, path.Base(name)) {
		t.Errorf("after a power cut during its first write, the copy %s exists under its own name: %q", name, listing)
	}
	v = vmtest.Boot(t, config)
	rewritten := v.ExpectEventAnywhere(like(events.RootDisk, "status", re(`\S+`)), 6*time.Minute)
	t.Run("a power cut during the copy's first write leaves a node that boots and writes it again", func(t *testing.T) {
		if rewritten.Get("status") != "disk" || rewritten.Get("copy") != first.Get("copy") {
			t.Errorf("%s: want status=disk from %s, written again", rewritten, first.Get("copy"))
		}
		if n := len(eventsIn(v.Lines(), events.RootDiskCopy)); n != 1 {
			t.Errorf("%d root-disk-copy lines in the boot after the cut, want 1", n)
		}
		for _, e := range eventsIn(v.Lines(), events.RootDiskPruned) {
			t.Logf("after the cut: %s", e)
		}
	})
}

// lsInData lists the names in dir on the data partition (ext4, offline).
func lsInData(t *testing.T, disk, dir string) []string {
	t.Helper()
	start, _ := dataPartition(t, disk)
	out, err := exec.Command("debugfs", "-n", "-c", "-R", "ls -p "+dir, fmt.Sprintf("%s?offset=%d", disk, start)).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs ls -p %s: %v: %s", dir, err, out)
	}
	// -p: /inode/mode/uid/gid/name/size/ per entry.
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, "/"); len(f) >= 7 && f[5] != "." && f[5] != ".." {
			names = append(names, f[5])
		}
	}
	return names
}

// flipInData flips a byte of logical block n of the file at path on the
// data partition (ext4, offline).
func flipInData(t *testing.T, disk, path string, n int) {
	t.Helper()
	start, _ := dataPartition(t, disk)
	fs := fmt.Sprintf("%s?offset=%d", disk, start)
	// -n -c: no checksum checks, no bitmaps: the file system may have
	// been cut off mid-write, with errors the kernel recorded.
	run := func(req string) string {
		out, err := exec.Command("debugfs", "-n", "-c", "-R", req, fs).CombinedOutput()
		if err != nil {
			t.Fatalf("debugfs %s: %v: %s", req, err, out)
		}
		return string(out)
	}
	var bs, blk int64
	stats, bmap := run("stats"), run(fmt.Sprintf("bmap %s %d", path, n))
	for _, l := range strings.Split(stats, "\n") {
		if v, ok := strings.CutPrefix(l, "Block size:"); ok {
			bs, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	for _, f := range strings.Fields(bmap) {
		if v, err := strconv.ParseInt(f, 10, 64); err == nil {
			blk = v
		}
	}
	if bs == 0 || blk == 0 {
		t.Fatalf("block %d of %s: block size %d, physical block %d; debugfs said:\n%.2000s\n%s", n, path, bs, blk, stats, bmap)
	}
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := start + blk*bs + 7
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped the byte at %d of %s (block %d of %s)", at, disk, n, path)
}
