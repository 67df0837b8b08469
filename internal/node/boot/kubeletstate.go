package boot

import (
	"sync"
	"time"

	"kios.dev/kios/internal/shared/kubelet"
)

// kubeletState is what PID 1 knows of the kubelet it supervises: the
// configuration the running one started with, and whether a restart was
// asked for and has not happened yet. The kubeconfig watch, the route
// watch and the system socket read and change it from their own
// goroutines, so every access holds its lock.
type kubeletState struct {
	mu         sync.Mutex
	snapshot   kubelet.Snapshot
	started    bool
	pending    bool      // a restart was asked for; the kubelet has not started again yet
	routeWatch sync.Once // started when a kubelet is first held standalone
	unheld     chan struct{}
	unheldAt   time.Time
}

// unheldSince is when unheldC was closed (zero before).
func (k *kubeletState) unheldSince() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unheldAt
}

// unheldC is closed once a kubelet starts in the mode it is to run in
// (not held standalone): the boot's own work is then nearly done.
func (k *kubeletState) unheldC() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unheldLocked()
}

// unheldLocked makes the channel on first use; k.mu is held.
func (k *kubeletState) unheldLocked() chan struct{} {
	if k.unheld == nil {
		k.unheld = make(chan struct{})
	}
	return k.unheld
}

// starting records the configuration a kubelet starts with.
func (k *kubeletState) starting(snap kubelet.Snapshot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.snapshot, k.started, k.pending = snap, true, false
	if !snap.Held && k.unheldAt.IsZero() {
		k.unheldAt = time.Now()
		close(k.unheldLocked())
	}
}

// held tells whether the running kubelet is held standalone.
func (k *kubeletState) held() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.started && k.snapshot.Held
}

// askRestart marks a restart as pending.
func (k *kubeletState) askRestart() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending = true
}

// restartFor decides whether cur calls for a restart of the running
// kubelet and, if it does, marks it pending so that one restart is
// asked for once. It returns what the running kubelet started with.
func (k *kubeletState) restartFor(cur kubelet.Snapshot) (prev kubelet.Snapshot, restart bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.started && !k.pending && kubelet.NeedsRestart(k.snapshot, cur) {
		k.pending = true
		return k.snapshot, true
	}
	return k.snapshot, false
}
