package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestBundleGroup(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ spec, want string }{
		{`{"annotations":{"io.containerd.runc.v2.group":"kios-system","x":"y"}}`, "kios-system"},
		{`{"annotations":{"io.kubernetes.cri.sandbox-id":"abc"}}`, ""},
		{`not json`, ""},
	} {
		p := filepath.Join(dir, "config.json")
		if err := os.WriteFile(p, []byte(tt.spec), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := bundleGroup(p); got != tt.want {
			t.Errorf("bundleGroup(%s) = %q, want %q", tt.spec, got, tt.want)
		}
	}
	if got := bundleGroup(filepath.Join(dir, "missing.json")); got != "" {
		t.Errorf("bundleGroup of a missing spec = %q, want \"\"", got)
	}
}

// TestWithLockSerialises runs starts of one group from two processes
// (as containerd runs two start helpers) and checks that their critical
// sections never overlap.
func TestWithLockSerialises(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "s", "group.lock")
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := withLock(lock, func() error {
				mu.Lock()
				inside++
				if inside > maxInside {
					maxInside = inside
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d starts held the group's lock at once, want 1", maxInside)
	}
	// flock is per open file description, so goroutines exclude each
	// other as separate processes do; a held lock also keeps another
	// process out (util-linux's flock(1) stands in for a second helper).
	err := withLock(lock, func() error {
		if out, err := exec.Command("flock", "-n", lock, "true").CombinedOutput(); err == nil {
			return fmt.Errorf("flock -n %s succeeded while a start held the lock (%s)", lock, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("flock", "-n", lock, "true").CombinedOutput(); err != nil {
		t.Fatalf("the lock is still held after the start returned: %v %s", err, out)
	}
}
