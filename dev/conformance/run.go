package conformance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Config is one run of the suite against one cluster.
type Config struct {
	E2E        string // directory with e2e.test and ginkgo (components/build.sh e2e)
	Kubeconfig string
	Out        string // this run's directory: a log, report directory and result per pass
	Node       string // the node system under test, for the report (kios, baseline)
	Passes     []Pass
	Output     io.Writer // the suite's own progress output, as it runs
	// Timeout bounds each pass (ginkgo's --timeout; 4h when zero): a pass
	// that reaches it is interrupted and still reports the tests it ran.
	Timeout time.Duration
	// Images are the test images pushed for the run (name -> digest),
	// recorded in the result.
	Images map[string]string
}

// Args is the command line of one pass: ginkgo running the precompiled
// e2e.test, with e2e.test's own flags after "--".
func (c Config) Args(p Pass) []string {
	return []string{
		filepath.Join(c.E2E, "ginkgo"),
		fmt.Sprintf("--procs=%d", p.Procs),
		"--focus=" + p.Focus, "--skip=" + p.Skip,
		"--no-color", "--timeout=" + c.budget().String(), "--poll-progress-after=10m",
		filepath.Join(c.E2E, "e2e.test"), "--",
		"--kubeconfig=" + c.Kubeconfig,
		"--provider=skeleton",
		"--report-dir=" + filepath.Join(c.Out, p.Name),
		"--disable-log-dump",
		// The lab has no cloud and no control-plane nodes to wait for.
		"--minStartupPods=-1",
	}
}

// budget is each pass's time bound: Timeout, or 4h when unset.
func (c Config) budget() time.Duration { return cmp.Or(c.Timeout, 4*time.Hour) }

// Run runs each pass in turn, then reads their JUnit reports into one
// result, written beside them (result.json, junit.xml). A pass whose
// e2e.test fails (failed tests end it with a non-zero status) is
// recorded and the next still runs; the error names a pass that left no
// report.
func Run(ctx context.Context, c Config) (Result, error) {
	r := Result{Node: c.Node, Date: time.Now().UTC().Format("2006-01-02"), Images: c.Images}
	// ginkgo runs e2e.test in the binary's own directory: every path it
	// is given must be absolute.
	for _, p := range []*string{&c.E2E, &c.Kubeconfig, &c.Out} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return r, err
		}
		*p = abs
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return r, err
	}
	var outcomes [][]Outcome
	for _, p := range c.Passes {
		args := c.Args(p)
		log, err := os.Create(filepath.Join(c.Out, p.Name+".log"))
		if err != nil {
			return r, err
		}
		fmt.Fprintf(c.Output, "conformance: %s pass: %q\n", p.Name, args)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdout = io.MultiWriter(log, c.Output)
		cmd.Stderr = cmd.Stdout
		start := time.Now()
		runErr := cmd.Run()
		log.Close()
		elapsed := time.Since(start)
		pt := PassTime{Name: p.Name, Procs: p.Procs, Seconds: elapsed.Seconds()}
		var exit *exec.ExitError
		switch {
		case errors.As(runErr, &exit):
			pt.Exit = exit.String()
		case runErr != nil:
			return r, fmt.Errorf("%s pass: run ginkgo: %w", p.Name, runErr)
		}
		outOfTime := elapsed >= c.budget()
		if outOfTime {
			pt.Exit = fmt.Sprintf("stopped at its time budget (--timeout %s)", c.budget())
		}
		r.Passes = append(r.Passes, pt)
		o, err := ReadJUnit(filepath.Join(c.Out, p.Name, "junit_01.xml"))
		if err != nil {
			return r, fmt.Errorf("%s pass (%s, log %s): %w", p.Name, pt.Exit, log.Name(), err)
		}
		if outOfTime {
			MarkUnreached(o, p, fmt.Sprintf("not reached: the %s pass stopped at its time budget (--timeout %s)", p.Name, c.budget()))
		}
		outcomes = append(outcomes, o)
	}
	r.Tests = Merge(outcomes...)
	if err := WriteResult(filepath.Join(c.Out, "result.json"), r); err != nil {
		return r, err
	}
	return r, WriteJUnit(filepath.Join(c.Out, "junit.xml"), r)
}
