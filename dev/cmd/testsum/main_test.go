package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"console: booting\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA","Elapsed":120.5}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"console: stuck\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB/sub","Output":"    sub.go:3: no event=blessed\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB/sub","Elapsed":3}`,
		`{"Action":"fail","Package":"p","Test":"TestB","Elapsed":60}`,
		`{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}`,
		`{"Action":"output","Package":"p","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"p","Elapsed":181}`,
		`# a build error line`,
	}, "\n")
	var out strings.Builder
	ok, results, err := summarize(strings.NewReader(in), &out)
	if err != nil || ok {
		t.Fatalf("summarize = %v, %v; want a failure reported", ok, err)
	}
	want := "  PASS TestA (120.5s)\n  FAIL TestB (60.0s)\nconsole: stuck\n    sub.go:3: no event=blessed\n  SKIP TestC (0.0s)\nFAIL\nFAIL p 181.0s\n# a build error line\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]result{{"p", "TestA", "pass", 120.5}, {"p", "TestB", "fail", 60}, {"p", "TestC", "skip", 0}}, results, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}
