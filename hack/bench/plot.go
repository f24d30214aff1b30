package main

import (
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/posthog-operator/posthog-operator/internal/controller"
)

// Colours per strategy, the same in every panel.
var strategyColors = map[string]color.Color{
	controller.ObserveInventory: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	controller.ObserveLookup:    color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

var targetColor = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}

// writePlot draws three panels side by side: calls per object, time to
// converge against the floor, and steady-state calls per resync period, each
// against N on a log axis.
func writePlot(path string, rep report) error {
	panels := []func(report) (*plot.Plot, error){callsPanel, convergePanel, steadyPanel}
	row := make([]*plot.Plot, 0, len(panels))
	for _, panel := range panels {
		p, err := panel(rep)
		if err != nil {
			return err
		}
		row = append(row, p)
	}
	const width, height = 14 * vg.Centimeter, 12 * vg.Centimeter
	img := vgimg.New(vg.Length(len(row))*width, height)
	canvas := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Centimeter, PadTop: vg.Millimeter * 4,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	for i, c := range plot.Align([][]*plot.Plot{row}, tiles, canvas)[0] {
		row[i].Draw(c)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close() // the write error is the one to report
		return err
	}
	return f.Close()
}

func newPanel(rep report, title, yLabel string, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "RoleExternalReferences (N)"
	p.Y.Label.Text = yLabel
	sizes := sizesIn(rep)
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, sizeTicks(sizes)
	if len(sizes) > 0 {
		p.X.Min, p.X.Max = float64(sizes[0])/1.5, float64(sizes[len(sizes)-1])*1.5
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, decadeTicks{}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Millimeter*2, -vg.Millimeter*2
	p.Add(plotter.NewGrid())
	return p
}

// headroom raises the top of the Y axis so the legend, drawn in the top
// left corner, does not cover the data.
func headroom(p *plot.Plot, logY bool) {
	if logY {
		p.Y.Max *= 30
		return
	}
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.6
}

// sizeTicks labels the X axis at the measured sizes only.
func sizeTicks(sizes []int) plot.ConstantTicks {
	ticks := make(plot.ConstantTicks, 0, len(sizes))
	for _, n := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	return ticks
}

// decadeTicks labels powers of ten in plain numbers (1, 10, 100) rather
// than LogTicks' 1e+01.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Pow(10, math.Floor(math.Log10(lo))); v <= hi; v *= 10 {
		if v >= lo {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		}
		for _, m := range []float64{2, 5} {
			if minor := v * m; minor >= lo && minor <= hi {
				ticks = append(ticks, plot.Tick{Value: minor})
			}
		}
	}
	return ticks
}

// series is one strategy's points; lowerBounds are runs that did not
// converge, whose value is only a lower bound.
func series(rep report, strategy string, value func(result) (float64, bool)) (points, lowerBounds plotter.XYs) {
	for _, r := range rep.Results {
		if r.Strategy != strategy || r.Error != "" {
			continue
		}
		if v, ok := value(r); ok && v > 0 {
			xy := plotter.XY{X: float64(r.N), Y: v}
			if r.Converged {
				points = append(points, xy)
			} else {
				lowerBounds = append(lowerBounds, xy)
			}
		}
	}
	return points, lowerBounds
}

// addStrategies draws each strategy's line, and its lower bounds as
// triangles.
func addStrategies(p *plot.Plot, rep report, value func(result) (float64, bool)) error {
	for _, strategy := range strategiesIn(rep) {
		points, lowerBounds := series(rep, strategy, value)
		if len(points) > 0 {
			line, scatter, err := plotter.NewLinePoints(points)
			if err != nil {
				return err
			}
			line.Color, scatter.Color = strategyColors[strategy], strategyColors[strategy]
			line.Width = vg.Points(1.5)
			p.Add(line, scatter)
			p.Legend.Add(strategy, line, scatter)
		}
		if len(lowerBounds) > 0 {
			scatter, err := plotter.NewScatter(lowerBounds)
			if err != nil {
				return err
			}
			scatter.Color, scatter.Shape, scatter.Radius = strategyColors[strategy], draw.TriangleGlyph{}, vg.Points(5)
			p.Add(scatter)
			p.Legend.Add(strategy+": did not converge (at least)", scatter)
		}
	}
	return nil
}

// addReference draws a dashed grey curve, a target or a floor.
func addReference(p *plot.Plot, label string, xys plotter.XYs) error {
	if len(xys) == 0 {
		return nil
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	line.Color, line.Dashes = targetColor, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Add(label, line)
	return nil
}

func callsPanel(rep report) (*plot.Plot, error) {
	p := newPanel(rep, "PostHog calls per converged object", "calls / object", false)
	err := addStrategies(p, rep, func(r result) (float64, bool) { return r.CallsPerObject, true })
	if err == nil {
		err = addReference(p, "target ≤ 1.05", constantAt(sizesIn(rep), targetCallsPerObject))
	}
	headroom(p, false)
	return p, err
}

func convergePanel(rep report) (*plot.Plot, error) {
	p := newPanel(rep, "Time to all Ready (real seconds)", "seconds", true)
	err := addStrategies(p, rep, func(r result) (float64, bool) { return r.ConvergeSeconds, true })
	if err != nil {
		return nil, err
	}
	var floors plotter.XYs
	for _, n := range sizesIn(rep) {
		if r, ok := firstAt(rep, n); ok {
			floors = append(floors, plotter.XY{X: float64(n), Y: r.FloorSeconds})
		}
	}
	err = addReference(p, "rate-limit floor", floors)
	headroom(p, true)
	return p, err
}

func steadyPanel(rep report) (*plot.Plot, error) {
	p := newPanel(rep, "Steady state: calls per resync period", "calls / resync period", true)
	err := addStrategies(p, rep, func(r result) (float64, bool) {
		if r.Steady == nil {
			return 0, false
		}
		return r.Steady.CallsPerResync, true
	})
	if err != nil {
		return nil, err
	}
	var limits plotter.XYs
	for _, n := range sizesIn(rep) {
		limits = append(limits, plotter.XY{X: float64(n), Y: float64(steadyLimit(n))})
	}
	err = addReference(p, "target ≤ ceil(N/1000)+2", limits)
	headroom(p, true)
	return p, err
}

func constantAt(sizes []int, y float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(sizes))
	for _, n := range sizes {
		xys = append(xys, plotter.XY{X: float64(n), Y: y})
	}
	return xys
}

func strategiesIn(rep report) []string {
	var out []string
	for _, r := range rep.Results {
		if !slices.Contains(out, r.Strategy) {
			out = append(out, r.Strategy)
		}
	}
	return out
}

func sizesIn(rep report) []int {
	var out []int
	for _, r := range rep.Results {
		if !slices.Contains(out, r.N) {
			out = append(out, r.N)
		}
	}
	slices.Sort(out)
	return out
}

func firstAt(rep report, n int) (result, bool) {
	for _, r := range rep.Results {
		if r.N == n {
			return r, true
		}
	}
	return result{}, false
}
