package testimages

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry is one file, directory or symbolic link of an image's layer.
type entry struct {
	typ  byte // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode int64
	data []byte
	src  string // read at write time when data is nil
	link string
}

// tree is an image's root filesystem being assembled: later additions
// replace earlier ones at the same path, as a layer laid over another
// would.
type tree map[string]entry

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func (t tree) dir(p string, mode int64) {
	t[clean(p)] = entry{typ: tar.TypeDir, mode: mode}
}

func (t tree) file(p string, mode int64, data []byte) {
	t[clean(p)] = entry{typ: tar.TypeReg, mode: mode, data: data}
}

func (t tree) copy(p string, mode int64, src string) {
	t[clean(p)] = entry{typ: tar.TypeReg, mode: mode, src: src}
}

func (t tree) symlink(p, target string) {
	t[clean(p)] = entry{typ: tar.TypeSymlink, mode: 0o777, link: target}
}

// unneeded are the parts of a Debian package an image does not need.
var unneeded = []string{"usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/locale", "usr/share/info"}

// overlay adds every file, directory and link under root (an unpacked
// Debian package) at the same path in the image.
func (t tree) overlay(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
		mode := int64(info.Mode().Perm())
		if info.Mode()&fs.ModeSetuid != 0 {
			mode |= 0o4000
		}
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
		return nil
	})
}

// tar writes the tree as one layer, parents before children, with fixed
// times and owners so the same inputs give the same digest.
func (t tree) tar() ([]byte, error) {
	for p := range t {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := t[d]; !ok {
				t.dir(d, 0o755)
			}
		}
	}
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, p := range paths {
		e := t[p]
		h := &tar.Header{Name: p, Typeflag: e.typ, Mode: e.mode, ModTime: epoch, Linkname: e.link, Format: tar.FormatPAX}
		data := e.data
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeReg:
			if data == nil && e.src != "" {
				b, err := os.ReadFile(e.src)
				if err != nil {
					return nil, fmt.Errorf("read %s for /%s: %w", e.src, p, err)
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
