package nodecfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// StoreFile is where a node with a data partition keeps the configuration
// it applied, under the partition's mount point: one file, replaced
// atomically, so a power cut leaves the old or the new one whole. 0600
// in a 0700 directory: the document may hold a join token.
const StoreFile = "meta/config/stored.json"

// Stored is the stored document and where it came from.
type Stored struct {
	Source   nodeconfig.Source `json:"source"`
	Meta     Meta              `json:"meta"`
	Applied  time.Time         `json:"applied"`
	Document string            `json:"document"`
}

// Store keeps s on the data partition mounted at dataDir.
func Store(dataDir string, s Stored) error {
	p := filepath.Join(dataDir, StoreFile)
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
func Load(dataDir string) (Stored, error) {
	var s Stored
	b, err := os.ReadFile(filepath.Join(dataDir, StoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, ErrNoneStored
	}
	if err != nil {
		return s, fmt.Errorf("read the stored configuration: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("/%s: %w", StoreFile, err)
	}
	return s, nil
}
