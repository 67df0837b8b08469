package testimages

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kios.dev/kios/internal/host/image"
)

// tree is an image's root filesystem being assembled: the image
// builder's Tree (later additions replace earlier ones at the same path,
// parents made as needed), keeping the first error so the images'
// recipes read as lists of additions.
type tree struct {
	t   *image.Tree
	err error
}

func newTree() *tree { return &tree{t: image.NewTree()} }

func (t *tree) keep(err error) {
	if t.err == nil && err != nil {
		t.err = err
	}
}

func (t *tree) dir(p string, mode fs.FileMode)              { t.keep(t.t.Dir(p, mode)) }
func (t *tree) file(p string, mode fs.FileMode, b []byte)   { t.keep(t.t.File(p, mode, b)) }
func (t *tree) copy(p string, mode fs.FileMode, src string) { t.keep(t.t.CopyFile(p, mode, src)) }
func (t *tree) symlink(p, target string)                    { t.keep(t.t.Symlink(p, target)) }

// unneeded are the parts of a Debian package an image does not need.
var unneeded = []string{"usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/locale", "usr/share/info"}

// overlay adds every file, directory and link under root (an unpacked
// Debian package) at the same path in the image.
func (t *tree) overlay(root string) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, u := range unneeded {
			if rel == u || strings.HasPrefix(rel, u+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch {
		case d.IsDir():
			t.dir(rel, mode)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			t.symlink(rel, target)
		case info.Mode().IsRegular():
			t.copy(rel, mode, p)
		default:
			return fmt.Errorf("%s: not a file, directory or link", p)
		}
		return t.err
	})
	t.keep(err)
	return t.err
}

// tarMode is a file mode as a tar header holds it (setuid, setgid and
// sticky as the octal bits).
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// tar writes the tree as one layer, parents before children, with fixed
// times and owners so the same inputs give the same digest.
func (t *tree) tar() ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, p := range t.t.Paths() {
		e, _ := t.t.Get(p)
		h := &tar.Header{Name: p, Mode: tarMode(e.Mode), ModTime: epoch, Format: tar.FormatPAX}
		data := e.Data
		switch {
		case e.Mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, p+"/"
		case e.Mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Link
		default:
			h.Typeflag = tar.TypeReg
			if e.Src != "" {
				b, err := os.ReadFile(e.Src)
				if err != nil {
					return nil, fmt.Errorf("read %s for /%s: %w", e.Src, p, err)
				}
				data = b
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry /%s: %w", p, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("layer entry /%s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
