package logind

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/rootsock"
)

// SocketPath is the system bus address the kubelet is given
// (DBUS_SYSTEM_BUS_ADDRESS=unix:path=SocketPath).
const SocketPath = "/run/dbus/system_bus_socket"

// Logger is where the bus reports what it does.
type Logger interface {
	Printf(format string, args ...any)
}

// Server is the bus and login1 in one.
type Server struct {
	Log Logger
	// DelayMax is logind's InhibitDelayMaxUSec, read when asked (the
	// kubelet writes a logind.conf.d drop-in and asks again).
	DelayMax func() time.Duration
	// Slack is how long past DelayMax PrepareForShutdown still waits for
	// a lock to go. The kubelet sets DelayMax to its own grace period and
	// spends all of it when its pod groups time out, so its release comes
	// just after it on a CPU-starved node.
	Slack time.Duration

	mu         sync.Mutex
	conns      map[*conn]bool
	next       int // for unique names
	inhibitors map[*inhibitor]bool
	released   chan struct{} // closed and replaced whenever an inhibitor goes
}

type conn struct {
	c       *net.UnixConn
	name    string
	unixFDs bool
	wmu     sync.Mutex
	serial  uint32
	matches bool // asked for signals (AddMatch)
}

// Listen makes the root-only bus socket.
func Listen(path string) (*net.UnixListener, error) { return rootsock.Listen(path) }

// Serve accepts clients until ln is closed.
func (s *Server) Serve(ln *net.UnixListener) error {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*conn]bool{}
	}
	s.mu.Unlock()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return err
		}
		go s.serveConn(c)
	}
}

const guid = "6b696f73206275732070696431000001" // 32 hex digits, fixed: one bus per boot

func (s *Server) serveConn(uc *net.UnixConn) {
	defer uc.Close()
	uid, err := rootsock.PeerUID(uc)
	if err != nil || uid != 0 {
		events.Emit(s.Log, events.SystemBusRefused, "uid", uid, "err", err)
		return
	}
	r := bufio.NewReader(uc)
	_ = uc.SetDeadline(time.Now().Add(10 * time.Second))
	fds, err := handshake(r, uc, uid, guid)
	if err != nil {
		events.Emit(s.Log, events.SystemBusRefused, "err", err)
		return
	}
	_ = uc.SetDeadline(time.Time{})
	s.mu.Lock()
	s.next++
	c := &conn{c: uc, name: fmt.Sprintf(":1.%d", s.next), unixFDs: fds}
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	for {
		msg, err := readMessage(r)
		if err != nil {
			return // the client left, or sent something that is not D-Bus
		}
		if msg.Type != dbus.TypeMethodCall {
			continue
		}
		reply := s.call(c, msg)
		if msg.Flags&dbus.FlagNoReplyExpected != 0 || reply == nil {
			continue
		}
		if err := c.send(reply); err != nil {
			events.Emit(s.Log, events.SystemBusWriteFailed, "client", c.name, "err", err)
			return
		}
	}
}

// send encodes msg with the connection's next serial and writes it, with
// any file descriptors it carries. A client that does not read within a
// second is cut off: no client can block PID 1.
func (c *conn) send(msg *dbus.Message) error {
	// The receiver takes descriptors only when the header counts them.
	if n, err := msg.CountFds(); err == nil && n > 0 {
		msg.Headers[dbus.FieldUnixFDs] = dbus.MakeVariant(uint32(n))
	}
	var buf bytes.Buffer
	fds, err := msg.EncodeToWithFDs(&buf, binary.LittleEndian)
	if err != nil {
		return err
	}
	if len(fds) > 0 && !c.unixFDs {
		return fmt.Errorf("client %s did not negotiate file descriptors", c.name)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.serial++
	b := buf.Bytes()
	// godbus keeps a message's serial to itself; it sits at bytes 8-11.
	binary.LittleEndian.PutUint32(b[8:12], c.serial)
	_ = c.c.SetWriteDeadline(time.Now().Add(time.Second))
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.c.WriteMsgUnix(b, oob, nil)
	return err
}
