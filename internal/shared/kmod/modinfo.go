// Package kmod resolves and loads Linux kernel modules without kmod's
// tools: it reads .modinfo from module files at build time, writes the
// standard modules.dep and modules.alias files, and at boot loads modules
// in dependency order and matches device modaliases against the aliases.
package kmod

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// Info is what a module's .modinfo section says about it.
type Info struct {
	Name    string
	Depends []string
	Aliases []string
	// SoftPre are "softdep pre:" modules: loaded first when present.
	SoftPre []string
}

// ReadInfo parses the .modinfo section of a module file's contents.
func ReadInfo(name string, ko []byte) (Info, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return Info{}, fmt.Errorf("read module %s: %w", name, err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return Info{}, fmt.Errorf("module %s has no .modinfo section", name)
	}
	data, err := s.Data()
	if err != nil {
		return Info{}, fmt.Errorf("read .modinfo of %s: %w", name, err)
	}
	info := Info{Name: Normalize(name)}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, Normalize(d))
				}
			}
		case "softdep":
			// "pre: a b post: c" - only pre matters for loading order.
			pre := false
			for _, f := range strings.Fields(v) {
				switch f {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						info.SoftPre = append(info.SoftPre, Normalize(f))
					}
				}
			}
		case "alias":
			info.Aliases = append(info.Aliases, v)
		case "name":
			info.Name = Normalize(v)
		}
	}
	return info, nil
}

// Normalize gives the kernel's canonical module name: dashes become
// underscores and any directory and .ko suffix are dropped.
func Normalize(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, ".ko")
	return strings.ReplaceAll(name, "-", "_")
}
