package logind

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"kios.dev/kios/internal/shared/testenv"
)

type testLog struct{ t *testing.T }

func (l testLog) Printf(f string, a ...any) { l.t.Logf(f, a...) }

func startBus(t *testing.T, etc string) (*Server, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "bus")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &Server{Log: testLog{t}, DelayMax: func() time.Duration { return ReadDelayMax(etc) }}
	go s.Serve(ln)
	return s, sock
}

// TestKubeletCalls makes the node-shutdown manager's calls, in its
// order, with the D-Bus library it uses.
func TestKubeletCalls(t *testing.T) {
	testenv.NeedRoot(t) // the bus answers root only
	etc := t.TempDir()
	s, sock := startBus(t, etc)
	conn, err := dbus.Connect("unix:path=" + sock)
	if err != nil {
		t.Fatalf("connect and authenticate: %v", err)
	}
	defer conn.Close()
	obj := conn.Object(login1Name, login1Path)

	delay := func() time.Duration {
		v, err := obj.GetProperty(login1Iface + ".InhibitDelayMaxUSec")
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(v.Value().(uint64)) * time.Microsecond
	}
	if got := delay(); got != DefaultDelayMax {
		t.Errorf("InhibitDelayMaxUSec = %s, want logind's default %s", got, DefaultDelayMax)
	}
	// The kubelet raises it with a drop-in and asks logind to reload.
	os.MkdirAll(filepath.Join(etc, "systemd", "logind.conf.d"), 0o755)
	os.WriteFile(filepath.Join(etc, "systemd", "logind.conf.d", "99-kubelet.conf"),
		[]byte("# Kubelet logind override\n[Login]\nInhibitDelayMaxSec=3\n"), 0o644)
	if call := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").Call(
		systemdIface+".KillUnit", 0, "systemd-logind.service", "all", int32(1)); call.Err != nil {
		t.Fatalf("KillUnit: %v", call.Err)
	}
	if got := delay(); got != 3*time.Second {
		t.Errorf("InhibitDelayMaxUSec after the drop-in = %s, want 3s", got)
	}

	call := obj.Call(login1Iface+".Inhibit", 0, "shutdown", "kubelet", "Kubelet needs time to handle node shutdown", "delay")
	if call.Err != nil {
		t.Fatalf("Inhibit: %v", call.Err)
	}
	var fd uint32
	if err := call.Store(&fd); err != nil {
		t.Fatalf("store the lock: %v", err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(login1Iface), dbus.WithMatchMember("PrepareForShutdown"),
		dbus.WithMatchObjectPath(login1Path)); err != nil {
		t.Fatalf("AddMatch: %v", err)
	}
	signals := make(chan *dbus.Signal, 1)
	conn.Signal(signals)

	done := make(chan string, 1)
	start := time.Now()
	go func() { done <- s.PrepareForShutdown(context.Background()) }()
	select {
	case sig := <-signals:
		if sig.Name != login1Iface+".PrepareForShutdown" || len(sig.Body) != 1 || sig.Body[0] != true {
			t.Errorf("signal %+v, want PrepareForShutdown(true)", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no PrepareForShutdown signal")
	}
	select {
	case how := <-done:
		t.Fatalf("shutdown went on (%s) while the lock was held", how)
	case <-time.After(300 * time.Millisecond):
	}
	syscall.Close(int(fd)) // the kubelet has stopped its pods
	select {
	case how := <-done:
		if how != "released" || time.Since(start) > 2*time.Second {
			t.Errorf("PrepareForShutdown ended %q after %s, want released at once", how, time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not go on after the lock was released")
	}

	// Unknown calls get an error, not a hang.
	if err := obj.Call(login1Iface+".PowerOff", 0, false).Err; err == nil {
		t.Error("PowerOff answered without an error")
	}
}

func TestPrepareForShutdownLimits(t *testing.T) {
	testenv.NeedRoot(t) // the bus answers root only
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "systemd"), 0o755)
	os.WriteFile(filepath.Join(etc, "systemd", "logind.conf"), []byte("[Login]\nInhibitDelayMaxSec=500ms\n"), 0o644)
	s, sock := startBus(t, etc)
	conn, err := dbus.Connect("unix:path=" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	call := conn.Object(login1Name, login1Path).Call(login1Iface+".Inhibit", 0, "shutdown", "kubelet", "test", "delay")
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	// A holder that never lets go: the wait ends at the maximum delay.
	start := time.Now()
	if how := s.PrepareForShutdown(context.Background()); how != "timeout" || time.Since(start) < 400*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("held lock: ended %q after %s, want timeout after 500ms", how, time.Since(start))
	}
	// With slack, a held lock is waited for past the maximum delay.
	s.Slack = 700 * time.Millisecond
	start = time.Now()
	if how := s.PrepareForShutdown(context.Background()); how != "timeout" || time.Since(start) < 1100*time.Millisecond || time.Since(start) > 4*time.Second {
		t.Errorf("held lock with slack: ended %q after %s, want timeout after 1.2s", how, time.Since(start))
	}
	// 0x02 on the system socket cuts the wait short.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if how := s.PrepareForShutdown(ctx); how != "cut-short" {
		t.Errorf("cancelled: ended %q", how)
	}
	// A holder that dies releases its lock with it.
	conn.Close()
	var fd uint32
	call.Store(&fd)
	syscall.Close(int(fd))
	start = time.Now()
	if how := s.PrepareForShutdown(context.Background()); how != "released" {
		t.Errorf("after the holder left: ended %q after %s", how, time.Since(start))
	}
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "30s": 30 * time.Second, "1min 30s": 90 * time.Second, "500ms": 500 * time.Millisecond,
		"2.5": 2500 * time.Millisecond, "infinity": 24 * time.Hour,
	} {
		got, err := ParseTimespan(in)
		if err != nil || got != want {
			t.Errorf("%q = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-1", "1e12"} {
		if _, err := ParseTimespan(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
