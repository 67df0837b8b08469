// Package containerd holds what PID 1 does with the container runtime:
// wait for its socket, import the primed images, and report container starts.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Socket is containerd's gRPC socket on the node.
const Socket = "/run/containerd/containerd.sock"

// WaitSocket waits, with inotify rather than a polling loop, until path
// exists and accepts connections, or ctx ends.
func WaitSocket(ctx context.Context, path string) error {
	dir := filepath.Dir(path)
	if err := waitExists(ctx, dir); err != nil {
		return err
	}
	if err := waitExists(ctx, path); err != nil {
		return err
	}
	// The file appears at bind(), a moment before listen().
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect %s: %w (last error: %v)", path, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitExists blocks until path exists; its parent must exist or appear.
func waitExists(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	parent := filepath.Dir(path)
	if _, err := os.Stat(parent); errors.Is(err, os.ErrNotExist) {
		if err := waitExists(ctx, parent); err != nil {
			return err
		}
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, parent, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		return fmt.Errorf("watch %s: %w", parent, err)
	}
	buf := make([]byte, 4096)
	for {
		// Check after adding the watch, so a file created meanwhile is seen.
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		timeout := 1000
		if dl, ok := ctx.Deadline(); ok {
			timeout = int(min(time.Until(dl), time.Second) / time.Millisecond)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("wait for %s: %w", path, ctx.Err())
		}
		if _, err := unix.Poll(pfd, max(timeout, 1)); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll inotify: %w", err)
		}
		_, _ = unix.Read(fd, buf) // drain; the Stat above decides
	}
}
