package outcomeweb

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strconv"
)

// Chart is a bar chart drawn on the server as SVG: one bar per period.
// It is an image to assistive technology (role="img" named by its title
// and described by its desc, which states the trend in words); the data
// table that follows it on every page carries the numbers.
type Chart struct {
	ID     string // unique on the page: the ids of title and desc
	Title  string
	Desc   string
	Max    float64 // the top of the scale; 0: the largest value
	Points []Point
	// NoData is the word drawn where a period has no data.
	NoData string
}

// Point is one bar.
type Point struct {
	Label string  // under the bar (short)
	Value float64 // in the chart's unit
	Text  string  // the value as written, above the bar
	Valid bool    // false: no data (no bar, the NoData word)
}

// The drawing's geometry, in SVG user units; the SVG scales to its box.
const (
	chartW, chartH   = 640, 260
	padL, padR       = 8, 8
	padTop, padBelow = 28, 36
)

var chartTmpl = template.Must(template.New("chart").Parse(
	`<svg class="portico-chart" viewBox="0 0 {{.W}} {{.H}}" width="100%" role="img" aria-labelledby="{{.ID}}-title {{.ID}}-desc" xmlns="http://www.w3.org/2000/svg" focusable="false">` +
		`<title id="{{.ID}}-title">{{.Title}}</title><desc id="{{.ID}}-desc">{{.Desc}}</desc>` +
		`<line x1="{{.PadL}}" y1="{{.Base}}" x2="{{.Right}}" y2="{{.Base}}" stroke="#565c65" stroke-width="1"/>` +
		`{{range .Bars}}<g>` +
		`{{if .Valid}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#005ea2"/>` +
		`<text x="{{.MidX}}" y="{{.TextY}}" text-anchor="middle" font-size="{{.Font}}" fill="#1b1b1b">{{.Text}}</text>` +
		`{{else}}<text x="{{.MidX}}" y="{{.TextY}}" text-anchor="middle" font-size="{{.Font}}" fill="#565c65" font-style="italic">{{.Text}}</text>{{end}}` +
		`<text x="{{.MidX}}" y="{{.LabelY}}" text-anchor="middle" font-size="{{.Font}}" fill="#1b1b1b">{{.Label}}</text>` +
		`</g>{{end}}</svg>`))

type bar struct {
	X, Y, W, H, MidX, TextY, LabelY, Font string
	Valid                                 bool
	Text, Label                           string
}

// num writes a coordinate with at most one decimal, so golden files are
// stable and the markup small.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// SVG draws the chart. Labels are shown for every bar up to 16 bars and
// for every other one beyond (the table has them all).
func (c Chart) SVG() template.HTML {
	max := c.Max
	for _, p := range c.Points {
		if p.Valid && p.Value > max {
			max = p.Value
		}
	}
	if max <= 0 {
		max = 1
	}
	n := len(c.Points)
	if n == 0 {
		n = 1
	}
	slot := float64(chartW-padL-padR) / float64(n)
	bw := slot * 0.7
	base := float64(chartH - padBelow)
	span := base - padTop
	font := 13.0
	if n > 16 {
		font = 10
	}
	data := struct {
		ID, Title, Desc         string
		W, H, PadL, Right, Base string
		Bars                    []bar
	}{ID: c.ID, Title: c.Title, Desc: c.Desc, W: num(chartW), H: num(chartH), PadL: num(padL), Right: num(chartW - padR), Base: num(base)}
	for i, p := range c.Points {
		x := padL + slot*float64(i) + (slot-bw)/2
		b := bar{X: num(x), W: num(bw), MidX: num(x + bw/2), LabelY: num(base + 18), Font: num(font), Valid: p.Valid, Text: p.Text}
		if n <= 16 || i%2 == 0 {
			b.Label = p.Label
		}
		if p.Valid {
			h := span * math.Max(p.Value, 0) / max
			b.Y, b.H, b.TextY = num(base-h), num(h), num(base-h-6)
		} else {
			b.Text, b.TextY = c.NoData, num(base-6)
		}
		if n > 24 && p.Valid { // too many to write each value; the table has them
			b.Text = ""
		}
		data.Bars = append(data.Bars, b)
	}
	var buf bytes.Buffer
	if err := chartTmpl.Execute(&buf, data); err != nil {
		// The template is fixed and its data plain strings: a failure is a
		// programming error, shown as a missing chart, not a broken page.
		return template.HTML(fmt.Sprintf("<!-- chart %s: %s -->", template.HTMLEscapeString(c.ID), template.HTMLEscapeString(err.Error())))
	}
	return template.HTML(buf.String()) //nolint:gosec // html/template escaped every value
}
