package syssock

import (
	"net"
	"path/filepath"
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

func TestServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "system.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &rec{}
	s := &Server{H: h, Log: tlog{t}}
	go s.Serve(ln)

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
		s := &Server{H: &rec{}, Log: nopLog{}}
		for _, b := range data {
			s.Handle(b)
		}
	})
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
