package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGrid(t *testing.T) {
	got := FloorConfig{From: 1024, Step: 64, Min: 768}.Grid()
	if diff := cmp.Diff([]int{1024, 960, 896, 832, 768}, got); diff != "" {
		t.Errorf("grid (-want +got):\n%s", diff)
	}
}

func TestSearchFloor(t *testing.T) {
	grid := FloorConfig{From: 1024, Step: 64, Min: 256}.Grid()
	tests := []struct {
		name     string
		floor    int // the true floor: every size >= it fits
		want     int
		maxTries int
	}{
		{"middle", 576, 576, 5},
		{"everything fits", 256, 256, 5},
		{"only the top", 1024, 1024, 5},
		{"nothing fits", 2048, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tried []int
			got := SearchFloor(grid, func(m int) bool { tried = append(tried, m); return m >= tt.floor })
			if got != tt.want {
				t.Errorf("floor %d, want %d (tried %v)", got, tt.want, tried)
			}
			if len(tried) > tt.maxTries {
				t.Errorf("%d tries (%v), want at most %d", len(tried), tried, tt.maxTries)
			}
			seen := map[int]bool{}
			for _, m := range tried {
				if seen[m] {
					t.Errorf("tried %d MiB twice: %v", m, tried)
				}
				seen[m] = true
			}
		})
	}
}

func TestFloorReportSaysWhenTheGridEnded(t *testing.T) {
	c := FloorConfig{From: 832, Step: 64, Min: 384, Pods: 10, Hold: time.Minute}
	got := floorReport(c, []FloorResult{
		{System: "a", FloorMiB: 512, Tries: []FloorTry{{MemoryMiB: 448, Why: "x|y"}, {MemoryMiB: 512, OK: true}}},
		{System: "b", FloorMiB: 384, Tries: []FloorTry{{MemoryMiB: 384, OK: true}}},
		{System: "c", FloorMiB: 0, Tries: []FloorTry{{MemoryMiB: 832, Why: "not Ready"}}},
	}, "here. today")
	for _, want := range []string{
		"64 MiB steps from 832 down to 384 MiB", "10 pause pods for 1m0s",
		"| a | 512 MiB | 448: no: x/y; 512: fits |",
		"| b | 384 MiB or less (the smallest tried) | 384: fits |",
		"| c | more than 832 MiB (the largest tried) | 832: no: not Ready |",
		"`out/kios-dev bench --floor --floor-from 832 --floor-min 384 --floor-step 64 --floor-pods 10 --floor-hold 1m0s`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("floor.md lacks %q:\n%s", want, got)
		}
	}
}
