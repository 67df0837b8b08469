package rootdisk

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/shared/events"
)

// fake records what Run asked of the machine; each err field fails
// its operation.
type fake struct {
	root                                   Root
	rootErr, writeErr, attachErr, checkErr error
	swapErr, releaseErr                    error
	have                                   bool
	did                                    []string
}

func (f *fake) Root() (Root, error) { f.did = append(f.did, "root"); return f.root, f.rootErr }
func (f *fake) HaveCopy(path string, size uint64) bool {
	f.did = append(f.did, "have "+path)
	return f.have
}
func (f *fake) WriteCopy(ram, path string, size uint64) error {
	f.did = append(f.did, "write "+ram+" "+path)
	return f.writeErr
}
func (f *fake) Prune(dir, keep string) ([]string, error) {
	if keep == "" {
		f.did = append(f.did, "prune ") // all of them
		return nil, nil
	}
	f.did = append(f.did, "prune")
	return nil, nil
}
func (f *fake) Attach(path string) (string, error) {
	f.did = append(f.did, "attach")
	return "/dev/loop1", f.attachErr
}
func (f *fake) Detach(loop string) error { f.did = append(f.did, "detach "+loop); return nil }
func (f *fake) Check(loop string, r Root, h []byte) error {
	f.did = append(f.did, "check")
	return f.checkErr
}
func (f *fake) Swap(loop string, r Root, h []byte) error {
	f.did = append(f.did, "swap")
	return f.swapErr
}
func (f *fake) Release(ram string) (int64, error) {
	f.did = append(f.did, "release "+ram)
	return 50 << 20, f.releaseErr
}

func TestRun(t *testing.T) {
	hash := []byte{0xab, 0xcd}
	const copyPath = "/data/root/abcd.img"
	root := Root{RAM: "/dev/loop0", DataSize: 8192, Total: 8192}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		f      fake
		did    []string
		status string // the last root-disk event's
		reason string // in its reason field
	}{
		{"first boot of an image: written, checked, swapped, RAM freed", fake{root: root},
			[]string{"root", "have " + copyPath, "write /dev/loop0 " + copyPath, "prune", "attach", "check", "swap", "release /dev/loop0"}, "disk", ""},
		{"a copy from an earlier boot", fake{root: root, have: true},
			[]string{"root", "have " + copyPath, "prune", "attach", "check", "swap", "release /dev/loop0"}, "disk", ""},
		{"the root is not mapped: nothing touched", fake{rootErr: ErrNotMapped},
			[]string{"root"}, "ram", "not on the kios-root device"},
		{"the copy cannot be written", fake{root: root, writeErr: boom},
			[]string{"root", "have " + copyPath, "write /dev/loop0 " + copyPath}, "ram", "write the copy: boom"},
		{"a changed copy is refused, the RAM copy kept, the copy removed for the next boot", fake{root: root, have: true, checkErr: boom},
			[]string{"root", "have " + copyPath, "prune", "attach", "check", "detach /dev/loop1", "prune "}, "refused", "boom"},
		{"the swap fails: the copy's loop device goes", fake{root: root, have: true, swapErr: boom},
			[]string{"root", "have " + copyPath, "prune", "attach", "check", "swap", "detach /dev/loop1"}, "ram", "boom"},
		{"no loop device for the copy", fake{root: root, have: true, attachErr: boom},
			[]string{"root", "have " + copyPath, "prune", "attach"}, "ram", "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []events.Event
			err := Run(&tc.f, "/data/root", hash, func(n events.Name, kv ...any) { got = append(got, events.New(n, kv...)) })
			if err != nil {
				t.Errorf("Run: %v", err)
			}
			if d := cmp.Diff(tc.did, tc.f.did); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			var last events.Event
			for _, e := range got {
				if e.Name == events.RootDisk {
					last = e
				}
			}
			if last.Get("status") != tc.status || !strings.Contains(last.Get("reason"), tc.reason) {
				t.Errorf("events %v, want the last root-disk status=%s with reason %q", got, tc.status, tc.reason)
			}
			if tc.status == "disk" && last.Get("freed_mib") != "50.0" {
				t.Errorf("freed_mib=%q, want 50.0", last.Get("freed_mib"))
			}
		})
	}
}
