package kmod

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Index is the runtime view of the modules directory: what modules.dep
// and modules.alias say.
type Index struct {
	Paths   map[string]string   // name -> path relative to the modules dir
	Deps    map[string][]string // name -> direct dependency names
	Aliases []Alias
}

// Alias maps a glob pattern (as in modules.alias) to a module.
type Alias struct {
	Pattern string
	Module  string
}

// WriteDep writes modules in the modules.dep format depmod uses: the
// module's path, a colon, then the paths of every module it needs, in
// load order reversed (the format lists the nearest dependency first).
func WriteDep(w io.Writer, mods []Module) error {
	paths := map[string]string{}
	deps := map[string][]string{}
	for _, m := range mods {
		paths[m.Name] = m.Path
		deps[m.Name] = m.Depends
	}
	for _, m := range mods {
		order, err := LoadOrder(m.Name, deps)
		if err != nil {
			return err
		}
		line := m.Path + ":"
		for i := len(order) - 2; i >= 0; i-- {
			line += " " + paths[order[i]]
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// WriteAlias writes modules.alias lines, sorted for reproducibility.
func WriteAlias(w io.Writer, mods []Module) error {
	var lines []string
	for _, m := range mods {
		for _, a := range m.Aliases {
			lines = append(lines, "alias "+a+" "+m.Name)
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// ParseDep reads modules.dep. Every listed module's direct dependencies
// are taken to be the modules on its line, which is what loading needs.
func ParseDep(r io.Reader) (*Index, error) {
	idx := &Index{Paths: map[string]string{}, Deps: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok || mod == "" {
			return nil, fmt.Errorf("modules.dep line %d: no module path before ':'", n)
		}
		name := Normalize(path.Base(mod))
		idx.Paths[name] = mod
		var deps []string
		for _, d := range strings.Fields(rest) {
			deps = append(deps, Normalize(path.Base(d)))
		}
		idx.Deps[name] = deps
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return idx, nil
}

// ParseAlias reads modules.alias into idx. Malformed lines are skipped.
func (idx *Index) ParseAlias(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		idx.Aliases = append(idx.Aliases, Alias{Pattern: f[1], Module: Normalize(f[2])})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read modules.alias: %w", err)
	}
	return nil
}

// Match returns the modules whose alias patterns match a modalias string
// or a module name given to modprobe (e.g. "fs-overlay"), sorted, each once.
func (idx *Index) Match(modalias string) []string {
	seen := map[string]bool{}
	var out []string
	if _, ok := idx.Paths[Normalize(modalias)]; ok {
		return []string{Normalize(modalias)}
	}
	for _, a := range idx.Aliases {
		if ok, _ := path.Match(a.Pattern, modalias); ok && !seen[a.Module] {
			seen[a.Module] = true
			out = append(out, a.Module)
		}
	}
	sort.Strings(out)
	return out
}
