// Package supervise keeps the node's long-lived programs (containerd, the
// kubelet) running: it restarts them with capped exponential backoff and
// learns of their exits from PID 1's reaper, which reaps every child.
package supervise

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"kios.dev/kios/internal/shared/events"
)

// Logger is the one method the supervisor needs.
type Logger interface {
	Printf(format string, args ...any)
}

// Service is a program to keep running.
type Service struct {
	Name string
	// Args builds the command line at each start, so a restarted kubelet
	// picks up files (a kubeconfig) that appeared meanwhile.
	Args func() ([]string, error)
	Env  []string
}

// Starter starts a process and returns its pid without waiting for it.
type Starter func(name string, argv, env []string) (pid int, err error)

// Backoff is the restart delay policy.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration // a run at least this long resets the delay
}

// Delay returns the wait before restart number n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Supervisor runs services. Create it with New.
type Supervisor struct {
	start   Starter
	backoff Backoff
	log     Logger
	signal  func(pid int, sig syscall.Signal) error

	mu       sync.Mutex
	services map[string]*state
	byPid    map[int]*state
	stopped  bool
}

type state struct {
	svc      Service
	pid      int
	started  time.Time
	failures int
	exited   chan syscall.WaitStatus
	restarts int
	now      bool // restart without delay (asked for)
}

// New makes a Supervisor. signal sends a signal to a pid (unix.Kill).
func New(start Starter, b Backoff, log Logger, signal func(int, syscall.Signal) error) *Supervisor {
	return &Supervisor{start: start, backoff: b, log: log, signal: signal,
		services: map[string]*state{}, byPid: map[int]*state{}}
}

// Add starts svc and keeps it running until Stop.
func (s *Supervisor) Add(svc Service) error {
	st := &state{svc: svc, exited: make(chan syscall.WaitStatus, 1)}
	s.mu.Lock()
	if _, dup := s.services[svc.Name]; dup {
		s.mu.Unlock()
		return fmt.Errorf("service %s already supervised", svc.Name)
	}
	s.services[svc.Name] = st
	err := s.startLocked(st)
	s.mu.Unlock()
	go s.watch(st)
	return err
}

// startLocked starts st; s.mu is held so the reaper cannot report the
// exit of the new pid before it is recorded.
func (s *Supervisor) startLocked(st *state) error {
	argv, err := st.svc.Args()
	if err == nil {
		st.pid, err = s.start(st.svc.Name, argv, st.svc.Env)
	}
	if err != nil {
		st.pid = 0
		events.Emit(s.log, events.ServiceStartFailed, "name", st.svc.Name, "err", err)
		go func() { st.exited <- syscall.WaitStatus(255 << 8) }()
		return fmt.Errorf("start %s: %w", st.svc.Name, err)
	}
	st.started = time.Now()
	s.byPid[st.pid] = st
	events.Emit(s.log, events.ServiceStarted, "name", st.svc.Name, "pid", st.pid, "restarts", st.restarts)
	return nil
}

func (s *Supervisor) watch(st *state) {
	defer func() {
		// PID 1 must survive; a service left unsupervised is logged.
		if r := recover(); r != nil {
			events.Emit(s.log, events.SupervisorPanic, "name", st.svc.Name, "panic", r)
		}
	}()
	for ws := range st.exited {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		ran := time.Since(st.started)
		if st.pid != 0 && ran >= s.backoff.ResetAfter {
			st.failures = 0
		}
		delay := s.backoff.Delay(st.failures)
		if st.now {
			delay, st.now = 0, false
		} else {
			st.failures++
		}
		events.Emit(s.log, events.ServiceExited, "name", st.svc.Name, "status", describe(ws), "ran", fmt.Sprintf("%.1fs", ran.Seconds()), "restart_in", fmt.Sprintf("%.1fs", delay.Seconds()))
		s.mu.Unlock()
		time.Sleep(delay)
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		st.restarts++
		_ = s.startLocked(st) // failures are logged and retried through exited
		s.mu.Unlock()
	}
}

// Exited is called by the reaper for every reaped child. It reports
// whether the pid belonged to a supervised service.
func (s *Supervisor) Exited(pid int, ws syscall.WaitStatus) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byPid[pid]
	if !ok {
		return false
	}
	delete(s.byPid, pid)
	st.pid = 0
	st.exited <- ws
	return true
}

// Restart stops a service with SIGTERM; it is started again at once.
func (s *Supervisor) Restart(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.services[name]
	if !ok {
		return fmt.Errorf("no service %s", name)
	}
	if st.pid == 0 {
		return fmt.Errorf("service %s is not running", name)
	}
	st.now = true
	return s.signal(st.pid, syscall.SIGTERM)
}

// Pid returns the current pid of a service, 0 if it is not running.
func (s *Supervisor) Pid(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.services[name]; ok {
		return st.pid
	}
	return 0
}

// Started is when the running instance of a service started; ok is
// false while it is not running.
func (s *Supervisor) Started(name string) (t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, found := s.services[name]; found && st.pid != 0 {
		return st.started, true
	}
	return time.Time{}, false
}

// Stop ends supervision: exited services are no longer restarted.
// It returns the pids still running.
func (s *Supervisor) Stop() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	var pids []int
	for pid := range s.byPid {
		pids = append(pids, pid)
	}
	return pids
}

func describe(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	default:
		return fmt.Sprintf("status %#x", uint32(ws))
	}
}
