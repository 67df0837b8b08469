package vmtest

import (
	"fmt"
	"regexp"
	"strings"

	"kios.dev/kios/internal/host/vm"
)

// kernelTrouble are the kernel's reports that say a guest stopped making
// progress or ran out of memory. A CI log keeps only its head and tail,
// so a wait that fails names the first of each kind with the last line
// PID 1 wrote: whether the node stalled, where, and since when.
var kernelTrouble = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"rcu stall", regexp.MustCompile(`rcu: INFO: .* detected stalls`)},
	{"soft lockup", softLockup},
	{"hung task", hungTask},
	{"oom kill", regexp.MustCompile(`Killed process \d+`)},
	{"kernel bug", regexp.MustCompile(`BUG: (kernel|unable|Bad|scheduling)|Oops:|Kernel panic`)},
}

var (
	softLockup = regexp.MustCompile(`soft lockup`)
	hungTask   = regexp.MustCompile(`hung_task|blocked for more than`)
)

// Stalled says whether a console line is the kernel reporting a CPU or
// a task stuck: a soft lockup or a hung task.
func Stalled(text string) bool {
	return softLockup.MatchString(text) || hungTask.MatchString(text)
}

// pid1Line matches the lines PID 1 writes (kios: t=...).
var pid1Line = regexp.MustCompile(`kios: t=`)

// Digest sums up a console for a failure message: the last line PID 1
// wrote and the first kernel report of each kind, each with its time
// from QEMU's start.
func Digest(lines []vm.Line) []string {
	var out []string
	lastPID1 := -1
	seen := map[string]bool{}
	var trouble []string
	for i, l := range lines {
		if pid1Line.MatchString(l.Text) {
			lastPID1 = i
		}
		for _, k := range kernelTrouble {
			if !seen[k.kind] && k.re.MatchString(l.Text) {
				seen[k.kind] = true
				trouble = append(trouble, fmt.Sprintf("first %s at %.1f s: %s", k.kind, l.At.Seconds(), strings.TrimSpace(l.Text)))
			}
		}
	}
	if lastPID1 >= 0 {
		l := lines[lastPID1]
		out = append(out, fmt.Sprintf("last PID 1 line at %.1f s (of %.1f s): %s", l.At.Seconds(), lines[len(lines)-1].At.Seconds(), strings.TrimSpace(l.Text)))
	} else {
		out = append(out, "no PID 1 line on the console")
	}
	return append(out, trouble...)
}
