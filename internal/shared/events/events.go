// Package events is the one vocabulary between PID 1 and whoever reads
// its log: the event names, the line format PID 1 writes and the parser
// the host tools and tests read it back with.
//
// A line is `event=NAME key=value key="a quoted value" ...`, after the
// log's own `kios: t=SECONDS ` prefix. Values with spaces, quotes, `=`
// or control characters, and empty ones, are Go-quoted; others are bare.
package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Name names an event.
type Name string

// Field is one key=value of an event, in the order it was logged.
type Field struct{ Key, Value string }

// Event is one logged event.
type Event struct {
	Name   Name
	Fields []Field
	// T is PID 1's clock (seconds since boot) from the line's t=
	// prefix, when the event was parsed from a log line; -1 otherwise.
	T float64
}

// New makes an event from alternating keys and values. Values are
// formatted with fmt.Sprint: errors by their message, durations as
// time.Duration prints them. A key without a value gets "".
func New(name Name, kv ...any) Event {
	e := Event{Name: name, T: -1}
	for i := 0; i < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		v := ""
		if i+1 < len(kv) {
			v = value(kv[i+1])
		}
		e.Fields = append(e.Fields, Field{k, v})
	}
	return e
}

func value(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		if x == nil {
			return ""
		}
		return x.Error()
	case time.Duration:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	default:
		return fmt.Sprint(x)
	}
}

// String is the event's log line (without the log's own prefix).
func (e Event) String() string {
	var b strings.Builder
	b.WriteString("event=")
	b.WriteString(string(e.Name))
	for _, f := range e.Fields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(quote(f.Value))
	}
	return b.String()
}

func quote(v string) string {
	if v == "" || strings.ContainsAny(v, " \"=\\") || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || !strconv.IsPrint(r) }) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

// Get returns the value of key, or "" when the event has no such field.
func (e Event) Get(key string) string {
	v, _ := e.Lookup(key)
	return v
}

// Lookup returns the value of key and whether the event has it.
func (e Event) Lookup(key string) (string, bool) {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Float returns key's value as a number; a unit suffix such as the s of
// "took=1.5s" is ignored.
func (e Event) Float(key string) (float64, error) {
	v, ok := e.Lookup(key)
	if !ok {
		return 0, fmt.Errorf("event %s has no %s", e.Name, key)
	}
	n, err := strconv.ParseFloat(strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' }), 64)
	if err != nil {
		return 0, fmt.Errorf("event %s: %s=%q is not a number", e.Name, key, v)
	}
	return n, nil
}

// Parse reads the event in a log or console line: anything may come
// before `event=` (the kernel's timestamp, "kios: t=SECONDS "). It
// reports false for lines without an event and for malformed ones. A
// last value whose quote never closes (PID 1's log cuts lines over
// 900 bytes) is read to the end of the line, so a cut line's event and
// fields are still there.
func Parse(line string) (Event, bool) {
	line = strings.TrimRight(line, "\r\n")
	i := strings.Index(line, "event=")
	if i < 0 || (i > 0 && line[i-1] != ' ') {
		return Event{}, false
	}
	e := Event{T: -1}
	if j := strings.LastIndex(line[:i], "t="); j >= 0 && (j == 0 || line[j-1] == ' ') {
		if t, err := strconv.ParseFloat(strings.TrimSpace(line[j+2:i]), 64); err == nil {
			e.T = t
		}
	}
	rest := line[i+len("event="):]
	name, rest, _ := strings.Cut(rest, " ")
	if name == "" {
		return Event{}, false
	}
	e.Name = Name(name)
	for rest = strings.TrimLeft(rest, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		k, after, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return Event{}, false
		}
		var v string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				v, rest = after[1:], "" // cut short: the rest of the line
				e.Fields = append(e.Fields, Field{k, v})
				break
			}
			v, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			v, rest, _ = strings.Cut(after, " ")
		}
		e.Fields = append(e.Fields, Field{k, v})
	}
	return e, true
}

// Matcher tells whether an event is the one a reader waits for.
type Matcher interface {
	Match(Event) bool
	String() string
}

// With matches events named n whose fields have the given values
// (alternating keys and values; a value "*" only needs the key).
func (n Name) With(kv ...string) Matcher { return match{n, kv, nil, ""} }

// Where matches events named n for which f holds; what describes it in
// messages.
func (n Name) Where(what string, f func(Event) bool) Matcher { return match{n, nil, f, what} }

// Match makes a Name a Matcher of every event with that name.
func (n Name) Match(e Event) bool { return e.Name == n }

func (n Name) String() string { return "event=" + string(n) }

type match struct {
	name Name
	kv   []string
	f    func(Event) bool
	what string
}

func (m match) Match(e Event) bool {
	if e.Name != m.name {
		return false
	}
	for i := 0; i+1 < len(m.kv); i += 2 {
		v, ok := e.Lookup(m.kv[i])
		if !ok || (m.kv[i+1] != "*" && v != m.kv[i+1]) {
			return false
		}
	}
	return m.f == nil || m.f(e)
}

func (m match) String() string {
	s := "event=" + string(m.name)
	for i := 0; i+1 < len(m.kv); i += 2 {
		s += " " + m.kv[i] + "=" + quote(m.kv[i+1])
	}
	if m.what != "" {
		s += " (" + m.what + ")"
	}
	return s
}

// Any matches an event that any of ms matches.
func Any(ms ...Matcher) Matcher { return anyOf(ms) }

type anyOf []Matcher

func (a anyOf) Match(e Event) bool {
	for _, m := range a {
		if m.Match(e) {
			return true
		}
	}
	return false
}

func (a anyOf) String() string {
	var s []string
	for _, m := range a {
		s = append(s, m.String())
	}
	return strings.Join(s, " or ")
}

// Find returns the events in lines that m matches, in order.
func Find(lines []string, m Matcher) []Event {
	var out []Event
	for _, l := range lines {
		if e, ok := Parse(l); ok && m.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Printer is the log an event is written to (PID 1's log, a
// *log.Logger).
type Printer interface {
	Printf(format string, args ...any)
}

// Emit writes the event named name, with alternating keys and values,
// to l as one line.
func Emit(l Printer, name Name, kv ...any) {
	l.Printf("%s", New(name, kv...))
}
