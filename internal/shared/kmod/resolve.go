package kmod

import (
	"fmt"
	"sort"
)

// Module is one resolved module: where its file is, relative to the
// modules directory, and what it needs loaded first.
type Module struct {
	Name    string
	Path    string // e.g. kernel/fs/overlayfs/overlay.ko
	Depends []string
	Aliases []string
}

// Source gives build-time access to a kernel's modules.
type Source interface {
	// Path returns the module file of a name, relative to the modules dir.
	Path(name string) (string, bool)
	// Info reads a module's .modinfo.
	Info(path string) (Info, error)
	// Builtin reports whether a module is compiled into the kernel.
	Builtin(name string) bool
}

// Closure resolves wanted module names and everything they depend on.
// Names built into the kernel are skipped; unknown names are an error
// naming the module. The result is sorted by name.
func Closure(src Source, wanted []string) ([]Module, error) {
	byName := map[string]Module{}
	var visit func(name, from string) error
	visit = func(name, from string) error {
		name = Normalize(name)
		if _, ok := byName[name]; ok || src.Builtin(name) {
			return nil
		}
		p, ok := src.Path(name)
		if !ok {
			if from != "" {
				return fmt.Errorf("module %s (needed by %s) not found", name, from)
			}
			return fmt.Errorf("module %s not found", name)
		}
		info, err := src.Info(p)
		if err != nil {
			return err
		}
		deps := append([]string(nil), info.Depends...)
		for _, sd := range info.SoftPre {
			// A soft dependency is taken when this kernel has it as a module.
			if _, ok := src.Path(sd); ok {
				deps = append(deps, sd)
			}
		}
		byName[name] = Module{Name: name, Path: p, Depends: deps, Aliases: info.Aliases}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, w := range wanted {
		if err := visit(w, ""); err != nil {
			return nil, err
		}
	}
	out := make([]Module, 0, len(byName))
	for _, m := range byName {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadOrder returns the modules to load for name, dependencies first,
// each once. deps maps a module name to its direct dependencies.
func LoadOrder(name string, deps map[string][]string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range deps[n] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	if err := visit(Normalize(name)); err != nil {
		return nil, err
	}
	return order, nil
}
