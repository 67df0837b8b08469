package uki

import "testing"

func FuzzParsePE(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if names, err := SectionNames(b); err == nil {
			for _, n := range names {
				SectionData(b, n)
			}
		}
	})
}
