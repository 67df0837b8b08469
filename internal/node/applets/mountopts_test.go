package applets

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseMountArgs(t *testing.T) {
	tests := []struct {
		args []string
		want MountRequest
	}{
		{[]string{"-t", "tmpfs", "-o", "size=64m,noswap", "tmpfs", "/v"},
			MountRequest{Source: "tmpfs", Target: "/v", FSType: "tmpfs", Data: "size=64m,noswap"}},
		{[]string{"-o", "bind", "/a", "/b"}, MountRequest{Source: "/a", Target: "/b", Flags: unix.MS_BIND}},
		{[]string{"-o", "bind,remount,ro", "/a", "/b"},
			MountRequest{Source: "/a", Target: "/b", Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY}},
		{[]string{"--make-rshared", "/x"}, MountRequest{Source: "none", Target: "/x", Propagation: unix.MS_SHARED | unix.MS_REC}},
		{[]string{"-t", "ext4", "-o", "ro,nosuid,nodev,noexec", "/dev/vdb", "/m"},
			MountRequest{Source: "/dev/vdb", Target: "/m", FSType: "ext4", Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}},
		{[]string{"-o", "ro,rw", "-t", "tmpfs", "t", "/m"}, MountRequest{Source: "t", Target: "/m", FSType: "tmpfs"}},
	}
	for _, tt := range tests {
		got, err := ParseMountArgs(tt.args)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestParseMountArgsErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"-t"}, {"-o"}, {"a", "b", "c"}, {"--weird", "/x"}, {"-t", "tmpfs", "/only-target"}} {
		if _, err := ParseMountArgs(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
