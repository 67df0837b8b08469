package syssock

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type rec struct {
	mu  sync.Mutex
	got []string
}

func (r *rec) add(s string) { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }
func (r *rec) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}
func (r *rec) SoftShutdown()         { r.add("soft") }
func (r *rec) ContinueShutdown()     { r.add("continue") }
func (r *rec) RestartKubelet() error { r.add("kubelet"); return nil }
func (r *rec) RestartRuntime() error { r.add("runtime"); return nil }

type tlog struct{ t *testing.T }

func (l tlog) Printf(f string, a ...any) { l.t.Logf(f, a...) }

// serve runs a server on a fresh socket until the test ends.
func serve(t *testing.T, h Handler, log Logger) (path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "system.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go (&Server{H: h, Log: log}).Serve(ln)
	return path
}

func TestServer(t *testing.T) {
	h := &rec{}
	path := serve(t, h, tlog{t})

	// A client that never reads, and one that listens for the event.
	stuck, _ := net.Dial("unix", path)
	defer stuck.Close()
	listener, _ := net.Dial("unix", path)
	defer listener.Close()
	// Each request is its own connection: wait for one before the next,
	// so the order is known.
	if err := Send(path, RestartKubelet); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.list()) == 1 })
	if err := Send(path, 0x7f); err != nil { // unknown: ignored
		t.Fatal(err)
	}
	if err := Send(path, RestartRuntime); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(h.list()) == 2 })
	if err := Send(path, SoftShutdown); err != nil {
		t.Fatal(err)
	}
	listener.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := listener.Read(b); err != nil || b[0] != SoftShutdown {
		t.Errorf("broadcast: %v %x", err, b)
	}
	waitFor(t, func() bool { return len(h.list()) == 3 })
	got := h.list()
	if got[0] != "kubelet" || got[1] != "runtime" || got[2] != "soft" {
		t.Errorf("handled %v", got)
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	for i := 0; i < 500 && !f(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !f() {
		t.Fatal("timed out")
	}
}

func FuzzHandle(f *testing.F) {
	f.Add([]byte{0x01, 0x02, 0x03, 0x04, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &rec{}
		s := &Server{H: h, Log: nopLog{}}
		requests := 0
		for _, b := range data {
			known := b >= SoftShutdown && b <= RestartRuntime
			if got := s.Handle(b); got != known {
				t.Fatalf("Handle(%#02x) = %v, want %v", b, got, known)
			}
			if known {
				requests++
			}
		}
		// Each request calls its handler once; nothing else calls one.
		if got := len(h.list()); got != requests {
			t.Errorf("%d handler calls for %d requests", got, requests)
		}
	})
}

// A client streaming unknown bytes is logged once, however many it sends.
func TestUnknownBytesLogOncePerClient(t *testing.T) {
	h := &rec{}
	log := &countLog{}
	path := serve(t, h, log)
	for client := 0; client < 2; client++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		garbage := make([]byte, 4096)
		for i := range garbage {
			garbage[i] = byte(0x80 + i%64)
		}
		if _, err := c.Write(garbage); err != nil {
			t.Fatal(err)
		}
		// A request after the garbage is still served: the client is read
		// to the end.
		if _, err := c.Write([]byte{RestartKubelet}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return len(h.list()) == client+1 })
		c.Close()
	}
	if got := log.count("event=system-socket-ignored"); got != 2 {
		t.Errorf("%d ignored-byte lines for two clients sending 4096 unknown bytes each, want 2", got)
	}
}

type countLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *countLog) Printf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *countLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
