// This file times the shutdown: it waits for the node to come back to
// rest after the growth pods, then presses the power button.

package bench

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kios.dev/kios/dev/bench/probe"
	"kios.dev/kios/internal/host/vm"
)

// quiesce waits until the node runs no more processes of each program
// than it did at rest, i.e. every removed pod's shim and pause are gone.
// Programs that were not running at rest are left out: systemd starts
// short-lived helpers of its own, which would keep the baseline from
// ever coming back to its resting process count.
func (l *labBoots) quiesce(ctx context.Context, rest probe.Footprint) error {
	var extra map[string]int // the last reading's
	var last error           // the last reading's, unless the deadline cut it
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 10*time.Minute, true, func(poll context.Context) (bool, error) {
		f, err := l.readFootprint(poll, false)
		if err != nil {
			if poll.Err() == nil {
				last = err
			}
			return false, nil
		}
		last, extra = nil, surplus(rest, f)
		return len(extra) == 0, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case last != nil:
		return fmt.Errorf("the node's processes could not be read after the growth pods were removed: %w", last)
	}
	return fmt.Errorf("the node did not come back to rest after the growth pods were removed: processes beyond the resting count, by program: %v", extra)
}

// surplus counts, per program that ran at rest, the processes now
// beyond its resting count.
func surplus(rest, now probe.Footprint) map[string]int {
	count := func(f probe.Footprint) map[string]int {
		m := map[string]int{}
		for _, p := range f.Processes {
			m[p.Name]++
		}
		return m
	}
	was, is := count(rest), count(now)
	extra := map[string]int{}
	for name, n := range is {
		if r, ok := was[name]; ok && n > r {
			extra[name] = n - r
		}
	}
	return extra
}

// shutdown runs a pod that takes 5 s to stop, presses the power button
// and times it to QEMU's exit.
func (l *labBoots) shutdown(ctx context.Context, v *vm.VM) (float64, error) {
	grace := int64(30)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "slow", Labels: map[string]string{"app": "slow"}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{{Name: "slow", Image: ProbeImage, Args: []string{"stop-after", "5s"}}}},
	}
	if _, err := l.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	if _, err := l.waitRunning(ctx, "slow", 1, 5*time.Minute); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := v.Powerdown(); err != nil {
		return 0, fmt.Errorf("power button: %w", err)
	}
	select {
	case <-v.Done():
		return time.Since(start).Seconds(), nil
	case <-time.After(3 * time.Minute):
		return 0, fmt.Errorf("no power-off 3 minutes after the power button")
	}
}
