// Package compare turns rounds of boots (kiOS on its disk, kiOS
// RAM-only, a baseline node: one boot of each per round, alternating)
// into the side-by-side report of `make bench`: medians with their
// spread per system, each kiOS column's ratio to the baseline computed
// round by round, a Markdown table, JSON under stable keys and a PNG of
// the boot timelines.
package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Systems compared. KiOS is the node booted from its own disk (`kios
// disk`), the like-for-like match of the baseline on its disk;
// KiOSRAMOnly is the EFI alone, everything in RAM.
const (
	KiOS        = "kios"
	KiOSRAMOnly = "kios_ram_only"
	Baseline    = "baseline"
)

// Columns is the report's order of systems.
var Columns = []string{KiOS, KiOSRAMOnly, Baseline}

// Titles name the systems in tables and charts.
var Titles = map[string]string{KiOS: "kiOS (disk)", KiOSRAMOnly: "kiOS (RAM-only)", Baseline: "baseline"}

// Run is one boot of one system and its figures.
type Run struct {
	System  string
	Figures Figures
}

// Stat is a median with its spread (max - min).
type Stat struct {
	Median float64 `json:"median"`
	Spread float64 `json:"spread"`
	N      int     `json:"n"`
}

// Report is the comparison.
type Report struct {
	Runs          int                        // rounds (one boot of each system)
	Systems       map[string]map[Figure]Stat // system -> figure -> stat
	Ratios        map[Figure]Stat            // figure -> kiOS (disk) / baseline, round by round
	RatiosRAMOnly map[Figure]Stat            // figure -> kiOS (RAM-only) / baseline, round by round
	Keys          []Figure                   // in report order
	Date          string
	Machine       string
	Reproduce     string
}

// ErrUnpaired is returned when the runs are not rounds holding one boot
// of each system.
var ErrUnpaired = errors.New("runs must come in rounds of one boot of each system (kios, baseline and optionally kios_ram_only)")

// CompleteRounds returns the runs of the complete rounds at the start of
// runs: a comparison cut short (Ctrl-C) keeps what it finished. A round
// is as long as the first one, which ends where a system comes again.
func CompleteRounds(runs []Run) []Run {
	size := len(runs)
	seen := map[string]bool{}
	for i, r := range runs {
		if seen[r.System] {
			size = i
			break
		}
		seen[r.System] = true
	}
	if size == 0 {
		return nil
	}
	return runs[:len(runs)/size*size]
}

// Compare splits runs into rounds (as many runs as there are systems,
// each system once) and summarises them.
func Compare(runs []Run) (Report, error) {
	present := map[string]bool{}
	for _, r := range runs {
		present[r.System] = true
	}
	if !present[KiOS] || !present[Baseline] {
		return Report{}, fmt.Errorf("%w: no %s or no %s run among %d", ErrUnpaired, KiOS, Baseline, len(runs))
	}
	for s := range present {
		if _, ok := Titles[s]; !ok {
			return Report{}, fmt.Errorf("%w: unknown system %q", ErrUnpaired, s)
		}
	}
	size := len(present)
	if len(runs)%size != 0 {
		return Report{}, fmt.Errorf("%w: %d runs of %d systems", ErrUnpaired, len(runs), size)
	}
	r := Report{Runs: len(runs) / size, Systems: map[string]map[Figure]Stat{}, Ratios: map[Figure]Stat{}, RatiosRAMOnly: map[Figure]Stat{}}
	values := map[string]map[Figure][]float64{}
	ratios := map[string]map[Figure][]float64{KiOS: {}, KiOSRAMOnly: {}}
	keys := map[Figure]bool{}
	for i := 0; i < len(runs); i += size {
		round := map[string]Figures{}
		for _, run := range runs[i : i+size] {
			if _, dup := round[run.System]; dup {
				return Report{}, fmt.Errorf("%w: round %d has two %s runs", ErrUnpaired, i/size+1, run.System)
			}
			round[run.System] = run.Figures
		}
		base := round[Baseline]
		for sys, figs := range round {
			if values[sys] == nil {
				values[sys] = map[Figure][]float64{}
			}
			for k, v := range figs {
				keys[k] = true
				values[sys][k] = append(values[sys][k], v)
				if bv, ok := base[k]; ok && bv != 0 && sys != Baseline {
					ratios[sys][k] = append(ratios[sys][k], v/bv)
				}
			}
		}
	}
	for sys, byKey := range values {
		r.Systems[sys] = map[Figure]Stat{}
		for k, vs := range byKey {
			r.Systems[sys][k] = stat(vs)
		}
	}
	for k, vs := range ratios[KiOS] {
		r.Ratios[k] = stat(vs)
	}
	for k, vs := range ratios[KiOSRAMOnly] {
		r.RatiosRAMOnly[k] = stat(vs)
	}
	for k := range keys {
		r.Keys = append(r.Keys, k)
	}
	sort.Slice(r.Keys, func(i, j int) bool {
		a, b := rank(r.Keys[i]), rank(r.Keys[j])
		if a != b {
			return a < b
		}
		return r.Keys[i].name < r.Keys[j].name
	})
	return r, nil
}

