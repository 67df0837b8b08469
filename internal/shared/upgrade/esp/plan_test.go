package esp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func entries(t *testing.T, names ...string) []Entry {
	t.Helper()
	var out []Entry
	for _, n := range names {
		e, ok := ParseEntry(n)
		if !ok {
			t.Fatalf("bad entry name %q", n)
		}
		out = append(out, e)
	}
	return out
}

func names(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func opStrings(ops []Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.String())
	}
	return out
}

func TestPlanStage(t *testing.T) {
	for _, tt := range []struct {
		name     string
		entries  []string
		stage    Stage
		ops      []string
		boots    string // what the loader boots next
		fallback string // and after the new image's tries run out
		err      error
	}{
		{
			name:    "first upgrade",
			entries: []string{"kios-v1.efi"},
			stage:   Stage{Running: "v1", Version: "v2", Tries: 1},
			ops:     []string{"write kios-v2+1.efi"},
			boots:   "kios-v2+1.efi", fallback: "kios-v1.efi",
		},
		{
			name:    "keeps the running and the previous good one",
			entries: []string{"kios-v1.efi", "kios-v2.efi", "kios-v0.9.efi", "kios-v3+0-1.efi"},
			stage:   Stage{Running: "v2", Version: "v4", Tries: 2},
			ops:     []string{"remove kios-v0.9.efi", "remove kios-v3+0-1.efi", "write kios-v4+2.efi"},
			boots:   "kios-v4+2.efi", fallback: "kios-v2.efi",
		},
		{
			name:    "no room for three: only the running one kept",
			entries: []string{"kios-v1.efi", "kios-v2.efi"},
			stage:   Stage{Running: "v2", Version: "v3", Tries: 1, RunningOnly: true},
			ops:     []string{"remove kios-v1.efi", "write kios-v3+1.efi"},
			boots:   "kios-v3+1.efi", fallback: "kios-v2.efi",
		},
		{
			name:    "the same version again after a rollback replaces its entry",
			entries: []string{"kios-v1.efi", "kios-v2+0.efi"},
			stage:   Stage{Running: "v1", Version: "v2", Tries: 1},
			ops:     []string{"remove kios-v2+0.efi", "write kios-v2+1.efi"},
			boots:   "kios-v2+1.efi", fallback: "kios-v1.efi",
		},
		{
			name:    "downgrade marks newer good entries bad, after the write",
			entries: []string{"kios-v1.5.efi", "kios-v2.efi"},
			stage:   Stage{Running: "v2", Version: "v1", Tries: 1, AllowDowngrade: true},
			ops:     []string{"write kios-v1+1.efi", "rename kios-v1.5.efi to kios-v1.5+0.efi", "rename kios-v2.efi to kios-v2+0.efi"},
			boots:   "kios-v1+1.efi", fallback: "kios-v2+0.efi",
		},
		{name: "same version", entries: []string{"kios-v2.efi"}, stage: Stage{Running: "v2", Version: "v2", Tries: 1}, err: ErrSameVersion},
		{name: "downgrade without the flag", entries: []string{"kios-v2.efi"}, stage: Stage{Running: "v2", Version: "v1", Tries: 1}, err: ErrDowngrade},
		{name: "running on trial", entries: []string{"kios-v1.efi", "kios-v2+0-1.efi"}, stage: Stage{Running: "v2", Version: "v3", Tries: 1}, err: ErrOnTrial},
		{name: "running not on the ESP", entries: []string{"kios-v1.efi"}, stage: Stage{Running: "v2", Version: "v3", Tries: 1}, err: ErrNotEntry},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := entries(t, tt.entries...)
			ops, err := PlanStage(before, tt.stage)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.ops, opStrings(ops)); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			after := After(before, ops)
			if next, _ := Next(after); next.Name() != tt.boots {
				t.Errorf("boots %s next, want %s (entries %v)", next.Name(), tt.boots, names(after))
			}
			// The loader counts the new image's tries down to 0.
			for i, e := range after {
				if e.Version == tt.stage.Version {
					after[i].Left, after[i].Done = 0, tt.stage.Tries
				}
			}
			if next, _ := Next(after); next.Name() != tt.fallback {
				t.Errorf("after the tries, boots %s, want %s (entries %v)", next.Name(), tt.fallback, names(after))
			}
		})
	}
}

func TestPlanBless(t *testing.T) {
	for _, tt := range []struct {
		entries []string
		running string
		ops     []string
	}{
		{[]string{"kios-v1.efi", "kios-v2+0-1.efi"}, "v2", []string{"rename kios-v2+0-1.efi to kios-v2.efi"}},
		{[]string{"kios-v1.efi", "kios-v2.efi"}, "v2", nil},
		{[]string{"kios-v0.efi", "kios-v1.efi", "kios-v2+1-1.efi", "kios-v3+0-1.efi"}, "v2",
			[]string{"rename kios-v2+1-1.efi to kios-v2.efi", "remove kios-v0.efi"}},
		// Back on v2 after a failed downgrade: v2 blesses itself again.
		{[]string{"kios-v1+0-1.efi", "kios-v2+0-1.efi"}, "v2", []string{"rename kios-v2+0-1.efi to kios-v2.efi"}},
	} {
		ops, err := PlanBless(entries(t, tt.entries...), tt.running)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.ops, opStrings(ops)); diff != "" {
			t.Errorf("%v: ops (-want +got):\n%s", tt.entries, diff)
		}
	}
	if _, err := PlanBless(entries(t, "kios-v1.efi"), "v2"); !errors.Is(err, ErrNotEntry) {
		t.Errorf("bless of a version without an entry: %v", err)
	}
}

func TestPlanRollback(t *testing.T) {
	before := entries(t, "kios-v1.efi", "kios-v2.efi")
	ops, err := PlanRollback(before, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if next, _ := Next(After(before, ops)); next.Name() != "kios-v1.efi" {
		t.Errorf("after rollback boots %s, want kios-v1.efi", next.Name())
	}
	if _, err := PlanRollback(entries(t, "kios-v2.efi", "kios-v1+0-1.efi"), "v2"); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("rollback with no good entry to go to: %v", err)
	}
}
