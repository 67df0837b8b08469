// Package primed is the index of the image archives an image carries for
// containerd to import at boot: the image builder and `kios disk` write
// it, PID 1 reads it. It has no containerd dependency, so host tools
// that only write the index do not link containerd's client.
package primed

import (
	"encoding/json"
	"fmt"
	"os"
)

// IndexFile is the index's name, beside the archives it lists.
const IndexFile = "index.json"

// Entry is one archive of the index.
type Entry struct {
	File   string   `json:"file"`   // archive file name, relative to the index
	SHA256 string   `json:"sha256"` // of the archive
	Names  []string `json:"names"`  // image references it provides
}

// Read reads an index.
func Read(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read primed image index: %w", err)
	}
	var idx []Entry
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return idx, nil
}

// Marshal is the index's file content.
func Marshal(idx []Entry) ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
