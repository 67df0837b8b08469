package image

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"kios.dev/kios/internal/host/etccheck"
	"kios.dev/kios/internal/shared/svcenv"
)

// ConfigEntry is one entry of a --config directory, which is laid over
// /etc.
type ConfigEntry struct {
	Rel  string      // slash path relative to the directory, and to /etc
	Dir  bool        // a directory; the rest is for files
	Mode fs.FileMode // a file's permission bits
	Data []byte
}

// WalkConfig reads a --config directory for kios build and kios disk,
// so both take and refuse the same: only regular files and directories,
// and every file a node reads checked the way its reader will read it
// (static pod manifests, service environments, and the files of
// internal/host/etccheck). An error names the file.
func WalkConfig(dir string, visit func(ConfigEntry) error) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("config directory %s: not a directory", dir)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("config directory: %w", err)
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return visit(ConfigEntry{Rel: rel, Dir: true})
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("config file: %w", err)
			}
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("config file: %w", err)
			}
			if err := checkConfigFile(p, rel, b); err != nil {
				return err
			}
			return visit(ConfigEntry{Rel: rel, Mode: info.Mode().Perm() & 0o666, Data: b})
		default:
			return fmt.Errorf("config file %s: only regular files and directories are allowed", p)
		}
	})
}

func checkConfigFile(p, rel string, b []byte) error {
	if rel == "os-release" {
		return fmt.Errorf("config file %s: the image's os-release is written by kios build (--version), not taken from --config", p)
	}
	target := "etc/" + rel
	if isManifest(target) {
		if err := CheckManifest(p, b); err != nil {
			return err
		}
	}
	if path.Dir(target) == svcenv.Dir {
		if _, err := svcenv.Parse(b); err != nil {
			return fmt.Errorf("config file %s (the environment PID 1 gives %s): %w", p, path.Base(target), err)
		}
	}
	if err := etccheck.Check(rel, b); err != nil {
		return fmt.Errorf("config file %s: %w", p, err)
	}
	return nil
}
