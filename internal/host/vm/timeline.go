package vm

import (
	"fmt"
	"io"
	"strings"
	"time"

	"kios.dev/kios/internal/shared/events"
)

// Milestone is one named point of the boot, found on the console.
type Milestone struct {
	Name  string
	Match func(line string) bool
}

// Milestones are the boot's points, in order, as PID 1 and the kernel
// print them.
var Milestones = []Milestone{
	{"kernel start", func(l string) bool { return strings.Contains(l, "Linux version ") }},
	{"init start", func(l string) bool { return strings.Contains(l, "kios: t=") }},
	{"containerd ready", event(events.ContainerdReady)},
	{"kubelet started", event(events.ServiceStarted.With("name", "kubelet"))},
	{"first static pod running", event(events.ContainerStarted)},
}

func event(m events.Matcher) func(string) bool {
	return func(l string) bool {
		e, ok := events.Parse(l)
		return ok && m.Match(e)
	}
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
			if m.Match(l.Text) {
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
