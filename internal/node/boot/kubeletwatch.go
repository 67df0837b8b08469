package boot

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// watchKubeconfigs restarts the kubelet when its kubeconfigs appear,
// change or go away (a join pod wrote them, an admin replaced them), as
// kubelet.NeedsRestart decides. It uses inotify on /etc/kubernetes.
func (n *Node) watchKubeconfigs(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	mask := uint32(unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM)
	if _, err := unix.InotifyAddWatch(fd, "/etc/kubernetes", mask); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch /etc/kubernetes: %w", err)
	}
	Go(n.Log, "kubeconfig-watch", func() {
		defer unix.Close(fd)
		buf := make([]byte, 4096)
		for {
			if _, err := unix.Read(fd, buf); err != nil && err != unix.EINTR {
				events.Emit(n.Log, events.KubeconfigWatchStopped, "err", err)
				return
			}
			time.Sleep(500 * time.Millisecond) // let a writer finish its rename
			n.restartKubeletIfNeeded()
		}
	})
	return nil
}

func (n *Node) restartKubeletIfNeeded() {
	cur, err := n.takeKubelet()
	if err != nil {
		events.Emit(n.Log, events.KubeconfigCheckFailed, "err", err)
		return
	}
	prev, restart := n.kubelet.restartFor(cur)
	if !restart { // nothing to do, or a restart is already on its way
		return
	}
	reason := "kubeconfig changed"
	if prev.Held && !cur.Held {
		reason = "API server routable"
	}
	events.Emit(n.Log, events.KubeletRestart, "reason", reason)
	if err := n.Sup.Restart("kubelet"); err != nil {
		events.Emit(n.Log, events.KubeletRestartFailed, "err", err)
	}
}
