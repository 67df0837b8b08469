package uki

import "testing"

func FuzzParsePE(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if names, err := SectionNames(b); err == nil {
			for _, n := range names {
				// A section's data is inside the file, where its range says.
				d, err := SectionData(b, n)
				if err != nil {
					continue
				}
				off, size, err := SectionRange(b, n)
				if err != nil || off < 0 || off+size > len(b) || len(d) > len(b) {
					t.Errorf("section %q: range %d+%d (err %v), data %d bytes, file %d", n, off, size, err, len(d), len(b))
				}
			}
		}
	})
}
