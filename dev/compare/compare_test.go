package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func run(sys string, ready, ram float64) Run {
	return Run{System: sys, Figures: Figures{NodeReady: ready, RAMUsed: ram, KernelStart: ready / 4}}
}

func TestCompare(t *testing.T) {
	runs := []Run{
		run(KiOS, 30, 300), run(Baseline, 60, 700),
		run(KiOS, 32, 310), run(Baseline, 80, 620),
		run(KiOS, 29, 305), run(Baseline, 58, 610),
	}
	r, err := Compare(runs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stat{Median: 30, Spread: 3, N: 3}, r.Systems[KiOS][NodeReady]); diff != "" {
		t.Errorf("kiOS node_ready_s (-want +got):\n%s", diff)
	}
	// Pair by pair: 30/60, 32/80, 29/58 -> 0.5, 0.4, 0.5.
	if diff := cmp.Diff(Stat{Median: 0.5, Spread: 0.1, N: 3}, r.Ratios[NodeReady], cmpFloat); diff != "" {
		t.Errorf("ratio (-want +got):\n%s", diff)
	}
	var js bytes.Buffer
	if err := r.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(js.Bytes(), &got)
	for k, want := range map[string]float64{"kios.node_ready_s": 30, "baseline.node_ready_s": 60, "ratio.node_ready": 0.5,
		"kios.ram_used_mib": 305, "baseline.ram_used_mib": 620, "runs": 3} {
		if got[k] != want {
			t.Errorf("JSON %s = %v, want %v", k, got[k], want)
		}
	}
	var md bytes.Buffer
	r.Markdown(&md)
	if !strings.Contains(md.String(), "| node_ready_s | 30.00 s (±1.50) | 60.00 s (±11.00) | 0.50 (±0.05) |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	chart := filepath.Join(t.TempDir(), "timeline.png")
	if err := r.Chart(chart); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width < 500 {
		t.Errorf("chart: %+v, %v", cfg, err)
	}
}

var cmpFloat = cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })

// Three systems: each kiOS column's ratio is taken against the
// baseline of its own round, whatever the order within the round.
func TestCompareThreeSystems(t *testing.T) {
	runs := []Run{
		run(KiOS, 20, 300), run(Baseline, 40, 400), run(KiOSRAMOnly, 30, 440),
		run(KiOS, 22, 310), run(Baseline, 44, 410), run(KiOSRAMOnly, 33, 451),
		run(Baseline, 50, 500), run(KiOSRAMOnly, 25, 500), run(KiOS, 25, 320),
	}
	r, err := Compare(runs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Runs != 3 {
		t.Errorf("rounds = %d, want 3", r.Runs)
	}
	// 20/40, 22/44, 25/50 -> 0.5; 30/40, 33/44, 25/50 -> 0.75, 0.75, 0.5.
	if diff := cmp.Diff(Stat{Median: 0.5, Spread: 0, N: 3}, r.Ratios[NodeReady], cmpFloat); diff != "" {
		t.Errorf("disk ratio (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stat{Median: 0.75, Spread: 0.25, N: 3}, r.RatiosRAMOnly[NodeReady], cmpFloat); diff != "" {
		t.Errorf("RAM-only ratio (-want +got):\n%s", diff)
	}
	var js bytes.Buffer
	if err := r.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(js.Bytes(), &got)
	for k, want := range map[string]float64{"kios_ram_only.node_ready_s": 30, "ratio_ram_only.node_ready": 0.75,
		"ratio.node_ready": 0.5, "spread.ratio_ram_only.node_ready": 0.25, "kios_ram_only.ram_used_mib": 451} {
		if got[k] != want {
			t.Errorf("JSON %s = %v, want %v", k, got[k], want)
		}
	}
}

func TestCompareRejectsUnpaired(t *testing.T) {
	for _, runs := range [][]Run{
		nil,
		{run(KiOS, 1, 1)},
		{run(Baseline, 1, 1), run(Baseline, 1, 1)},
		{run(KiOS, 1, 1), run(KiOS, 1, 1), run(Baseline, 1, 1), run(Baseline, 1, 1)},
		{run(KiOS, 1, 1), run(Baseline, 1, 1), run(KiOSRAMOnly, 1, 1), run(KiOS, 1, 1)},
		{run(KiOS, 1, 1), run("other", 1, 1)},
	} {
		if _, err := Compare(runs); !errors.Is(err, ErrUnpaired) {
			t.Errorf("%v: got %v", runs, err)
		}
	}
}

func TestCompleteRounds(t *testing.T) {
	a, b, c := run(KiOS, 1, 1), run(Baseline, 1, 1), run(KiOSRAMOnly, 1, 1)
	tests := []struct {
		name string
		in   []Run
		want int
	}{
		{"none", nil, 0},
		{"two complete rounds of three", []Run{a, b, c, a, b, c}, 6},
		{"cut in the third round", []Run{a, b, c, a, b, c, a, b}, 6},
		{"cut in the first round", []Run{a, b}, 2}, // one round seen, of unknown length: kept, Compare judges it
		{"pairs", []Run{a, b, a, b, a}, 4},
	}
	for _, tt := range tests {
		if got := len(CompleteRounds(tt.in)); got != tt.want {
			t.Errorf("%s: %d runs kept, want %d", tt.name, got, tt.want)
		}
	}
}
