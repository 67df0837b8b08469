// Command testsum reads `go test -json` on stdin and prints what a CI log
// needs: each top-level test's result and duration, the whole output of
// every test that failed, and each package's result. A VM test logs the
// whole serial console; the passing ones' consoles would bury the rest.
// With -durations FILE it also writes "TestName seconds result" lines,
// the record docs/testing.md's durations come from.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (test2json's TestEvent).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	pkg, test, action string
	elapsed           float64
}

// summarize copies a summary of the JSON stream in to out and reports
// whether everything passed and the top-level tests' results.
func summarize(in io.Reader, out io.Writer) (bool, []result, error) {
	outputs := map[string]*strings.Builder{} // package/test -> output
	var order []string                       // outputs' keys as they came
	var results []result
	ok := true
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // a build error, printed as go test printed it
			continue
		}
		key := e.Package + "/" + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
				order = append(order, key)
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Action == "fail" {
				ok = false
			}
			if e.Test == "" {
				if e.Action == "fail" && outputs[key] != nil {
					io.WriteString(out, outputs[key].String())
				}
				fmt.Fprintf(out, "%-4s %s %.1fs\n", strings.ToUpper(e.Action), e.Package, e.Elapsed)
				continue
			}
			if strings.Contains(e.Test, "/") {
				continue // subtests are in their parent's output
			}
			results = append(results, result{e.Package, e.Test, e.Action, e.Elapsed})
			fmt.Fprintf(out, "  %-4s %s (%.1fs)\n", strings.ToUpper(e.Action), e.Test, e.Elapsed)
			if e.Action == "fail" {
				for _, k := range order {
					if k == key || strings.HasPrefix(k, key+"/") {
						io.WriteString(out, outputs[k].String())
					}
				}
			}
		}
	}
	return ok, results, sc.Err()
}

func main() {
	durations := flag.String("durations", "", "write each top-level test's duration to this file")
	flag.Parse()
	ok, results, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if *durations != "" {
		sort.Slice(results, func(i, j int) bool { return results[i].elapsed > results[j].elapsed })
		var b strings.Builder
		for _, r := range results {
			fmt.Fprintf(&b, "%s %s %.0f %s\n", r.pkg, r.test, r.elapsed, r.action)
		}
		if err := os.WriteFile(*durations, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
	}
	if !ok {
		os.Exit(1)
	}
}
