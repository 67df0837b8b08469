package mounts

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Info is one line of /proc/PID/mountinfo.
type Info struct {
	Target  string   `json:"target"`
	FSType  string   `json:"fstype"`
	Source  string   `json:"source"`
	Options []string `json:"options"` // per-mount options: ro, nosuid, nodev, noexec...
	Shared  bool     `json:"shared"`
}

// ReadMountinfo parses a mountinfo file, e.g. /proc/self/mountinfo.
func ReadMountinfo(path string) ([]Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMountinfo(f)
}

// ParseMountinfo reads mountinfo lines. Malformed lines are an error
// naming the line, because callers use the result to make decisions.
func ParseMountinfo(r io.Reader) ([]Info, error) {
	var out []Info
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: malformed", n)
		}
		in := Info{Target: unescape(f[4]), FSType: f[sep+1], Source: unescape(f[sep+2])}
		in.Options = strings.Split(f[5], ",")
		sort.Strings(in.Options)
		for _, tag := range f[6:sep] {
			if strings.HasPrefix(tag, "shared:") {
				in.Shared = true
			}
		}
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// unescape undoes the octal escapes (\040 for space) of mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Mounted reports whether target is a mount point in infos.
func Mounted(infos []Info, target string) bool {
	for _, in := range infos {
		if in.Target == target {
			return true
		}
	}
	return false
}
