// Package syssock is the system socket, /run/system.sock: clients send
// single bytes to ask PID 1 for a shutdown or a restart, and receive the
// shutdown event. The protocol is the original kiOS's.
package syssock

import (
	"fmt"
	"net"
	"sync"
	"time"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/rootsock"
)

// Bytes of the protocol.
const (
	SoftShutdown     byte = 0x01 // from a client: start a graceful shutdown; to clients: shutdown requested
	ContinueShutdown byte = 0x02
	RestartKubelet   byte = 0x03
	RestartRuntime   byte = 0x04
)

// Path is where PID 1 listens.
const Path = "/run/system.sock"

// Handler acts on requests. Calls must not block for long.
type Handler interface {
	SoftShutdown()
	ContinueShutdown()
	RestartKubelet() error
	RestartRuntime() error
}

// Logger is the one method the server needs.
type Logger interface {
	Printf(format string, args ...any)
}

// Server serves the socket.
type Server struct {
	H   Handler
	Log Logger

	mu      sync.Mutex
	clients map[net.Conn]bool
}

// Listen opens the socket, root-only, replacing a stale one.
func Listen(path string) (net.Listener, error) { return rootsock.Listen(path) }

// Serve accepts clients until the listener closes.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.clients == nil {
			s.clients = map[net.Conn]bool{}
		}
		s.clients[c] = true
		s.mu.Unlock()
		go s.client(c)
	}
}

func (s *Server) client(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 64)
	ignored := 0
	for {
		n, err := c.Read(buf)
		for _, b := range buf[:n] {
			if s.Handle(b) {
				continue
			}
			// One line per client: a client streaming garbage must not
			// flood the kernel log (PID 1 writes /dev/kmsg unthrottled).
			if ignored++; ignored == 1 {
				events.Emit(s.Log, events.SystemSocketIgnored, "byte", fmt.Sprintf("%#02x", b), "note", "further unknown bytes from this client are not logged")
			}
		}
		if err != nil {
			return
		}
	}
}

// Handle acts on one byte from a client; it reports whether the byte
// is a request.
func (s *Server) Handle(b byte) bool {
	switch b {
	case SoftShutdown:
		events.Emit(s.Log, events.SystemSocket, "request", "soft-shutdown")
		s.Broadcast(SoftShutdown)
		s.H.SoftShutdown()
	case ContinueShutdown:
		events.Emit(s.Log, events.SystemSocket, "request", "continue-shutdown")
		s.H.ContinueShutdown()
	case RestartKubelet:
		events.Emit(s.Log, events.SystemSocket, "request", "restart-kubelet")
		if err := s.H.RestartKubelet(); err != nil {
			events.Emit(s.Log, events.SystemSocketError, "err", err)
		}
	case RestartRuntime:
		events.Emit(s.Log, events.SystemSocket, "request", "restart-runtime")
		if err := s.H.RestartRuntime(); err != nil {
			events.Emit(s.Log, events.SystemSocketError, "err", err)
		}
	default:
		return false
	}
	return true
}

// Broadcast sends b to every client; a client that does not take it
// within 100 ms is dropped, so none can block PID 1.
func (s *Server) Broadcast(b byte) {
	s.mu.Lock()
	clients := make([]net.Conn, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Write([]byte{b}); err != nil {
			c.Close()
		}
	}
}

// Send connects to the socket at path and sends one request.
func Send(path string, b byte) error {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return fmt.Errorf("system socket: %w", err)
	}
	defer c.Close()
	_, err = c.Write([]byte{b})
	return err
}