// columns are the systems this report has, in report order.
func (r Report) columns() []string {
	var out []string
	for _, s := range Columns {
		if _, ok := r.Systems[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// headline are the footprint figures, in the order the table shows
// them after the boot milestones.
var headline = []Figure{RAMUsed, HostProcesses, HostRSS, Executables, ImageSize}

// rank orders the table: the boot timeline, the footprint, growth by
// pod count, shutdown, then anything else (per-program memory).
func rank(k Figure) int {
	for i, m := range Milestones {
		if k == m {
			return i
		}
	}
	for i, h := range headline {
		if k == h {
			return 100 + i
		}
	}
	if n, ok := k.Pods(); ok {
		return 200 + n
	}
	if k == Shutdown {
		return 1000
	}
	return 2000
}

func stat(vs []float64) Stat {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Spread: s[len(s)-1] - s[0], N: len(s)}
}

// JSON writes the medians under stable keys: "kios.node_ready_s" (kiOS
// on its disk), "kios_ram_only.node_ready_s", "baseline.node_ready_s",
// "ratio.node_ready" (kiOS on disk / baseline, the unit dropped),
// "ratio_ram_only.node_ready", and "runs", plus the spreads under
// "spread.<same key>".
func (r Report) JSON(w io.Writer) error {
	out := map[string]any{"runs": r.Runs, "date": r.Date, "machine": r.Machine}
	for sys, byKey := range r.Systems {
		for k, s := range byKey {
			out[sys+"."+k.name] = round(s.Median)
			out["spread."+sys+"."+k.name] = round(s.Spread)
		}
	}
	for prefix, ratios := range map[string]map[Figure]Stat{"ratio.": r.Ratios, "ratio_ram_only.": r.RatiosRAMOnly} {
		for k, s := range ratios {
			out[prefix+unitless(k)] = round(s.Median)
			out["spread."+prefix+unitless(k)] = round(s.Spread)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// unitless is a ratio's key: the figure without a unit of seconds or
// MiB.
func unitless(k Figure) string {
	s := k.name
	for _, u := range []string{"_s", "_mib"} {
		s = strings.TrimSuffix(s, u)
	}
	return s
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// Markdown writes the table for report.md and the README.
func (r Report) Markdown(w io.Writer) {
	cols := r.columns()
	fmt.Fprintf(w, "kiOS and a conventional node (Debian, systemd), %s, %s; median of %d rounds (one boot of each system per round, alternating); ± is half the spread (max - min); ratios are taken round by round.\n\n", r.Date, r.Machine, r.Runs)
	head, rule := "| figure |", "|---|"
	for _, c := range cols {
		head += " " + Titles[c] + " |"
		rule += "---|"
	}
	head += " disk / baseline |"
	rule += "---|"
	ramOnly := len(r.Systems[KiOSRAMOnly]) > 0
	if ramOnly {
		head += " RAM-only / baseline |"
		rule += "---|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	for _, k := range r.Keys {
		line := "| " + k.name + " |"
		for _, c := range cols {
			line += " " + cell(r.Systems[c][k], k) + " |"
		}
		line += " " + ratioCell(r.Ratios, k) + " |"
		if ramOnly {
			line += " " + ratioCell(r.RatiosRAMOnly, k) + " |"
		}
		fmt.Fprintln(w, line)
	}
	if r.Reproduce != "" {
		fmt.Fprintf(w, "\nReproduce: `%s`\n", r.Reproduce)
	}
}

func ratioCell(ratios map[Figure]Stat, k Figure) string {
	s, ok := ratios[k]
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2f (±%.2f)", s.Median, s.Spread/2)
}

func cell(s Stat, k Figure) string {
	if s.N == 0 {
		return "n/a"
	}
	// Milliseconds and counts are shown bare, as in the recorded
	// reports.
	unit := ""
	switch k.Unit() {
	case Seconds:
		unit = " s"
	case MiB:
		unit = " MiB"
	}
	return fmt.Sprintf("%.2f%s (±%.2f)", s.Median, unit, s.Spread/2)
}
