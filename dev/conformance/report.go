package conformance

import (
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PassTime is how long one pass ran.
type PassTime struct {
	Name    string  `json:"name"`
	Procs   int     `json:"procs"`
	Seconds float64 `json:"seconds"`
	Exit    string  `json:"exit,omitempty"` // how e2e.test ended when it did not succeed
}

// Result is one node system's run of the suite.
type Result struct {
	Node   string     `json:"node"` // kios, baseline, or the cluster's name
	Date   string     `json:"date"`
	Passes []PassTime `json:"passes"`
	Tests  []Outcome  `json:"tests"`
	// Images are the test images the nodes ran, name -> manifest digest;
	// empty when the nodes pulled upstream's.
	Images map[string]string `json:"images,omitempty"`
}

// ImagesID names the set of test images a run used, so runs on
// different days can be shown side by side only when they ran the same
// images: a short digest of the sorted name@digest list.
func (r Result) ImagesID() string {
	if len(r.Images) == 0 {
		return "upstream's (pulled by the nodes)"
	}
	names := make([]string, 0, len(r.Images))
	for n := range r.Images {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s@%s\n", n, r.Images[n])
	}
	return fmt.Sprintf("rebuilt, set %x", h.Sum(nil)[:6])
}

// Count is the number of tests with the status.
func (r Result) Count(status string) int {
	n := 0
	for _, t := range r.Tests {
		if t.Status == status {
			n++
		}
	}
	return n
}

func (r Result) outcome(name string) (Outcome, bool) {
	for _, t := range r.Tests {
		if t.Name == name {
			return t, true
		}
	}
	return Outcome{}, false
}

// ReadResult reads a result.json written by WriteResult.
func ReadResult(path string) (Result, error) {
	var r Result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parse %s: %w", path, err)
	}
	return r, nil
}

// WriteResult writes r as JSON.
func WriteResult(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteJUnit writes r's tests as one JUnit suite.
func WriteJUnit(path string, r Result) error {
	type msg struct {
		Message string `xml:"message,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
	type tc struct {
		Name    string  `xml:"name,attr"`
		Class   string  `xml:"classname,attr"`
		Time    float64 `xml:"time,attr"`
		Skipped *msg    `xml:"skipped"`
		Failure *msg    `xml:"failure"`
	}
	type suite struct {
		XMLName  xml.Name `xml:"testsuite"`
		Name     string   `xml:"name,attr"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Time     float64  `xml:"time,attr"`
		Cases    []tc     `xml:"testcase"`
	}
	s := suite{Name: "NodeConformance on " + r.Node, Tests: len(r.Tests), Failures: r.Count("failed"), Skipped: r.Count("skipped")}
	for _, p := range r.Passes {
		s.Time += p.Seconds
	}
	for _, t := range r.Tests {
		c := tc{Name: t.Name, Class: r.Node, Time: t.Seconds}
		switch t.Status {
		case "skipped":
			c.Skipped = &msg{Message: t.Message}
		case "failed":
			c.Failure = &msg{Text: t.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	b, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}

// Markdown writes the report: counts and pass times per node system side
// by side, the tests that pass on one and not on another, then each
// failure with its message and each skip with its reason.
func Markdown(w io.Writer, results []Result) {
	fmt.Fprintf(w, "# Node conformance\n\n")
	fmt.Fprintf(w, "The upstream `[NodeConformance]` tests of Kubernetes e2e.test (`make conformance`, docs/conformance.md).\n\n")
	fmt.Fprintf(w, "| |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.Node)
	}
	fmt.Fprintf(w, "\n|---|")
	for range results {
		fmt.Fprintf(w, "---|")
	}
	row := func(label string, f func(Result) string) {
		fmt.Fprintf(w, "\n| %s |", label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", f(r))
		}
	}
	row("date", func(r Result) string { return r.Date })
	row("test images", Result.ImagesID)
	for _, s := range []string{"passed", "failed", "skipped"} {
		row(s, func(r Result) string { return fmt.Sprint(r.Count(s)) })
	}
	for i := range results[0].Passes {
		name := results[0].Passes[i].Name
		row(name+" pass", func(r Result) string {
			for _, p := range r.Passes {
				if p.Name == name {
					s := fmt.Sprintf("%.0f s, %d process(es)", p.Seconds, p.Procs)
					if p.Exit != "" {
						s += ", " + p.Exit
					}
					return s
				}
			}
			return "not run"
		})
	}
	fmt.Fprintf(w, "\n\n")
	if len(results) > 1 {
		fmt.Fprintf(w, "## Passed on one, not on another\n\n")
		n := 0
		for _, a := range results {
			for _, t := range a.Tests {
				if t.Status != "passed" {
					continue
				}
				for _, b := range results {
					if o, ok := b.outcome(t.Name); ok && o.Status != "passed" {
						fmt.Fprintf(w, "- passed on %s, %s on %s: %s\n", a.Node, o.Status, b.Node, t.Name)
						n++
					}
				}
			}
		}
		if n == 0 {
			fmt.Fprintf(w, "None.\n")
		}
		fmt.Fprintf(w, "\n")
	}
	for _, r := range results {
		fmt.Fprintf(w, "## %s: failures (%d)\n\n", r.Node, r.Count("failed"))
		for _, t := range r.Tests {
			if t.Status == "failed" {
				fmt.Fprintf(w, "- **%s**\n\n  ```\n  %s\n  ```\n", t.Name, strings.ReplaceAll(clip(t.Message, 1500), "\n", "\n  "))
			}
		}
		fmt.Fprintf(w, "\n## %s: skips (%d), by reason\n\n", r.Node, r.Count("skipped"))
		reasons := map[string][]string{}
		for _, t := range r.Tests {
			if t.Status == "skipped" {
				reasons[t.Message] = append(reasons[t.Message], t.Name)
			}
		}
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "- %s (%d):\n", clip(k, 300), len(reasons[k]))
			for _, n := range reasons[k] {
				fmt.Fprintf(w, "  - %s\n", n)
			}
		}
		fmt.Fprintf(w, "\n")
	}
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + " ..."
	}
	return s
}

// WriteReport writes dir/report.md from every node system's result
// under dir (kios first), and dir/junit.xml from node's.
func WriteReport(dir, node string) error {
	m, err := filepath.Glob(filepath.Join(dir, "*", "result.json"))
	if err != nil {
		return err
	}
	var results []Result
	for _, p := range m {
		r, err := ReadResult(p)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Node == "kios" && results[j].Node != "kios" })
	if len(results) == 0 {
		return fmt.Errorf("no result.json under %s", dir)
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	Markdown(f, results)
	if err := f.Close(); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, node, "junit.xml"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "junit.xml"), b, 0o644)
}
