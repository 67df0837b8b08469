package mounts

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Expected is what a running node's mount must look like.
type Expected struct {
	Target string
	FSType string
	Need   []string // per-mount options that must be present
}

// ExpectedTable derives the required options of every mount the node
// makes from the table itself, plus the root and /etc. With a data
// partition its mounts replace the tmpfs ones they cover.
func ExpectedTable(dataPartition bool) []Expected {
	var out []Expected
	out = append(out, Expected{"/", "squashfs", []string{"ro", "nodev", "nosuid"}})
	table := append(append([]Mount{}, Pseudo...), Writable...)
	if dataPartition {
		var kept []Mount
		for _, m := range table {
			if !has(Replaced, m.Target) {
				kept = append(kept, m)
			}
		}
		table = append(append(kept, DataPartition("")), Data...)
	}
	for _, m := range table {
		out = append(out, Expected{m.Target, m.FSType, flagNames(m.Flags)})
	}
	etc := Etc(EtcUpper+"/upper", EtcUpper+"/work")
	out = append(out, Expected{etc.Target, etc.FSType, flagNames(etc.Flags)})
	return out
}

func flagNames(f uintptr) []string {
	var n []string
	for _, x := range []struct {
		bit  uintptr
		name string
	}{{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"}} {
		if f&x.bit != 0 {
			n = append(n, x.name)
		}
	}
	return n
}

// Check compares the running mounts with the expected table. Every
// expected target must be mounted with its type and options; a mount
// outside the table must be nodev and nosuid unless it belongs to a
// container (under /var/lib/kubelet, /var/lib/containerd or /run).
func Check(infos []Info, table []Expected) []error {
	var errs []error
	byTarget := map[string]Info{}
	for _, in := range infos {
		byTarget[in.Target] = in // the last mount on a target is the visible one
	}
	known := map[string]bool{}
	for _, e := range table {
		known[e.Target] = true
		in, ok := byTarget[e.Target]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not mounted", e.Target))
			continue
		}
		if in.FSType != e.FSType {
			errs = append(errs, fmt.Errorf("%s: type %s, want %s", e.Target, in.FSType, e.FSType))
		}
		for _, o := range e.Need {
			if !has(in.Options, o) {
				errs = append(errs, fmt.Errorf("%s: missing option %s (has %s)", e.Target, o, strings.Join(in.Options, ",")))
			}
		}
	}
	for _, in := range infos {
		if known[in.Target] || containerOwned(in.Target) {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: unexpected %s mount (options %s)", in.Target, in.FSType, strings.Join(in.Options, ",")))
	}
	return errs
}

func containerOwned(target string) bool {
	for _, p := range []string{"/var/lib/kubelet/", "/var/lib/containerd/", "/run/containerd/", "/run/netns/"} {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
