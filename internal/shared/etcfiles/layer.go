package etcfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// BootChecked are the files PID 1 checks at boot and replaces when they
// cannot work. The hostname has its own fallback (a name from the
// machine-id); the kubelet's standalone drop-ins are not replaced, as an
// empty drop-in would not load either.
var BootChecked = []string{
	"kubernetes/node-labels",
	"kubernetes/config.yaml",
	"containerd/config.toml",
	"kios/modules",
}

// Refusal is a file of the writable layer that cannot work, and what
// the node reads instead.
type Refusal struct {
	Rel string // relative to /etc
	Err error
	// Default is the image's copy (a path under the image's /etc), or ""
	// when the image has none and the node reads an empty file instead.
	Default string
}

// Layer checks the BootChecked files that the writable layer upper (laid
// out as /etc) holds; image is the image's own /etc. Files only in the
// image were checked when it was built; entries that are not regular
// files (an overlay whiteout for a deleted file, a directory) are left
// to their readers. A file that cannot be read is refused too, with the
// read's error.
func Layer(upper, image string) []Refusal {
	var out []Refusal
	for _, rel := range BootChecked {
		st, err := os.Lstat(filepath.Join(upper, rel))
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
			continue
		}
		var b []byte
		if err == nil {
			b, err = os.ReadFile(filepath.Join(upper, rel))
		}
		if err != nil {
			err = fmt.Errorf("/etc/%s: %w", rel, err)
		} else if err = Check(rel, b); err == nil {
			continue
		}
		r := Refusal{Rel: rel, Err: err}
		if st, err := os.Stat(filepath.Join(image, rel)); err == nil && st.Mode().IsRegular() {
			r.Default = filepath.Join(image, rel)
		}
		out = append(out, r)
	}
	return out
}
