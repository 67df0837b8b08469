package compare

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Milestones of a boot timeline, in order.
var Milestones = []Figure{KernelStart, PID1Start, ContainerdReady, KubeletStarted, DHCPLease,
	NodeRegistered, NodeReady, FirstPodRunning}

// Chart writes a PNG with the median boot timelines one above the
// other: one horizontal bar per system, a mark at each milestone it
// reached.
func (r Report) Chart(path string) error {
	p := plot.New()
	p.Title.Text = "Boot timeline from QEMU start (median)"
	p.X.Label.Text = "seconds"
	// The baseline at the bottom, the kiOS columns above it.
	cols := r.columns()
	var rows, names []string
	for i := len(cols) - 1; i >= 0; i-- {
		rows = append(rows, cols[i])
		names = append(names, Titles[cols[i]])
	}
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5
	p.NominalY(names...)
	colours := map[string]color.Color{Baseline: color.RGBA{R: 200, G: 120, B: 40, A: 255},
		KiOS: color.RGBA{R: 40, G: 110, B: 200, A: 255}, KiOSRAMOnly: color.RGBA{R: 60, G: 160, B: 90, A: 255}}
	for row, sys := range rows {
		var pts plotter.XYs
		for _, m := range Milestones {
			if s, ok := r.Systems[sys][m]; ok {
				pts = append(pts, plotter.XY{X: s.Median, Y: float64(row)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(append(plotter.XYs{{X: 0, Y: float64(row)}}, pts...))
		if err != nil {
			return err
		}
		line.Width = vg.Points(6)
		line.Color = colours[sys]
		marks, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: milestoneLabels(r, sys)})
		if err != nil {
			return err
		}
		// Alternate labels above and below the bar: close milestones
		// (containerd ready, kubelet started) would print over each other.
		for i := range labels.TextStyle {
			labels.TextStyle[i].Rotation = 0.6
			if i%2 == 1 {
				labels.TextStyle[i].Rotation = -0.6
				labels.TextStyle[i].YAlign = draw.YTop
			}
		}
		p.Add(line, marks, labels)
	}
	p.Add(plotter.NewGrid())
	p.X.Min = 0
	p.X.Max *= 1.2 // room for the last milestone's label
	if err := p.Save(10*vg.Inch, vg.Length(1.5+1.2*float64(len(rows)))*vg.Inch, path); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return nil
}

func milestoneLabels(r Report, sys string) []string {
	var out []string
	for _, m := range Milestones {
		if s, ok := r.Systems[sys][m]; ok {
			out = append(out, fmt.Sprintf("%s %.1f", strings.TrimSuffix(m.name, "_s"), s.Median))
		}
	}
	return out
}
