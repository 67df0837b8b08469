package conformance

import (
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// junitCase is a testcase of the JUnit file e2e.test writes with
// --report-dir (junit_01.xml).
type junitCase struct {
	Name    string  `xml:"name,attr"`
	Status  string  `xml:"status,attr"`
	Time    float64 `xml:"time,attr"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"error"`
}

type junitSuites struct {
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// Outcome is what happened to one test.
type Outcome struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // passed, failed, skipped
	Message string  `json:"message,omitempty"`
	Seconds float64 `json:"seconds"`
	// Filtered is true for a test its pass did not select (ginkgo's
	// "skipped" with no reason): another pass may have run it.
	Filtered bool `json:"-"`
}

// ReadJUnit reads the outcomes of a JUnit report of e2e.test.
func ReadJUnit(path string) ([]Outcome, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the JUnit report: %w", err)
	}
	var s junitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse the JUnit report %s: %w", path, err)
	}
	var out []Outcome
	for _, suite := range s.Suites {
		for _, c := range suite.Cases {
			o := Outcome{Name: c.Name, Seconds: c.Time}
			switch {
			case c.Failure != nil:
				o.Status, o.Message = "failed", firstNonEmpty(c.Failure.Message, c.Failure.Text)
			case c.Error != nil && c.Status == "interrupted":
				// Stopped by the pass's --timeout (or Ctrl-C): it did not fail.
				o.Status, o.Message = "skipped", "interrupted before it ended: "+firstNonEmpty(c.Error.Message, c.Error.Text)
			case c.Error != nil:
				o.Status, o.Message = "failed", firstNonEmpty(c.Error.Message, c.Error.Text)
			case c.Status == "skipped" || c.Skipped != nil:
				o.Status = "skipped"
				if c.Skipped != nil {
					o.Message = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(c.Skipped.Message, "skipped"), " - "))
				}
				o.Filtered = o.Message == ""
			case c.Status == "passed":
				o.Status = "passed"
			default:
				o.Status, o.Message = "failed", "ended "+c.Status
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			return x
		}
	}
	return ""
}

var conformanceTag = regexp.MustCompile(nodeConformance)

// Merge keeps the [NodeConformance] tests (and any failed suite-level
// node, such as BeforeSuite) of several passes, each with the outcome of
// the pass that selected it; a test no pass selected is skipped with the
// reason of the tag that left it out.
func Merge(passes ...[]Outcome) []Outcome {
	byName := map[string]Outcome{}
	var order []string
	for _, pass := range passes {
		for _, o := range pass {
			if !conformanceTag.MatchString(o.Name) && o.Status != "failed" {
				continue
			}
			prev, seen := byName[o.Name]
			if !seen {
				order = append(order, o.Name)
			}
			if !seen || (prev.Filtered && !o.Filtered) {
				byName[o.Name] = o
			}
		}
	}
	out := make([]Outcome, 0, len(order))
	for _, n := range order {
		o := byName[n]
		if o.Filtered {
			o.Message = whyNotRun(o.Name)
		}
		out = append(out, o)
	}
	return out
}

func whyNotRun(name string) string {
	for _, n := range notRun {
		if n.re.MatchString(name) {
			return n.reason
		}
	}
	return "selected by no pass"
}

// MarkUnreached gives the tests a pass selected but never started (ginkgo
// reports them skipped with no reason when the pass is interrupted) the
// reason why, so the report does not count them as left out by a tag.
func MarkUnreached(outcomes []Outcome, p Pass, why string) {
	focus, skip := regexp.MustCompile(p.Focus), regexp.MustCompile(p.Skip)
	for i, o := range outcomes {
		if o.Filtered && focus.MatchString(o.Name) && !skip.MatchString(o.Name) {
			outcomes[i].Filtered, outcomes[i].Message = false, why
		}
	}
}
