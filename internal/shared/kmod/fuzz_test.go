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
			order, err := LoadOrder(m, idx.Deps) // cycles are errors, never hangs
			if err != nil {
				continue
			}
			// Each module once, after everything it depends on, the asked one last.
			pos := map[string]int{}
			for i, o := range order {
				if _, dup := pos[o]; dup {
					t.Fatalf("%s loads twice in %v", o, order)
				}
				pos[o] = i
			}
			for _, o := range order {
				for _, d := range idx.Deps[o] {
					if pd, ok := pos[d]; !ok || pd > pos[o] {
						t.Errorf("%s loads before its dependency %s: %v", o, d, order)
					}
				}
			}
			if len(order) == 0 || order[len(order)-1] != Normalize(m) {
				t.Errorf("load order %v does not end with %s", order, m)
			}
		}
	})
}
