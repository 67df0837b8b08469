package kubelet

import (
	"strings"
	"testing"
)

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}

func FuzzParseNodeLabels(f *testing.F) {
	f.Add("zone: a # comment\nkios.dev/pool: blue\n\n:\nbad key!: x\n")
	f.Fuzz(func(t *testing.T, in string) {
		labels, err := ParseNodeLabels(strings.NewReader(in), nopLog{})
		if err != nil {
			return
		}
		// Whatever was accepted must render as a valid flag value.
		for k, v := range labels {
			if strings.ContainsAny(k+v, ",= \n") {
				t.Errorf("accepted label %q=%q cannot be a --node-labels item", k, v)
			}
		}
	})
}
