// Package configsrc names the node configuration's sources and what is
// kept of an answer, without the document's parser: the config pod and
// the config socket link this, PID 1 and the tools internal/shared/
// nodeconfig, which re-exports it.
package configsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kios.dev/kios/internal/shared/atomicfile"
)

// MaxSize is the largest document read from any source.
const MaxSize = 1 << 20

// ErrTooLarge: a document over MaxSize.
var ErrTooLarge = errors.New("document larger than 1 MiB")

// Source is where a configuration came from, in the order the node
// tries them: the first that answers wins.
type Source string

const (
	SourceURL      Source = "url"      // kios.config=URL on the kernel command line
	SourceVolume   Source = "volume"   // a NoCloud (cidata) or config-drive (config-2) volume
	SourceMetadata Source = "metadata" // an EC2-compatible instance metadata service
	SourceData     Source = "data"     // what the data partition stores (kios disk --config, or a source's last answer)
	SourceImage    Source = "image"    // baked into the EFI (kios build --config FILE): always trusted, last
)

// Order is every source a node may be told to trust, first first.
var Order = []Source{SourceURL, SourceVolume, SourceMetadata, SourceData}

// Rank orders sources: lower wins.
func (s Source) Rank() int {
	if i := slices.Index(Order, s); i >= 0 {
		return i
	}
	return len(Order) // the image's, or none
}

// Paths in the root image (read-only, inside the signed EFI), written by
// kios build.
const (
	ImageSourcesFile = "lib/kios/config-sources" // the sources the image trusts, one line
	ImageCAFile      = "lib/kios/config-ca.pem"  // the CAs an https config URL must chain to
	ImageConfigFile  = "lib/kios/config.yaml"    // the image's own document
)

// ParseSources reads a comma-separated list of sources (kios build
// --config-sources); "none" trusts none but the image's own document.
func ParseSources(s string) ([]Source, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return []Source{}, nil
	}
	if s == "" || s == "all" {
		return slices.Clone(Order), nil
	}
	var out []Source
	for _, f := range strings.Split(s, ",") {
		src := Source(strings.TrimSpace(f))
		if !slices.Contains(Order, src) {
			return nil, fmt.Errorf("config source %q: want some of %s, or all, or none", f, joinSources(Order))
		}
		if !slices.Contains(out, src) {
			out = append(out, src)
		}
	}
	slices.SortFunc(out, func(a, b Source) int { return a.Rank() - b.Rank() })
	return out, nil
}

// FormatSources is ParseSources' inverse.
func FormatSources(list []Source) string {
	if len(list) == 0 {
		return "none"
	}
	return joinSources(list)
}

func joinSources(list []Source) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// StoreFile is where a node with a data partition keeps the configuration
// it applied, under the partition's mount point: one file, replaced
// atomically, so a power cut leaves the old or the new one whole. 0600
// in a 0700 directory: the document may hold a join token.
const StoreFile = "meta/config/stored.json"

// Stored is the stored document and where it came from.
type Stored struct {
	Source   Source    `json:"source"`
	Meta     Meta      `json:"meta"`
	Applied  time.Time `json:"applied"`
	Document string    `json:"document"`
}

// Meta is what a source says besides the document (NoCloud meta-data,
// the metadata service): its hostname applies when the document sets
// none.
type Meta struct {
	InstanceID string `json:"instanceID,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
}

// Store keeps s on the data partition mounted at dataDir (PID 1), or on
// the tree kios disk writes the partition from.
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
