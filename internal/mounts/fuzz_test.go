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
		if err == nil {
			Check(infos, ExpectedTable(false))
		}
	})
}
