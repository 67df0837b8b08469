package grow

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/rootsock"
)

// SocketDir holds the grant socket; the grow pod mounts the directory
// (it exists, empty, on a RAM-only node).
const SocketDir = "/run/kios/grant"

// SocketName is the grant socket inside SocketDir.
const SocketName = "data.sock"

// Grant is what PID 1 hands out: the data partition's disk and a
// directory on its mounted filesystem.
type Grant struct {
	Disk      string // /dev/vda
	Partition int
	Dir       string // /run/kios/data
}

type header struct {
	Disk      string `json:"disk"`
	Partition int    `json:"partition"`
}

// Logger is where the server reports refused clients.
type Logger interface {
	Printf(format string, args ...any)
}

// Serve answers each root client with the open disk and directory, then
// closes the connection. Other users get nothing. It returns when ln
// is closed.
func Serve(ln *net.UnixListener, g Grant, log Logger) error {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		if err := answer(c, g); err != nil {
			events.Emit(log, events.GrantRefused, "err", err)
		}
		c.Close()
	}
}

func answer(c *net.UnixConn, g Grant) error {
	if err := rootsock.RequireRoot(c); err != nil {
		return err
	}
	disk, err := os.OpenFile(g.Disk, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open disk: %w", err)
	}
	defer disk.Close()
	dir, err := os.Open(g.Dir)
	if err != nil {
		return fmt.Errorf("open data directory: %w", err)
	}
	defer dir.Close()
	msg, _ := json.Marshal(header{Disk: g.Disk, Partition: g.Partition})
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _, err = c.WriteMsgUnix(msg, unix.UnixRights(int(disk.Fd()), int(dir.Fd())), nil)
	if err != nil {
		return fmt.Errorf("send grant: %w", err)
	}
	return nil
}

// Listen makes the root-only grant socket at path.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// ErrNoGrant means nobody serves the socket: the node has no data
// partition.
var ErrNoGrant = errors.New("no data partition is granted")

// Request asks PID 1 for the data partition.
func Request(path string) (Target, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ECONNREFUSED) {
			return Target{}, fmt.Errorf("%w (%v)", ErrNoGrant, err)
		}
		return Target{}, fmt.Errorf("grant socket: %w", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, oob := make([]byte, 512), make([]byte, unix.CmsgSpace(2*4))
	n, oobn, _, _, err := c.(*net.UnixConn).ReadMsgUnix(buf, oob)
	if err != nil {
		return Target{}, fmt.Errorf("read grant: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return Target{}, fmt.Errorf("grant without descriptors (is the caller root?): %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 2 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return Target{}, fmt.Errorf("grant: want 2 descriptors, got %d: %v", len(fds), err)
	}
	var h header
	if err := json.Unmarshal(buf[:n], &h); err != nil || h.Partition < 1 {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return Target{}, fmt.Errorf("grant: bad header %q", buf[:n])
	}
	return Target{Disk: os.NewFile(uintptr(fds[0]), h.Disk), Dir: os.NewFile(uintptr(fds[1]), "data"), DiskName: h.Disk, Partition: h.Partition}, nil
}
