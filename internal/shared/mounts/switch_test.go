package mounts

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fakeTable keeps what is mounted where, as "target<-source", and fails
// the mount or unmount of one target.
type fakeTable struct {
	mounted       []string
	failMount     string
	failUnmount   string
	failRemounts  bool // tmpfs mounts fail once the switch has begun
	unmountedSome bool
}

func (f *fakeTable) Mount(m Mount) error {
	if m.Target == f.failMount || (f.failRemounts && f.unmountedSome && m.Source == "tmpfs" && m.Target != "/var/lib/cni") {
		return errors.New("injected mount failure")
	}
	f.mounted = append(f.mounted, m.Target+"<-"+m.Source)
	return nil
}

func (f *fakeTable) Unmount(target string) error {
	if target == f.failUnmount {
		return errors.New("injected unmount failure")
	}
	for i := len(f.mounted) - 1; i >= 0; i-- {
		if strings.HasPrefix(f.mounted[i], target+"<-") {
			f.mounted = slices.Delete(f.mounted, i, i+1)
			f.unmountedSome = true
			return nil
		}
	}
	return unix.EINVAL
}

func ramOnly() []string {
	var s []string
	for _, w := range Writable {
		s = append(s, w.Target+"<-"+w.Source)
	}
	return s
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestSwitchToDataIsAllOrNothing(t *testing.T) {
	onDisk := []string{}
	for _, w := range ramOnly() {
		replaced := false
		for _, r := range Replaced {
			replaced = replaced || strings.HasPrefix(w, r+"<-")
		}
		if !replaced {
			onDisk = append(onDisk, w)
		}
	}
	for _, d := range Data {
		onDisk = append(onDisk, d.Target+"<-"+d.Source)
	}
	tests := []struct {
		name         string
		table        fakeTable
		wantErr      string // "" for success
		wantUndoFail bool
		want         []string // what is mounted afterwards
		wantOptional []string
	}{
		{name: "all mounts work", want: onDisk},
		{name: "a bind fails half-way", table: fakeTable{failMount: "/var/lib/kubelet/pods"},
			wantErr: "data partition mount /var/lib/kubelet/pods", want: ramOnly()},
		{name: "the first bind fails", table: fakeTable{failMount: "/var/lib"},
			wantErr: "data partition mount /var/lib:", want: ramOnly()},
		{name: "a tmpfs does not unmount", table: fakeTable{failUnmount: "/var/log"},
			wantErr: "unmount tmpfs /var/log", want: ramOnly()},
		{name: "extra modules are optional", table: fakeTable{failMount: "/lib/modules"},
			want:         slices.DeleteFunc(slices.Clone(onDisk), func(s string) bool { return strings.HasPrefix(s, "/lib/modules<-") }),
			wantOptional: []string{"/lib/modules"}},
		{name: "the undo fails too", table: fakeTable{failMount: "/var/log", failRemounts: true},
			wantErr: "data partition mount /var/log", wantUndoFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.table
			f.mounted = ramOnly()
			var optional []string
			err := SwitchToData(&f, func(m Mount, err error) { optional = append(optional, m.Target) })
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("SwitchToData: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("SwitchToData: err = %v, want one naming %q", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrUndoIncomplete); got != tt.wantUndoFail {
				t.Errorf("undo incomplete = %v, want %v (err %v)", got, tt.wantUndoFail, err)
			}
			if tt.wantUndoFail {
				return // the error says what is left; no known state to compare
			}
			if diff := cmp.Diff(sorted(tt.want), sorted(f.mounted)); diff != "" {
				t.Errorf("mounted afterwards (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOptional, optional); diff != "" {
				t.Errorf("optional failures (-want +got):\n%s", diff)
			}
		})
	}
}
