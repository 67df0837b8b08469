// Package image assembles a kiOS EFI: the root tree (binaries, kernel
// modules, /etc defaults, the user's config, primed images), the
// compressed root image, the initramfs and the Unified Kernel Image.
package image

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is one path of the root tree.
type Entry struct {
	Mode fs.FileMode // type bits and permissions
	Data []byte      // regular file contents, when held in memory
	Src  string      // regular file contents, copied from this file
	Link string      // symlink target
	// User marks content that came from the user's --config or --image,
	// so protected places can refuse it.
	User bool
}

// Tree is the node's root filesystem, keyed by path without leading "/".
type Tree struct{ entries map[string]*Entry }

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{entries: map[string]*Entry{}} }

// protected are the places user input must never replace.
var protected = []string{"bin", "lib/modules", "lib/kios"}

// ErrProtected is returned when user content would replace a system file.
var ErrProtected = fmt.Errorf("would replace a system file")

func clean(p string) (string, error) {
	c := path.Clean("/" + p)[1:]
	if c == "" || strings.HasPrefix(c, "..") {
		return "", fmt.Errorf("invalid path %q", p)
	}
	return c, nil
}

func (t *Tree) put(p string, e *Entry) error {
	c, err := clean(p)
	if err != nil {
		return err
	}
	if e.User {
		for _, pr := range protected {
			if c == pr || strings.HasPrefix(c, pr+"/") {
				return fmt.Errorf("/%s: %w", c, ErrProtected)
			}
		}
		if old, ok := t.entries[c]; ok && !old.User && old.Mode.IsDir() != e.Mode.IsDir() {
			return fmt.Errorf("/%s: %w (a %s)", c, ErrProtected, old.Mode.Type())
		}
	}
	for d := path.Dir(c); d != "."; d = path.Dir(d) {
		if old, ok := t.entries[d]; ok {
			if !old.Mode.IsDir() {
				return fmt.Errorf("/%s: parent /%s is not a directory", c, d)
			}
			continue
		}
		t.entries[d] = &Entry{Mode: fs.ModeDir | 0o755}
	}
	t.entries[c] = e
	return nil
}

// Dir adds a directory.
func (t *Tree) Dir(p string, perm fs.FileMode) error {
	return t.put(p, &Entry{Mode: fs.ModeDir | perm})
}

// File adds a file held in memory.
func (t *Tree) File(p string, perm fs.FileMode, data []byte) error {
	return t.put(p, &Entry{Mode: perm, Data: data})
}

// CopyFile adds a file whose contents are read from src when staged.
func (t *Tree) CopyFile(p string, perm fs.FileMode, src string) error {
	return t.put(p, &Entry{Mode: perm, Src: src})
}

// Symlink adds a symbolic link.
func (t *Tree) Symlink(p, target string) error {
	return t.put(p, &Entry{Mode: fs.ModeSymlink | 0o777, Link: target})
}

// Paths returns every path, sorted.
func (t *Tree) Paths() []string {
	out := make([]string, 0, len(t.entries))
	for p := range t.entries {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Get returns an entry.
func (t *Tree) Get(p string) (*Entry, bool) {
	c, err := clean(p)
	if err != nil {
		return nil, false
	}
	e, ok := t.entries[c]
	return e, ok
}

// Size is the total bytes of regular files under prefix.
func (t *Tree) Size(prefix string) int64 {
	var n int64
	for p, e := range t.entries {
		if !strings.HasPrefix(p, prefix) || !e.Mode.IsRegular() {
			continue
		}
		if e.Src != "" {
			if st, err := os.Stat(e.Src); err == nil {
				n += st.Size()
			}
		} else {
			n += int64(len(e.Data))
		}
	}
	return n
}

// Stage writes the tree under dir with the tree's modes.
func (t *Tree) Stage(dir string) error {
	for _, p := range t.Paths() {
		e := t.entries[p]
		full := filepath.Join(dir, p)
		switch {
		case e.Mode.IsDir():
			if err := os.MkdirAll(full, 0o755); err != nil {
				return err
			}
		case e.Mode&fs.ModeSymlink != 0:
			if err := os.Symlink(e.Link, full); err != nil {
				return err
			}
			continue
		default:
			data := e.Data
			if e.Src != "" {
				if err := linkOrCopy(e.Src, full); err != nil {
					return fmt.Errorf("stage /%s: %w", p, err)
				}
			} else if err := os.WriteFile(full, data, 0o600); err != nil {
				return err
			}
		}
		if err := os.Chmod(full, e.Mode.Perm()|e.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy copies src to dst (a fresh copy: Chmod must not touch src).
func linkOrCopy(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
