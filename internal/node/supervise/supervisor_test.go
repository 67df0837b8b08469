package supervise

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	var got []time.Duration
	for n := 0; n < 6; n++ {
		got = append(got, b.Delay(n))
	}
	want := []time.Duration{1e9, 2e9, 4e9, 8e9, 10e9, 10e9}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
}

type fakeProcs struct {
	mu     sync.Mutex
	next   int
	starts []string
	fail   bool
}

func (f *fakeProcs) start(name string, argv, env []string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("exec format error")
	}
	f.next++
	f.starts = append(f.starts, name)
	return 1000 + f.next, nil
}

func (f *fakeProcs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

type tlog struct{ t *testing.T }

func (l tlog) Printf(f string, a ...any) { l.t.Logf(f, a...) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSupervisorRestartsAfterExit(t *testing.T) {
	fp := &fakeProcs{}
	var signalled []int
	s := New(fp.start, Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, ResetAfter: time.Hour}, tlog{t},
		func(pid int, sig syscall.Signal) error { signalled = append(signalled, pid); return nil })
	args := func() ([]string, error) { return []string{"/bin/x"}, nil }
	if err := s.Add(Service{Name: "kubelet", Args: args}); err != nil {
		t.Fatal(err)
	}
	if s.Add(Service{Name: "kubelet", Args: args}) == nil {
		t.Error("adding a service twice succeeded")
	}
	for i := 0; i < 3; i++ {
		pid := s.Pid("kubelet")
		if pid == 0 {
			t.Fatal("kubelet not running")
		}
		before, ok := s.Started("kubelet")
		if !ok {
			t.Fatal("Started: kubelet not running")
		}
		if !s.Exited(pid, syscall.WaitStatus(1<<8)) {
			t.Fatal("Exited did not recognise the service pid")
		}
		waitFor(t, "restart", func() bool { return s.Pid("kubelet") != 0 && s.Pid("kubelet") != pid })
		// The health gate counts from the restart.
		if after, ok := s.Started("kubelet"); !ok || !after.After(before) {
			t.Errorf("Started after a restart: %v, %t; before %v", after, ok, before)
		}
	}
	if _, ok := s.Started("containerd"); ok {
		t.Error("Started of a service never added: ok")
	}
	if s.Exited(4242, 0) {
		t.Error("an orphan pid was taken for a service")
	}
	if got := fp.count(); got != 4 {
		t.Errorf("started %d times, want 4", got)
	}
	if err := s.Restart("kubelet"); err != nil {
		t.Fatal(err)
	}
	if len(signalled) != 1 || signalled[0] != s.Pid("kubelet") {
		t.Errorf("Restart signalled %v", signalled)
	}
	if err := s.Restart("nope"); err == nil {
		t.Error("Restart of an unknown service succeeded")
	}
	s.Stop()
	pid := s.Pid("kubelet")
	s.Exited(pid, 0)
	time.Sleep(20 * time.Millisecond)
	if got := fp.count(); got != 4 {
		t.Errorf("a stopped supervisor restarted: %d starts", got)
	}
}

func TestSupervisorRetriesFailedStart(t *testing.T) {
	fp := &fakeProcs{fail: true}
	s := New(fp.start, Backoff{Initial: time.Millisecond, Max: time.Millisecond}, tlog{t},
		func(int, syscall.Signal) error { return nil })
	if err := s.Add(Service{Name: "containerd", Args: func() ([]string, error) { return []string{"/bin/containerd"}, nil }}); err == nil {
		t.Fatal("want the first start's error")
	}
	fp.mu.Lock()
	fp.fail = false
	fp.mu.Unlock()
	waitFor(t, "a later start to succeed", func() bool { return s.Pid("containerd") != 0 })
}
