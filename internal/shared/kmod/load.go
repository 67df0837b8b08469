package kmod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrUnknown is returned for a module or alias no module provides.
var ErrUnknown = errors.New("no such module")

// Logger is the one method kmod needs to report what it does.
type Logger interface {
	Printf(format string, args ...any)
}

// Loader loads modules by name or alias from a modules directory.
type Loader struct {
	Dir   string                  // e.g. /lib/modules/6.1.0-56-amd64
	Load  func(path string) error // loads one module file (finit_module)
	Index *Index                  // parsed modules.dep + modules.alias
	// Resident, when set, says a module is in the kernel already (built
	// in, or loaded by the initramfs from its own copy): it is not
	// loaded again, and the root need not carry its file.
	Resident func(name string) bool
	mu       sync.Mutex
	state    map[string]*moduleState
}

// moduleState serialises the loading of one module, so different
// modules load in parallel (signature checks are slow under emulation)
// while one module is never loaded twice at once.
type moduleState struct {
	mu   sync.Mutex
	done bool
}

func (l *Loader) module(name string) *moduleState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == nil {
		l.state = map[string]*moduleState{}
	}
	st := l.state[name]
	if st == nil {
		st = &moduleState{}
		l.state[name] = st
	}
	return st
}

// Open reads Dir's modules.dep and modules.alias.
func Open(dir string, load func(string) error) (*Loader, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("open modules index: %w", err)
	}
	defer f.Close()
	idx, err := ParseDep(f)
	if err != nil {
		return nil, err
	}
	if a, err := os.Open(filepath.Join(dir, "modules.alias")); err == nil {
		defer a.Close()
		if err := idx.ParseAlias(a); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open modules.alias: %w", err)
	}
	return &Loader{Dir: dir, Load: load, Index: idx}, nil
}

// InSysfs reports a module resident when sysRoot/module/<name> exists,
// as it does for every loaded module and every built-in one.
func InSysfs(sysRoot string) func(name string) bool {
	return func(name string) bool {
		_, err := os.Stat(filepath.Join(sysRoot, "module", Normalize(name)))
		return err == nil
	}
}

// Probe loads the modules that provide name (a module name or an alias)
// and their dependencies. It returns the names newly loaded.
func (l *Loader) Probe(name string) ([]string, error) {
	mods := l.Index.Match(name)
	if len(mods) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	var loaded []string
	var errs []error
	for _, m := range mods {
		n, err := l.loadWithDeps(m)
		loaded = append(loaded, n...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return loaded, errors.Join(errs...)
}

func (l *Loader) loadWithDeps(name string) ([]string, error) {
	order, err := LoadOrder(name, l.Index.Deps)
	if err != nil {
		return nil, err
	}
	var loaded []string
	for _, m := range order {
		p, ok := l.Index.Paths[m]
		if !ok {
			return loaded, fmt.Errorf("%w: %s (needed by %s)", ErrUnknown, m, name)
		}
		st := l.module(m)
		st.mu.Lock()
		if !st.done && l.Resident != nil && l.Resident(m) {
			st.done = true
		}
		if !st.done {
			err := l.Load(filepath.Join(l.Dir, p))
			if err != nil && !errors.Is(err, os.ErrExist) {
				st.mu.Unlock()
				return loaded, fmt.Errorf("load module %s: %w", m, err)
			}
			st.done = true
			if err == nil {
				loaded = append(loaded, m)
			}
		}
		st.mu.Unlock()
	}
	return loaded, nil
}

// Coldplug reads every modalias file under sysRoot/bus/*/devices/* and
// loads the matching modules, repeating while new modules appear,
// because loading a bus driver (virtio_pci) reveals new devices.
func (l *Loader) Coldplug(sysRoot string, log Logger) []string {
	return l.ColdplugMatching(sysRoot, log, func(string) bool { return true })
}

// ColdplugMatching is Coldplug limited to the devices whose modalias
// keep accepts (PID 1 loads storage drivers first, the rest later).
func (l *Loader) ColdplugMatching(sysRoot string, log Logger, keep func(modalias string) bool) []string {
	var all []string
	seen := map[string]bool{}
	for pass := 0; pass < 4; pass++ {
		files, _ := filepath.Glob(filepath.Join(sysRoot, "bus", "*", "devices", "*", "modalias"))
		newMods := 0
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			alias := strings.TrimSpace(string(b))
			if alias == "" || seen[alias] || !keep(alias) {
				continue
			}
			seen[alias] = true
			if len(l.Index.Match(alias)) == 0 {
				continue
			}
			loaded, err := l.Probe(alias)
			if err != nil {
				log.Printf("coldplug %s: %v", alias, err)
			}
			all = append(all, loaded...)
			newMods += len(loaded)
		}
		if newMods == 0 {
			break
		}
	}
	return all
}
