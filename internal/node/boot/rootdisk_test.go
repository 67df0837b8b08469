package boot

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitNodeUp(t *testing.T) {
	defer func(s, l time.Duration) { RootDiskSettle, RootDiskLatest = s, l }(RootDiskSettle, RootDiskLatest)
	RootDiskSettle, RootDiskLatest = 300*time.Millisecond, 3*time.Second
	plenty := func() (int64, error) { return 2 << 30, nil }
	short := func() (int64, error) { return 100 << 20, nil }
	unreadable := func() (int64, error) { return 0, errors.New("no meminfo") }
	closed := make(chan struct{})
	close(closed)
	now := func() time.Time { return time.Now() }
	for _, tc := range []struct {
		name     string
		unheld   <-chan struct{}
		since    func() time.Time
		avail    func() (int64, error)
		min, max time.Duration
	}{
		{"kubelet in its mode: waits the settle time", closed, now, plenty, 300 * time.Millisecond, 2 * time.Second},
		{"kubelet in its mode for longer than the settle time: no wait", closed, func() time.Time { return time.Now().Add(-time.Minute) }, plenty, 0, 200 * time.Millisecond},
		{"kubelet held: waits until the latest", make(chan struct{}), now, plenty, 3 * time.Second, 5 * time.Second},
		{"short of memory: no wait", make(chan struct{}), now, short, 0, 200 * time.Millisecond},
		{"meminfo unreadable: waits as if plenty", closed, now, unreadable, 300 * time.Millisecond, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if err := waitNodeUp(context.Background(), tc.unheld, tc.since, tc.avail); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Errorf("returned after %v, want %v to %v", took, tc.min, tc.max)
			}
		})
	}
	t.Run("memory runs short during the wait", func(t *testing.T) {
		var calls int
		avail := func() (int64, error) {
			if calls++; calls > 1 {
				return 100 << 20, nil
			}
			return 2 << 30, nil
		}
		start := time.Now()
		if err := waitNodeUp(context.Background(), make(chan struct{}), time.Now, avail); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("returned after %v, want at the first check after the drop (2 s)", took)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := waitNodeUp(ctx, make(chan struct{}), time.Now, plenty); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}
