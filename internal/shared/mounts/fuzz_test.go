package mounts

import (
	"strings"
	"testing"
)

func FuzzParseMountinfo(f *testing.F) {
	f.Add(sample)
	f.Add("1 2 3 / /x\\ rw - tmpfs\n")
	f.Fuzz(func(t *testing.T, in string) {
		infos, err := ParseMountinfo(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(infos) > strings.Count(in, "\n")+1 {
			t.Errorf("%d mounts from %d lines", len(infos), strings.Count(in, "\n")+1)
		}
		for _, m := range infos {
			if m.Target == "" || m.FSType == "" {
				t.Errorf("a mount without a target or type: %+v", m)
			}
		}
		// Nothing parsed from arbitrary input is the expected table; the
		// check says so rather than passing.
		if len(infos) < len(ExpectedTable(false)) && len(Check(infos, ExpectedTable(false))) == 0 {
			t.Errorf("%d mounts pass the check of a %d-mount table", len(infos), len(ExpectedTable(false)))
		}
	})
}
