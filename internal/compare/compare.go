// Package compare turns alternating boots of kiOS and a baseline node
// (A B A B ...) into the side-by-side report of `make bench`: medians
// with their spread per system, the kiOS/baseline ratio computed pair by
// pair, a Markdown table, JSON under stable keys and a PNG of the two
// boot timelines.
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

// Systems compared.
const (
	KiOS     = "kios"
	Baseline = "baseline"
)

// Run is one boot of one system: figures by key (seconds end in _s,
// MiB in _mib, counts without a unit), e.g. "node_ready_s".
type Run struct {
	System  string
	Figures map[string]float64
}

// Stat is a median with its spread (max - min).
type Stat struct {
	Median float64 `json:"median"`
	Spread float64 `json:"spread"`
	N      int     `json:"n"`
}

// Report is the comparison.
type Report struct {
	Runs      int                        // pairs
	Systems   map[string]map[string]Stat // system -> key -> stat
	Ratios    map[string]Stat            // key -> kiOS/baseline, pair by pair
	Keys      []string                   // in report order
	Date      string
	Machine   string
	Reproduce string
}

// ErrUnpaired is returned when the runs do not alternate kiOS, baseline.
var ErrUnpaired = errors.New("runs must alternate kios, baseline")

// Compare pairs runs (kiOS first in each pair) and summarises them.
func Compare(runs []Run) (Report, error) {
	if len(runs) == 0 || len(runs)%2 != 0 {
		return Report{}, fmt.Errorf("%w: %d runs", ErrUnpaired, len(runs))
	}
	r := Report{Runs: len(runs) / 2, Systems: map[string]map[string]Stat{}, Ratios: map[string]Stat{}}
	values := map[string]map[string][]float64{KiOS: {}, Baseline: {}}
	ratios := map[string][]float64{}
	keys := map[string]bool{}
	for i := 0; i < len(runs); i += 2 {
		a, b := runs[i], runs[i+1]
		if a.System != KiOS || b.System != Baseline {
			return Report{}, fmt.Errorf("%w: pair %d is %s, %s", ErrUnpaired, i/2+1, a.System, b.System)
		}
		for k, v := range a.Figures {
			keys[k] = true
			values[KiOS][k] = append(values[KiOS][k], v)
			if bv, ok := b.Figures[k]; ok && bv != 0 {
				ratios[k] = append(ratios[k], v/bv)
			}
		}
		for k, v := range b.Figures {
			keys[k] = true
			values[Baseline][k] = append(values[Baseline][k], v)
		}
	}
	for sys, byKey := range values {
		r.Systems[sys] = map[string]Stat{}
		for k, vs := range byKey {
			r.Systems[sys][k] = stat(vs)
		}
	}
	for k, vs := range ratios {
		r.Ratios[k] = stat(vs)
	}
	for k := range keys {
		r.Keys = append(r.Keys, k)
	}
	sort.Slice(r.Keys, func(i, j int) bool {
		a, b := rank(r.Keys[i]), rank(r.Keys[j])
		if a != b {
			return a < b
		}
		return r.Keys[i] < r.Keys[j]
	})
	return r, nil
}

// headline are the footprint figures, in the order the table shows
// them after the boot milestones.
var headline = []string{"ram_used_mib", "host_processes", "host_rss_mib", "executables", "image_mib"}

// rank orders the table: the boot timeline, the footprint, growth by
// pod count, shutdown, then anything else (per-program memory).
func rank(k string) int {
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
	var n int
	if _, err := fmt.Sscanf(k, "pods_%d_", &n); err == nil {
		return 200 + n
	}
	if k == "shutdown_s" {
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

// JSON writes the medians under stable keys: "kios.node_ready_s",
// "baseline.node_ready_s", "ratio.node_ready" (the unit dropped), and
// "runs", plus the spreads under "spread.<same key>".
func (r Report) JSON(w io.Writer) error {
	out := map[string]any{"runs": r.Runs, "date": r.Date, "machine": r.Machine}
	for sys, byKey := range r.Systems {
		for k, s := range byKey {
			out[sys+"."+k] = round(s.Median)
			out["spread."+sys+"."+k] = round(s.Spread)
		}
	}
	for k, s := range r.Ratios {
		out["ratio."+unitless(k)] = round(s.Median)
		out["spread.ratio."+unitless(k)] = round(s.Spread)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func unitless(k string) string {
	for _, u := range []string{"_s", "_mib"} {
		k = strings.TrimSuffix(k, u)
	}
	return k
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// Markdown writes the table for report.md and the README.
func (r Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "kiOS and a conventional node (Debian, systemd), %s, %s; median of %d boots each, alternating; spread is max - min.\n\n", r.Date, r.Machine, r.Runs)
	fmt.Fprintln(w, "| figure | kiOS | baseline | kiOS / baseline |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, k := range r.Keys {
		a, b := r.Systems[KiOS][k], r.Systems[Baseline][k]
		ratio := "n/a"
		if s, ok := r.Ratios[k]; ok {
			ratio = fmt.Sprintf("%.2f (±%.2f)", s.Median, s.Spread/2)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", k, cell(a, k), cell(b, k), ratio)
	}
	if r.Reproduce != "" {
		fmt.Fprintf(w, "\nReproduce: `%s`\n", r.Reproduce)
	}
}

func cell(s Stat, k string) string {
	if s.N == 0 {
		return "n/a"
	}
	unit := ""
	switch {
	case strings.HasSuffix(k, "_s"):
		unit = " s"
	case strings.HasSuffix(k, "_mib"):
		unit = " MiB"
	}
	return fmt.Sprintf("%.2f%s (±%.2f)", s.Median, unit, s.Spread/2)
}
