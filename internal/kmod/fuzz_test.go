package kmod

import (
	"strings"
	"testing"
)

func FuzzIndex(f *testing.F) {
	f.Add("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n", "alias fs-a a\nalias pci:v*d* b\n", "pci:v00001AF4d00001000")
	f.Add("kernel/a.ko: kernel/a.ko\n", "alias [ a\n", "[")
	f.Fuzz(func(t *testing.T, dep, alias, query string) {
		idx, err := ParseDep(strings.NewReader(dep))
		if err != nil {
			return
		}
		idx.ParseAlias(strings.NewReader(alias))
		for _, m := range idx.Match(query) {
			LoadOrder(m, idx.Deps) // cycles are errors, never hangs
		}
	})
}
