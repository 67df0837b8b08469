package bench

import (
	"testing"

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
