// Package osrelease is kiOS's os-release: `kios build --version` stamps
// the version into the image's /usr/lib/os-release and the UKI's .osrel
// section, the kubelet reports it (kubectl get nodes -o wide, OS-IMAGE),
// systemd-boot sorts and names entries by it, and PID 1 reads it to know
// what it runs when it checks an upgrade.
package osrelease

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ID is kiOS's os-release ID (and IMAGE_ID).
const ID = "kios"

// DefaultVersion is the version of an image built without --version.
const DefaultVersion = "0.1.0"

// Path is where the image keeps its os-release, relative to the root;
// /etc/os-release links to it. PID 1 reads this one: /etc is writable.
const Path = "usr/lib/os-release"

// Info is what kiOS reads from an os-release.
type Info struct {
	ID         string
	Version    string // IMAGE_VERSION, else VERSION_ID
	PrettyName string
}

// CheckVersion refuses versions that cannot name a boot entry: the file
// \EFI\Linux\kios-<version>.efi, whose "+" starts the boot counter.
func CheckVersion(v string) error {
	if v == "" {
		return errors.New("version is empty")
	}
	if len(v) > 64 {
		return fmt.Errorf("version %q is longer than 64 characters", v)
	}
	for i, r := range v {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && strings.ContainsRune("._~-", r))
		if !ok {
			return fmt.Errorf("version %q: character %q at %d; use letters, digits and . _ ~ - (not first)", v, r, i)
		}
	}
	return nil
}

// Render is the os-release of a kiOS image of version v.
func Render(v string) []byte {
	return []byte(fmt.Sprintf(`NAME="kiOS"
ID=%[1]s
PRETTY_NAME="kiOS %[2]s"
VERSION=%[2]s
VERSION_ID=%[2]s
IMAGE_ID=%[1]s
IMAGE_VERSION=%[2]s
HOME_URL="https://kios.dev/"
`, ID, v))
}

// Parse reads an os-release: KEY=VALUE lines, values optionally quoted,
// # comments.
func Parse(b []byte) (Info, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Info{}, fmt.Errorf("os-release line %d: no '='", n)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if uq, err := strconv.Unquote(`"` + v[1:len(v)-1] + `"`); err == nil {
				v = uq
			} else {
				v = v[1 : len(v)-1]
			}
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return Info{}, fmt.Errorf("os-release: %w", err)
	}
	i := Info{ID: vals["ID"], Version: vals["IMAGE_VERSION"], PrettyName: vals["PRETTY_NAME"]}
	if i.Version == "" {
		i.Version = vals["VERSION_ID"]
	}
	return i, nil
}
