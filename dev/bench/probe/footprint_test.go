package probe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, root, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// Replaced, not rewritten: a read-only file a test wrote before
	// cannot be opened for writing by a non-root user.
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// fakeHost lays out a /proc with a systemd, a kernel thread, a kubelet,
// the probe's pod (shim 10, pause 11, probe 12) and another pod (shim
// 30, pause 31), and a root with executables inside and outside SkipDirs.
func fakeHost(t *testing.T) string {
	root := t.TempDir()
	write(t, root, "proc/meminfo", "MemTotal:        2000000 kB\nMemFree:          100 kB\nMemAvailable:    1500000 kB\nShmem:             52000 kB\nHugePages_Total:       0\n", 0o644)
	for _, p := range []struct {
		pid, ppid int
		name, rss string
	}{
		{1, 0, "systemd", "10000"}, {2, 0, "kthreadd", ""}, {5, 1, "kubelet", "60000"},
		{6, 5, "kubelet-child", "100"},
		{10, 1, "containerd-shim", "8000"}, {11, 10, "pause", "500"}, {12, 10, "benchprobe", "7000"},
		{30, 1, "containerd-shim", "8100"}, {31, 30, "pause", "400"},
	} {
		s := "Name:\t" + p.name + "\nState:\tS (sleeping)\nPPid:\t" + strconv.Itoa(p.ppid) + "\n"
		if p.rss != "" {
			s += "VmRSS:\t" + p.rss + " kB\n"
		}
		if p.name == "kubelet" {
			s += "RssAnon:\t   45000 kB\nRssFile:\t   14000 kB\nRssShmem:\t    1000 kB\n"
		}
		write(t, root, "proc/"+strconv.Itoa(p.pid)+"/status", s, 0o644)
	}
	// stat: utime 250 and stime 50 ticks for the kubelet, and its waited
	// children's 30 and 12; a command name with a space and a parenthesis
	// for systemd.
	write(t, root, "proc/5/stat", "5 (kubelet) S 1 5 5 0 -1 4194560 100 0 0 0 250 50 30 12 20 0 12 0 300 1000000 15000", 0o644)
	write(t, root, "proc/1/stat", "1 (sys temd)) S 0 1 1 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 1 1000000 2500", 0o644)
	write(t, root, "proc/self-not-a-pid/status", "garbage", 0o644)
	write(t, root, "proc/1/mountinfo", "22 1 0:21 / / ro - squashfs /dev/root ro\n23 22 0:22 / /proc rw - proc proc rw\n", 0o444)
	write(t, root, "proc/stat", "cpu  100 1 50 900 3 0 7 0 0 0\ncpu0 50 1 25 450 3 0 7 0 0 0\n", 0o444)
	// As in /proc, PID 1's root is a symbolic link.
	if err := os.Symlink("../../host", filepath.Join(root, "proc", "1", "root")); err != nil {
		t.Fatal(err)
	}
	host := "host/"
	write(t, root, host+"bin/init", "x", 0o500)
	write(t, root, host+"usr/bin/kubelet", "x", 0o755)
	write(t, root, host+"etc/config", "x", 0o644)
	write(t, root, host+"var/lib/containerd/snapshots/1/fs/bin/sh", "x", 0o755)
	write(t, root, host+"opt/cni/bin/bridge", "x", 0o755)
	write(t, root, host+"run/x", "x", 0o755)
	return root
}

func TestRead(t *testing.T) {
	f, err := Read(fakeHost(t), 12, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Footprint{
		MemTotalKiB: 2000000, MemAvailableKiB: 1500000,
		Meminfo: map[string]int64{"MemTotal": 2000000, "MemFree": 100, "MemAvailable": 1500000, "Shmem": 52000},
		Processes: []Process{
			{PID: 1, Name: "systemd", RSSKiB: 10000, CPUTicks: 10},
			{PID: 5, PPID: 1, Name: "kubelet", RSSKiB: 60000, RSSAnonKiB: 45000, RSSFileKiB: 14000, RSSShmemKiB: 1000, CPUTicks: 300, ChildCPUTicks: 42},
			{PID: 6, PPID: 5, Name: "kubelet-child", RSSKiB: 100},
			{PID: 30, PPID: 1, Name: "containerd-shim", RSSKiB: 8100}, {PID: 31, PPID: 30, Name: "pause", RSSKiB: 400},
		},
		ProbeRSSKiB: 8000 + 500 + 7000,
		Executables: 2,
		HostMounts:  2,
		CPU:         map[string]int64{"user": 100, "nice": 1, "system": 50, "idle": 900, "iowait": 3, "irq": 0, "softirq": 7, "steal": 0},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("footprint (-want +got):\n%s", diff)
	}
	light, err := Read(fakeHost(t), 12, false)
	if err != nil {
		t.Fatal(err)
	}
	want.Executables = 0
	if diff := cmp.Diff(want, light); diff != "" {
		t.Errorf("footprint without executables (-want +got):\n%s", diff)
	}
	if got, want := f.UsedMiB(), float64(2000000-1500000-15500)/1024; got != want {
		t.Errorf("UsedMiB = %v, want %v", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	root := fakeHost(t)
	write(t, root, "proc/meminfo", "MemTotal: 5 kB\n", 0o644)
	if _, err := Read(root, 12, true); err == nil || !strings.Contains(err.Error(), "MemAvailable") {
		t.Errorf("meminfo without MemAvailable: err = %v", err)
	}
	root = fakeHost(t)
	write(t, root, "proc/stat", "intr 5\n", 0o444)
	if _, err := Read(root, 12, true); err == nil || !strings.Contains(err.Error(), `first line is "intr 5"`) {
		t.Errorf("stat without a cpu line: err = %v", err)
	}
	if _, err := Read(t.TempDir(), 12, true); err == nil {
		t.Error("no /proc: no error")
	}
}
