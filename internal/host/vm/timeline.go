package vm

import (
	"fmt"
	"io"
	"regexp"
	"time"
)

// Milestone is one named point of the boot, found on the console.
type Milestone struct {
	Name    string
	Pattern *regexp.Regexp
}

// Milestones are the boot's points, in order, as PID 1 and the kernel
// print them.
var Milestones = []Milestone{
	{"kernel start", regexp.MustCompile(`Linux version `)},
	{"init start", regexp.MustCompile(`kios: t=[0-9.]+ `)},
	{"containerd ready", regexp.MustCompile(`kios: t=[0-9.]+ event=containerd-ready`)},
	{"kubelet started", regexp.MustCompile(`kios: t=[0-9.]+ event=service-started name=kubelet`)},
	{"first static pod running", regexp.MustCompile(`kios: t=[0-9.]+ event=container-started `)},
}

// Timeline maps milestone names to their time from QEMU start.
type Timeline struct {
	Names []string
	At    map[string]time.Duration
}

// TimelineOf finds the first line of each milestone.
func TimelineOf(lines []Line) Timeline {
	t := Timeline{At: map[string]time.Duration{}}
	for _, m := range Milestones {
		t.Names = append(t.Names, m.Name)
		for _, l := range lines {
			if m.Pattern.MatchString(l.Text) {
				t.At[m.Name] = l.At
				break
			}
		}
	}
	return t
}

// Print writes the timeline as a table.
func (t Timeline) Print(w io.Writer) {
	fmt.Fprintln(w, "boot timeline (seconds from QEMU start):")
	for _, n := range t.Names {
		if d, ok := t.At[n]; ok {
			fmt.Fprintf(w, "  %-26s %7.2f\n", n, d.Seconds())
		} else {
			fmt.Fprintf(w, "  %-26s %7s\n", n, "-")
		}
	}
}
