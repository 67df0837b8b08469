// Package conformance runs the upstream Kubernetes node conformance
// tests (e2e.test from the kubelet's own module) against a cluster and
// writes a report of the results (make conformance,
// docs/conformance.md). It is a host tool: nothing here runs on a node.
package conformance

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Pass is one run of e2e.test over a selection of its tests.
type Pass struct {
	Name  string // names the pass's report directory and log
	Focus string // ginkgo --focus: the full text of a spec must match
	Skip  string // ginkgo --skip: a spec whose full text matches is left out
	Procs int    // parallel ginkgo processes (1: one test at a time)
}

// nodeConformance selects the tests Kubernetes tags [NodeConformance].
const nodeConformance = `\[NodeConformance\]`

// notRun are the tags of tests that neither pass runs, each with the
// reason the report gives for them: tests that take a node away, are
// known to be unreliable upstream, or need a feature the default kubelet
// and API server of v1.35 do not enable.
var notRun = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`\[Disruptive\]`), "[Disruptive]: takes nodes or their services down (not part of a conformance run)"},
	{regexp.MustCompile(`\[Flaky\]`), "[Flaky]: known to be unreliable upstream"},
	{regexp.MustCompile(`\[Feature:[^\]]+\]`), "[Feature:...]: needs a feature or environment outside a default cluster"},
	{regexp.MustCompile(`\[Alpha\]`), "[Alpha]: needs a feature gate that is off by default"},
}

func notRunSkip() string {
	s := ""
	for i, n := range notRun {
		if i > 0 {
			s += "|"
		}
		s += n.re.String()
	}
	return s
}

// Passes are the suite's two runs: everything that may run in parallel,
// then the [Serial] tests one at a time.
func Passes(procs int) []Pass {
	return []Pass{
		{Name: "parallel", Focus: nodeConformance, Skip: `\[Serial\]|` + notRunSkip(), Procs: procs},
		{Name: "serial", Focus: `\[Serial\].*` + nodeConformance + `|` + nodeConformance + `.*\[Serial\]`, Skip: notRunSkip(), Procs: 1},
	}
}

// Select keeps the passes named, in the order given; an unknown name is
// an error naming the passes there are.
func Select(passes []Pass, names []string) ([]Pass, error) {
	var kept []Pass
	for _, name := range names {
		i := slices.IndexFunc(passes, func(p Pass) bool { return p.Name == name })
		if i < 0 {
			var all []string
			for _, p := range passes {
				all = append(all, p.Name)
			}
			return nil, fmt.Errorf("no pass is named %q (the passes: %s)", name, strings.Join(all, ", "))
		}
		kept = append(kept, passes[i])
	}
	return kept, nil
}
