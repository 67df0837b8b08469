// Package esp is the EFI System Partition of a disk-installed node:
// systemd-boot at the removable-media path, its loader.conf, and each
// kiOS image as a Boot Loader Specification Type #2 entry,
// \EFI\Linux\kios-<version>.efi, with a boot counter while it is on
// trial (kios-<version>+<left>[-<done>].efi). kios disk lays it out;
// PID 1 stages upgrades into it, blesses the image it runs once the
// node is healthy, and rolls back. Both read this one description.
package esp

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"kios.dev/kios/internal/shared/osrelease"
)

// Paths on the ESP, slash-separated from its root.
const (
	LoaderFile     = "EFI/BOOT/BOOTX64.EFI" // systemd-boot, where firmware looks without boot entries
	LoaderConfFile = "loader/loader.conf"
	EntriesDir     = "EFI/Linux"
)

// LoaderConf boots the default entry at once, with no menu, editor or
// firmware entries: a node has nobody at its console.
var LoaderConf = []byte("timeout 0\neditor no\nauto-entries no\nauto-firmware no\n")

const (
	prefix = "kios-"
	suffix = ".efi"
)

// Entry is one kiOS image on the ESP.
type Entry struct {
	Version  string
	Counting bool // on trial: the loader counts its boots down
	Left     int  // boots left before the loader passes it over
	Done     int  // boots tried
}

// Staged is the entry of a new image with tries boots to prove itself.
func Staged(version string, tries int) Entry {
	return Entry{Version: version, Counting: true, Left: tries}
}

// Name is the entry's file name in EntriesDir.
func (e Entry) Name() string {
	if !e.Counting {
		return prefix + e.Version + suffix
	}
	if e.Done == 0 {
		return fmt.Sprintf("%s%s+%d%s", prefix, e.Version, e.Left, suffix)
	}
	return fmt.Sprintf("%s%s+%d-%d%s", prefix, e.Version, e.Left, e.Done, suffix)
}

// Bad: no boots left, so the loader boots it only when every other
// entry is bad too.
func (e Entry) Bad() bool { return e.Counting && e.Left == 0 }

// Good: blessed, it booted a healthy node.
func (e Entry) Good() bool { return !e.Counting }

// State is good, bad or trial, for logs.
func (e Entry) State() string {
	switch {
	case e.Good():
		return "good"
	case e.Bad():
		return "bad"
	}
	return "trial"
}

// ParseEntry reads an entry's file name; ok is false for files that are
// not kiOS entries (another OS's, or a temporary file).
func ParseEntry(name string) (e Entry, ok bool) {
	lower := strings.ToLower(name)
	if !strings.HasPrefix(lower, prefix) || !strings.HasSuffix(lower, suffix) {
		return Entry{}, false
	}
	stem := name[len(prefix) : len(name)-len(suffix)]
	if i := strings.LastIndexByte(stem, '+'); i >= 0 {
		counter := stem[i+1:]
		left, done, hasDone := strings.Cut(counter, "-")
		l, err := strconv.Atoi(left)
		if err != nil || l < 0 || !digits(left) {
			return Entry{}, false
		}
		d := 0
		if hasDone {
			if d, err = strconv.Atoi(done); err != nil || !digits(done) {
				return Entry{}, false
			}
		}
		e = Entry{Version: stem[:i], Counting: true, Left: l, Done: d}
	} else {
		e = Entry{Version: stem}
	}
	if osrelease.CheckVersion(e.Version) != nil {
		return Entry{}, false
	}
	return e, true
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Sort orders entries as systemd-boot does (v252, config_entry_compare)
// for images that share os-release's IMAGE_ID: entries with boots left
// first, then the newest version, then the name, descending. The first
// is what the loader boots.
func Sort(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.Bad() != b.Bad() {
			return !a.Bad()
		}
		if c := osrelease.Compare(a.Version, b.Version); c != 0 {
			return c > 0
		}
		return osrelease.Compare(a.Name(), b.Name()) > 0
	})
}

// Next is the entry the loader boots next, if any.
func Next(entries []Entry) (Entry, bool) {
	if len(entries) == 0 {
		return Entry{}, false
	}
	s := append([]Entry(nil), entries...)
	Sort(s)
	return s[0], true
}

// Find is the entry of version v.
func Find(entries []Entry, v string) (Entry, bool) {
	for _, e := range entries {
		if e.Version == v {
			return e, true
		}
	}
	return Entry{}, false
}
