package vmtest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/internal/host/vm"
)

func TestStalled(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"watchdog: BUG: soft lockup - CPU#1 stuck for 104s! [kubelet:119]", true},
		{"INFO: task kubelet:119 blocked for more than 120 seconds.", true},
		{`"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.`, true},
		{"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", false},
		{"kios: t=8.175 step=modules status=start", false},
	} {
		if got := Stalled(tc.text); got != tc.want {
			t.Errorf("Stalled(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestDigest(t *testing.T) {
	at := func(s float64, text string) vm.Line {
		return vm.Line{At: time.Duration(s * float64(time.Second)), Text: text}
	}
	for _, tc := range []struct {
		name  string
		lines []vm.Line
		want  []string
	}{
		{"no console", nil, []string{"no PID 1 line on the console"}},
		{
			"stalled after a step",
			[]vm.Line{
				at(10, "[    3.7] kios: t=3.722 event=init-start pid=1"),
				at(15, "[    8.1] kios: t=8.175 step=modules status=start"),
				at(16, "[    8.5] Bridge firewalling registered"),
				at(40, "[   30.7] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"),
				at(41, "[   31.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"),
				at(300, "[  272.4] watchdog: BUG: soft lockup - CPU#1 stuck for 104s! [kubelet:119]"),
			},
			[]string{
				"last PID 1 line at 15.0 s (of 300.0 s): [    8.1] kios: t=8.175 step=modules status=start",
				"first rcu stall at 40.0 s: [   30.7] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
				"first soft lockup at 300.0 s: [  272.4] watchdog: BUG: soft lockup - CPU#1 stuck for 104s! [kubelet:119]",
			},
		},
		{
			"a pod killed",
			[]vm.Line{
				at(20, "[   20.7] Memory cgroup out of memory: Killed process 567 (inspector) total-vm:1265000kB"),
				at(21, "[   20.9] kios: t=20.9 event=container-started pod=hog"),
			},
			[]string{
				"last PID 1 line at 21.0 s (of 21.0 s): [   20.9] kios: t=20.9 event=container-started pod=hog",
				"first oom kill at 20.0 s: [   20.7] Memory cgroup out of memory: Killed process 567 (inspector) total-vm:1265000kB",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Digest(tc.lines)); diff != "" {
				t.Errorf("Digest (-want +got):\n%s", diff)
			}
		})
	}
}
