package logind

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"kios.dev/kios/internal/shared/events"
)

type inhibitor struct {
	what, who, why, mode string
}

// inhibit records a lock and returns the descriptor to hand the client:
// the write end of a pipe. When every copy of it is closed (the client
// released the lock, or died), the read end sees EOF and the lock goes.
func (s *Server) inhibit(what, who, why, mode string) (*os.File, error) {
	if mode != "delay" && mode != "block" {
		return nil, fmt.Errorf("inhibit mode %q: want delay or block", mode)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	in := &inhibitor{what: what, who: who, why: why, mode: mode}
	s.mu.Lock()
	if s.inhibitors == nil {
		s.inhibitors = map[*inhibitor]bool{}
	}
	if s.released == nil {
		s.released = make(chan struct{})
	}
	s.inhibitors[in] = true
	s.mu.Unlock()
	events.Emit(s.Log, events.InhibitorTaken, "who", who, "what", what, "mode", mode)
	go func() {
		_, _ = io.Copy(io.Discard, r)
		r.Close()
		s.mu.Lock()
		delete(s.inhibitors, in)
		close(s.released)
		s.released = make(chan struct{})
		s.mu.Unlock()
		events.Emit(s.Log, events.InhibitorReleased, "who", who, "what", what)
	}()
	return w, nil
}

// shutdownLocks counts the locks that delay a shutdown, and returns a
// channel closed when one goes.
func (s *Server) shutdownLocks() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = make(chan struct{})
	}
	n := 0
	for in := range s.inhibitors {
		if strings.Contains(in.what, "shutdown") && in.mode == "delay" {
			n++
		}
	}
	return n, s.released
}

// PrepareForShutdown tells every client that asked for signals that the
// node shuts down, then waits until no lock delays it any more, the
// maximum delay and the slack have passed, or ctx ends (0x02 on the
// system socket).
// It returns how it ended: "released", "timeout" or "cut-short".
func (s *Server) PrepareForShutdown(ctx context.Context) string {
	max := s.DelayMax()
	sig := prepareForShutdown(true)
	s.mu.Lock()
	var targets []*conn
	for c := range s.conns {
		if c.matches {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	for _, c := range targets {
		if err := c.send(sig); err != nil {
			events.Emit(s.Log, events.SystemBusWriteFailed, "client", c.name, "err", err)
		}
	}
	n, _ := s.shutdownLocks()
	events.Emit(s.Log, events.PrepareForShutdown, "clients", len(targets), "locks", n, "max_delay", max, "slack", s.Slack)
	deadline := time.NewTimer(max + s.Slack)
	defer deadline.Stop()
	for {
		n, released := s.shutdownLocks()
		if n == 0 {
			return "released"
		}
		select {
		case <-released:
		case <-deadline.C:
			return "timeout"
		case <-ctx.Done():
			return "cut-short"
		}
	}
}
