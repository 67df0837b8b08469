// Command containerd-shim-runc-v2 is containerd's own runc shim with one
// change: starts of the same shim group are serialised.
//
// kiOS groups its system pods into one shim (the io.containerd.runc.v2.group
// annotation). The kubelet starts those pods at once, so several shim
// "start" helpers race for the group's socket. Upstream's helper binds the
// socket, then listens; a second helper connecting between the two is
// refused, takes the socket for stale, removes it and starts a shim of its
// own. The first shim is left listening on a socket nobody can reach:
// an empty shim that never exits. Holding a lock per group across the
// start closes that window; everything else is upstream's code.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/manager"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task/plugin"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/shim"
	"golang.org/x/sys/unix"
)

// groupAnnotation is the first of upstream's group labels: the one kiOS's
// containerd passes from the pod's annotations.
const groupAnnotation = "io.containerd.runc.v2.group"

type groupLocked struct{ shim.Shim }

func (g groupLocked) Start(ctx context.Context, p *bootapi.BootstrapParams) (*bootapi.BootstrapResult, error) {
	group := bundleGroup("config.json") // the helper runs in the bundle, as upstream's readSpec assumes
	if group == "" {
		return g.Shim.Start(ctx, p) // a shim of its own: nothing shared to race for
	}
	dir := p.GetSocketDir()
	if dir == "" {
		dir = filepath.Join(defaults.DefaultStateDir, "s")
	}
	addr, err := shim.CreateSocketAddress(ctx, dir, p.GetContainerdGrpcAddress(), group, false)
	if err != nil {
		return nil, err
	}
	var res *bootapi.BootstrapResult
	err = withLock(strings.TrimPrefix(addr, "unix://")+".lock", func() error {
		res, err = g.Shim.Start(ctx, p)
		return err
	})
	return res, err
}

// bundleGroup is the shim group the bundle's spec asks for, or "".
func bundleGroup(config string) string {
	b, err := os.ReadFile(config)
	if err != nil {
		return "" // upstream's Start reports the unreadable spec
	}
	var s struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(b, &s) != nil {
		return ""
	}
	return s.Annotations[groupAnnotation]
}

// withLock runs f holding an exclusive flock on path. The kernel drops
// the lock if the process dies; the file is opened close-on-exec, so the
// long-lived shim the start spawns does not inherit it.
func withLock(path string, f func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	return f()
}

func main() {
	shim.RunShim(context.Background(), groupLocked{manager.NewShimManager("io.containerd.runc.v2")})
}
