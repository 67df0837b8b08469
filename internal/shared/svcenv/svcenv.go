// Package svcenv reads the environment PID 1 gives each program it
// starts, from /etc/kios/env/<program>: kiOS's tuned defaults for the
// Go runtime (docs/memory.md), which a user overrides or empties with
// `kios build --config DIR` (DIR/kios/env/<program>). The same parser
// checks the files at build time, so a file that cannot work is refused
// there.
package svcenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Dir is where the files live, under the image's /.
const Dir = "etc/kios/env"

// Programs that read a file: containerd's also reaches the shims it
// starts, which inherit its environment.
var Programs = []string{"containerd", "kubelet"}

// reserved are set by PID 1 itself and may not be changed.
var reserved = map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true, "DBUS_SYSTEM_BUS_ADDRESS": true}

var name = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// Parse reads KEY=VALUE lines; blank lines and lines starting with #
// are skipped. An error names the line and what is wrong with it.
func Parse(b []byte) ([]string, error) {
	var out []string
	var errs []error
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: want KEY=VALUE, got %q", n, line))
		case !name.MatchString(k):
			errs = append(errs, fmt.Errorf("line %d: %q is not a variable name (A-Z, 0-9, _)", n, k))
		case reserved[k]:
			errs = append(errs, fmt.Errorf("line %d: %s is set by PID 1", n, k))
		case seen[k]:
			errs = append(errs, fmt.Errorf("line %d: %s set twice", n, k))
		case strings.ContainsAny(v, "\x00"):
			errs = append(errs, fmt.Errorf("line %d: %s: NUL in value", n, k))
		default:
			seen[k] = true
			out = append(out, k+"="+v)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Read returns program's extra environment from root's Dir. No file
// means none; a file that does not parse is an error naming it, and the
// caller starts the program without it.
func Read(root, program string) ([]string, error) {
	p := filepath.Join(root, Dir, program)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	env, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", "/"+filepath.ToSlash(filepath.Join(Dir, program)), err)
	}
	return env, nil
}
