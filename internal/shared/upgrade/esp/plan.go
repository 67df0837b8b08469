// Planning the ESP changes of a stage, a blessing and a rollback as a
// list of operations, without touching the disk.

package esp

import (
	"errors"
	"fmt"

	"kios.dev/kios/internal/shared/osrelease"
)

// Errors callers branch on (the upgrade's client shows them).
var (
	ErrSameVersion = errors.New("the node already runs this version")
	ErrDowngrade   = errors.New("the image is older than the running version (allow it with --allow-downgrade)")
	ErrOnTrial     = errors.New("the running version is still on trial: it is blessed once the node is healthy")
	ErrNotEntry    = errors.New("the running version has no boot entry on the ESP")
	ErrNoPrevious  = errors.New("no previous version to go back to")
)

// Op is one change to the entries: remove Name, rename Name to To, or
// (Write) write the new image as To.
type Op struct {
	Kind OpKind
	Name string
	To   string
}

// OpKind says what an Op does.
type OpKind int

// The kinds of Op.
const (
	Remove OpKind = iota
	Rename
	Write
)

func (o Op) String() string {
	switch o.Kind {
	case Remove:
		return "remove " + o.Name
	case Rename:
		return "rename " + o.Name + " to " + o.To
	}
	return "write " + o.To
}

// Stage is an upgrade to stage.
type Stage struct {
	Running        string // the version the node runs
	Version        string // the new image's
	Tries          int    // boots it gets to become healthy
	AllowDowngrade bool
	// RunningOnly keeps no version to fall back to but the running one:
	// for an ESP without room for three images (kios disk's first layout
	// had 128 MiB).
	RunningOnly bool
}

// PlanStage says how to stage s over entries: it keeps the running
// entry and the newest other good one (the version to fall back to),
// removes the rest and any entry of the new version, and writes the new
// image on trial. A downgrade also marks every good entry newer than it
// bad, so that the loader tries it first; if it fails, the loader falls
// back to the newest of those, which blesses itself again. Operations
// are ordered so that a power cut between any two leaves the running
// version the one that boots.
func PlanStage(entries []Entry, s Stage) ([]Op, error) {
	if s.Tries < 1 {
		return nil, fmt.Errorf("tries %d: want at least 1", s.Tries)
	}
	c := osrelease.Compare(s.Version, s.Running)
	if c == 0 {
		return nil, fmt.Errorf("version %s: %w", s.Version, ErrSameVersion)
	}
	if c < 0 && !s.AllowDowngrade {
		return nil, fmt.Errorf("version %s, running %s: %w", s.Version, s.Running, ErrDowngrade)
	}
	running, ok := Find(entries, s.Running)
	if !ok {
		return nil, fmt.Errorf("version %s: %w", s.Running, ErrNotEntry)
	}
	if !running.Good() {
		return nil, fmt.Errorf("%s: %w", running.Name(), ErrOnTrial)
	}
	previous, hasPrevious := newestGood(entries, s.Running, s.Version)
	var ops, demote []Op
	for _, e := range entries {
		keep := e.Version == s.Running || hasPrevious && !s.RunningOnly && e.Version == previous.Version
		if !keep {
			ops = append(ops, Op{Kind: Remove, Name: e.Name()})
			continue
		}
		if c < 0 && osrelease.Compare(e.Version, s.Version) > 0 {
			demote = append(demote, Op{Kind: Rename, Name: e.Name(), To: Entry{Version: e.Version, Counting: true}.Name()})
		}
	}
	ops = append(ops, Op{Kind: Write, To: Staged(s.Version, s.Tries).Name()})
	return append(ops, demote...), nil
}

// newestGood is the newest good entry other than versions except.
func newestGood(entries []Entry, except ...string) (Entry, bool) {
	var best Entry
	found := false
outer:
	for _, e := range entries {
		for _, x := range except {
			if e.Version == x {
				continue outer
			}
		}
		if e.Good() && (!found || osrelease.Compare(e.Version, best.Version) > 0) {
			best, found = e, true
		}
	}
	return best, found
}

// PlanBless blesses the running version's entry when it is on trial,
// and removes good entries beyond it and the newest other one. Bad
// entries stay until the next upgrade, as the record of a failed one.
func PlanBless(entries []Entry, running string) ([]Op, error) {
	e, ok := Find(entries, running)
	if !ok {
		return nil, fmt.Errorf("version %s: %w", running, ErrNotEntry)
	}
	var ops []Op
	if !e.Good() {
		ops = append(ops, Op{Kind: Rename, Name: e.Name(), To: Entry{Version: running}.Name()})
	}
	previous, hasPrevious := newestGood(entries, running)
	for _, o := range entries {
		if o.Good() && o.Version != running && !(hasPrevious && o.Version == previous.Version) {
			ops = append(ops, Op{Kind: Remove, Name: o.Name()})
		}
	}
	return ops, nil
}

// PlanRollback marks the running version's entry bad, so that the
// loader boots the newest good one at the next boot.
func PlanRollback(entries []Entry, running string) ([]Op, error) {
	e, ok := Find(entries, running)
	if !ok {
		return nil, fmt.Errorf("version %s: %w", running, ErrNotEntry)
	}
	if _, ok := newestGood(entries, running); !ok {
		return nil, fmt.Errorf("running %s: %w", running, ErrNoPrevious)
	}
	return []Op{{Kind: Rename, Name: e.Name(), To: Entry{Version: running, Counting: true}.Name()}}, nil
}

// After is what entries become once ops are applied.
func After(entries []Entry, ops []Op) []Entry {
	byName := map[string]Entry{}
	var order []string
	for _, e := range entries {
		byName[e.Name()] = e
		order = append(order, e.Name())
	}
	for _, o := range ops {
		switch o.Kind {
		case Remove:
			delete(byName, o.Name)
		case Rename:
			if _, ok := byName[o.Name]; ok {
				delete(byName, o.Name)
				if n, ok := ParseEntry(o.To); ok {
					byName[o.To] = n
					order = append(order, o.To)
				}
			}
		case Write:
			if n, ok := ParseEntry(o.To); ok {
				byName[o.To] = n
				order = append(order, o.To)
			}
		}
	}
	var out []Entry
	seen := map[string]bool{}
	for _, name := range order {
		if e, ok := byName[name]; ok && !seen[name] {
			out = append(out, e)
			seen[name] = true
		}
	}
	return out
}
