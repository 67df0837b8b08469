package image

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kios.dev/kios/internal/shared/kmod"
)

// kernelModules reads a Debian kernel's modules directory at build time.
type kernelModules struct {
	dir     string
	paths   map[string]string
	builtin map[string]bool
}

func openKernelModules(dir string) (*kernelModules, error) {
	km := &kernelModules{dir: dir, paths: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			rel, _ := filepath.Rel(dir, p)
			km.paths[kmod.Normalize(p)] = filepath.ToSlash(rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan kernel modules in %s: %w", dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			km.builtin[kmod.Normalize(l)] = true
		}
	}
	return km, nil
}

func (km *kernelModules) Path(name string) (string, bool) { p, ok := km.paths[name]; return p, ok }
func (km *kernelModules) Builtin(name string) bool        { return km.builtin[name] }
func (km *kernelModules) Info(rel string) (kmod.Info, error) {
	b, err := os.ReadFile(filepath.Join(km.dir, rel))
	if err != nil {
		return kmod.Info{}, err
	}
	return kmod.ReadInfo(rel, b)
}

// moduleNames reads a module list: one name a line, '#' comments.
func moduleNames(list []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		if n := strings.TrimSpace(strings.SplitN(sc.Text(), "#", 2)[0]); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// initramfsModules are loaded by the initramfs from its own copy before
// the root is mounted; the root lists them in modules.dep for the
// modules that need them, without their files (kmod.Loader.Resident).
var initramfsModules = []string{"loop", "squashfs", "dm-mod"}

// addModules puts the closure of names into the tree under
// lib/modules/RELEASE with its modules.dep and modules.alias; the files
// of resident's closure are left out.
func addModules(t *Tree, km *kernelModules, release string, names, resident []string) ([]kmod.Module, error) {
	mods, err := kmod.Closure(km, names)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	if len(resident) > 0 {
		res, err := kmod.Closure(km, resident)
		if err != nil {
			return nil, err
		}
		for _, m := range res {
			skip[m.Path] = true
		}
	}
	base := "lib/modules/" + release
	for _, m := range mods {
		if skip[m.Path] {
			continue
		}
		if err := t.CopyFile(base+"/"+m.Path, 0o400, filepath.Join(km.dir, m.Path)); err != nil {
			return nil, err
		}
	}
	var dep, alias bytes.Buffer
	if err := kmod.WriteDep(&dep, mods); err != nil {
		return nil, err
	}
	if err := kmod.WriteAlias(&alias, mods); err != nil {
		return nil, err
	}
	if err := t.File(base+"/modules.dep", 0o400, dep.Bytes()); err != nil {
		return nil, err
	}
	return mods, t.File(base+"/modules.alias", 0o400, alias.Bytes())
}
