package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
)

// The tests read PID 1's events through the typed names of
// internal/shared/events: renaming an event breaks their build, not a
// VM test an hour later.

// re is a regular expression that a field's whole value must match, for
// like.
type re string

// like matches events named n whose fields kv gives: alternating keys
// and values, a value being a string (the exact value; "*" only needs
// the key, as with Name.With) or an re (a value checked loosely, as
// `pid=\d+` once was).
func like(n events.Name, kv ...any) events.Matcher {
	type check struct {
		key   string
		exact string
		re    *regexp.Regexp
	}
	var checks []check
	var what []string
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		switch v := kv[i+1].(type) {
		case string:
			checks = append(checks, check{key: k, exact: v})
			what = append(what, k+"="+v)
		case re:
			checks = append(checks, check{key: k, re: regexp.MustCompile(`^(?:` + string(v) + `)$`)})
			what = append(what, k+"=~"+string(v))
		default:
			panic(fmt.Sprintf("like %s: value of %s is a %T, want a string or an re", n, k, v))
		}
	}
	return n.Where(strings.Join(what, " "), func(e events.Event) bool {
		for _, c := range checks {
			v, ok := e.Lookup(c.key)
			if !ok || (c.re == nil && c.exact != "*" && v != c.exact) || (c.re != nil && !c.re.MatchString(v)) {
				return false
			}
		}
		return true
	})
}

// isEvent tells whether a console or log line holds an event m matches.
func isEvent(line string, m events.Matcher) bool {
	e, ok := events.Parse(strings.TrimRight(line, "\r"))
	return ok && m.Match(e)
}

// eventsIn returns the events in console lines (a part of v.Lines())
// that m matches.
func eventsIn(lines []vm.Line, m events.Matcher) []events.Event {
	var out []events.Event
	for _, l := range lines {
		if e, ok := events.Parse(l.Text); ok && m.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// findEvents returns the events that m matches in a log's text (a
// console file, an init.log).
func findEvents(log string, m events.Matcher) []events.Event {
	lines := strings.Split(log, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return events.Find(lines, m)
}

// eventStrings is events as their log lines, for messages.
func eventStrings(es []events.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.String())
	}
	return out
}

func TestLike(t *testing.T) {
	line := `[    9.4] kios: t=9.411 event=service-started name=kubelet pid=245 restarts=0`
	for _, tc := range []struct {
		m    events.Matcher
		want bool
	}{
		{like(events.ServiceStarted, "name", "kubelet", "pid", re(`\d+`), "restarts", "0"), true},
		{like(events.ServiceStarted, "name", "kubelet", "pid", re(`\d`)), false}, // the whole value
		{like(events.ServiceStarted, "name", "kube"), false},
		{like(events.ServiceStarted, "restarts", "*"), true},
		{like(events.ServiceStarted, "status", re(`.*`)), false}, // no such field
		{like(events.ServiceExited, "name", "kubelet"), false},
	} {
		if got := isEvent(line, tc.m); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.m, got, tc.want)
		}
	}
	log := "kios: t=1.0 event=boot id=abc\r\nkios: t=2.0 event=trial-failed entry=kios-3.0.0+0-1.efi reason=\"no kubelet\"\r\n"
	if got := findEvents(log, events.TrialFailed.With("entry", "kios-3.0.0+0-1.efi")); len(got) != 1 || got[0].Get("reason") != "no kubelet" {
		t.Errorf("findEvents in a console file with CRLF lines: %v", got)
	}
}
