package nodecfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// Store keeps s on the data partition mounted at dataDir.
func Store(dataDir string, s nodeconfig.Stored) error {
	p := filepath.Join(dataDir, nodeconfig.StoreFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store the configuration: %w", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("store the configuration: %w", err)
	}
	if err := atomicfile.Write(p, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("store the configuration: %w", err)
	}
	return nil
}

// ErrNoneStored is Load's answer on a partition that stores nothing.
var ErrNoneStored = errors.New("no stored configuration")

// Load reads what Store kept.
func Load(dataDir string) (nodeconfig.Stored, error) {
	var s nodeconfig.Stored
	b, err := os.ReadFile(filepath.Join(dataDir, nodeconfig.StoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, ErrNoneStored
	}
	if err != nil {
		return s, fmt.Errorf("read the stored configuration: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("/%s: %w", nodeconfig.StoreFile, err)
	}
	return s, nil
}
