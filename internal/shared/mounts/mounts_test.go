package mounts

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const sample = `22 1 7:0 / / ro,nosuid,nodev,relatime shared:1 - squashfs /dev/loop0 ro
23 22 0:5 / /dev rw,nosuid,noexec shared:2 - devtmpfs devtmpfs rw,size=1000k,mode=755
24 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:3 - proc proc rw
25 22 0:31 / /my\040dir rw,nosuid,nodev - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	got, err := ParseMountinfo(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Info{
		{Target: "/", FSType: "squashfs", Source: "/dev/loop0", Options: []string{"nodev", "nosuid", "relatime", "ro"}, Shared: true},
		{Target: "/dev", FSType: "devtmpfs", Source: "devtmpfs", Options: []string{"noexec", "nosuid", "rw"}, Shared: true},
		{Target: "/proc", FSType: "proc", Source: "proc", Options: []string{"nodev", "noexec", "nosuid", "relatime", "rw"}, Shared: true},
		{Target: "/my dir", FSType: "tmpfs", Source: "tmpfs", Options: []string{"nodev", "nosuid", "rw"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseMountinfo(strings.NewReader("garbage line\n")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestTableIsRestrictive(t *testing.T) {
	for _, m := range append(append([]Mount{}, Pseudo...), Writable...) {
		if m.Flags&unix.MS_NOSUID == 0 {
			t.Errorf("%s is not nosuid", m.Target)
		}
		if m.FSType != "devtmpfs" && m.FSType != "devpts" && m.Flags&unix.MS_NODEV == 0 {
			t.Errorf("%s is not nodev", m.Target)
		}
		execOK := map[string]bool{"/var/lib/kubelet": true, "/var/lib/containerd": true, "/opt/cni/bin": true}
		if !execOK[m.Target] && m.Flags&unix.MS_NOEXEC == 0 {
			t.Errorf("%s allows exec but nothing runs from it", m.Target)
		}
	}
}

func TestCheck(t *testing.T) {
	table := []Expected{{"/", "squashfs", []string{"ro", "nodev"}}, {"/proc", "proc", []string{"noexec"}}}
	good := []Info{
		{Target: "/", FSType: "squashfs", Options: []string{"nodev", "ro"}},
		{Target: "/proc", FSType: "proc", Options: []string{"noexec"}},
		{Target: "/var/lib/kubelet/pods/x/volumes/y", FSType: "tmpfs"},
	}
	if errs := Check(good, table); len(errs) != 0 {
		t.Errorf("good mounts: %v", errs)
	}
	bad := []Info{
		{Target: "/", FSType: "ext4", Options: []string{"rw"}},
		{Target: "/mnt", FSType: "tmpfs"},
	}
	errs := Check(bad, table)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	for _, want := range []string{"/: type ext4", "/: missing option ro", "/proc: not mounted", "/mnt: unexpected tmpfs"} {
		if !strings.Contains(strings.Join(msgs, "\n"), want) {
			t.Errorf("Check missed %q: %v", want, msgs)
		}
	}
}

type recorder struct {
	got  []string
	fail string
}

func (r *recorder) Mount(m Mount) error {
	if m.Target == r.fail {
		return errors.New("boom")
	}
	r.got = append(r.got, m.Target)
	return nil
}

func TestApplySkipsMountedAndStopsAtError(t *testing.T) {
	r := &recorder{fail: "/sys/kernel/security"}
	err := Apply(r, Pseudo, func(t string) bool { return t == "/proc" })
	if err == nil {
		t.Fatal("want the failing mount's error")
	}
	if diff := cmp.Diff([]string{"/sys", "/dev", "/dev/pts", "/dev/shm"}, r.got); diff != "" {
		t.Errorf("mounted (-want +got):\n%s", diff)
	}
}
