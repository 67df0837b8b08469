// Package upgradesock is the root-only socket over which the upgrade
// pod (system upgrade) asks PID 1 to stage an image, roll back or say
// what is on the ESP: the request, the answer, the image passed as an
// open file. Both sides link it; only PID 1 links what checks images.
package upgradesock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/rootsock"
)

// SocketDir holds the upgrade socket; the upgrade pod mounts it.
const SocketDir = "/run/kios/upgrade"

// SocketName is the socket in SocketDir.
const SocketName = "upgrade.sock"

// Operations a Request asks for.
const (
	OpStage    = "stage"    // write the image passed with the request, to boot next
	OpRollback = "rollback" // boot the previous good version next
	OpStatus   = "status"   // say what is on the ESP
)

// Request is what the upgrade pod asks PID 1. A stage passes the image
// as an open file descriptor with it.
type Request struct {
	Op             string `json:"op"`
	Tries          int    `json:"tries,omitempty"` // boots the staged image gets to become healthy; 1 when 0
	AllowDowngrade bool   `json:"allowDowngrade,omitempty"`
	Reboot         bool   `json:"reboot,omitempty"` // reboot into it once staged (or rolled back)
}

// Result is PID 1's answer.
type Result struct {
	Running   string   `json:"running"`
	Entries   []string `json:"entries"`
	Next      string   `json:"next"` // the entry the loader boots next
	Done      []string `json:"done,omitempty"`
	Written   int64    `json:"written"` // bytes written to the ESP
	Rebooting bool     `json:"rebooting,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// Handler carries requests out (PID 1).
type Handler interface {
	Stage(img []byte, req Request) (Result, error)
	Rollback(req Request) (Result, error)
	Status() (Result, error)
}

// Logger is where the server reports refused clients.
type Logger interface {
	Printf(format string, args ...any)
}

// Listen makes the root-only socket at path.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// Serve answers root clients one at a time until ln is closed.
func Serve(ln *net.UnixListener, h Handler, log Logger) error {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		res, err := answer(c, h)
		if err != nil {
			res.Error = err.Error()
			events.Emit(log, events.UpgradeRefused, "err", err)
		}
		b, _ := json.Marshal(res)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(append(b, '\n'))
		c.Close()
	}
}

func answer(c *net.UnixConn, h Handler) (Result, error) {
	if err := rootsock.RequireRoot(c); err != nil {
		return Result{}, err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return Result{}, fmt.Errorf("read request: %w", err)
	}
	fds := descriptors(oob[:oobn])
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var req Request
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		return Result{}, fmt.Errorf("request %q: %w", buf[:n], err)
	}
	switch req.Op {
	case OpStatus:
		return h.Status()
	case OpRollback:
		return h.Rollback(req)
	case OpStage:
		if len(fds) != 1 {
			return Result{}, fmt.Errorf("stage: want the image as one file descriptor, got %d", len(fds))
		}
		img, unmap, err := mapFile(fds[0])
		if err != nil {
			return Result{}, err
		}
		defer unmap()
		return h.Stage(img, req)
	}
	return Result{}, fmt.Errorf("unknown operation %q (want %s, %s or %s)", req.Op, OpStage, OpRollback, OpStatus)
}

func descriptors(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// mapFile maps the image read-only: its pages are the page cache's, so
// a 60 MiB image costs PID 1 no heap.
func mapFile(fd int) ([]byte, func(), error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil, fmt.Errorf("stat the image: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil, errors.New("the image is not a regular file")
	}
	if st.Size == 0 {
		return nil, nil, errors.New("the image is empty")
	}
	b, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map the image: %w", err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

// Send asks PID 1 over the socket at path; image is passed with a stage.
func Send(path string, req Request, image *os.File) (Result, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return Result{}, fmt.Errorf("upgrade socket %s (is this a kiOS node with a data partition?): %w", path, err)
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	b, _ := json.Marshal(req)
	var oob []byte
	if image != nil {
		oob = unix.UnixRights(int(image.Fd()))
	}
	if _, _, err := uc.WriteMsgUnix(b, oob, nil); err != nil {
		return Result{}, fmt.Errorf("send request: %w", err)
	}
	// Writing an image to the ESP takes a while under emulation.
	uc.SetReadDeadline(time.Now().Add(10 * time.Minute))
	out, err := io.ReadAll(uc)
	if err != nil {
		return Result{}, fmt.Errorf("read answer: %w", err)
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		return Result{}, fmt.Errorf("answer %q: %w", out, err)
	}
	if res.Error != "" {
		return res, errors.New(res.Error)
	}
	return res, nil
}
