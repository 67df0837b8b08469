// Package seed reads a node's configuration from a volume the machine's
// owner attached: a NoCloud seed (label cidata or CIDATA: user-data,
// meta-data) or an OpenStack config drive (label config-2:
// openstack/latest/user_data, meta_data.json), ISO 9660 or FAT. PID 1
// finds it by reading each block device's label itself, then mounts it
// read-only with the kernel's filesystem (nodev, nosuid, noexec) and
// reads at most nodeconfig.MaxSize of each file.
package seed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"kios.dev/kios/internal/shared/nodeconfig"
)

// Kinds of seed volume.
const (
	NoCloud     = "nocloud"
	ConfigDrive = "config-drive"
)

// Volume is a block device carrying a seed.
type Volume struct {
	Device string // /dev/NAME
	Kind   string // NoCloud or ConfigDrive
	FS     string // iso9660 or vfat
	Label  string
}

// ErrNone: no device carries a seed label.
var ErrNone = errors.New("no cidata or config-2 volume")

// ErrTwo: more than one does; which one the owner meant is unknown, so
// neither is read.
var ErrTwo = errors.New("more than one seed volume")

// Find reads the label of each block device under sysBlock (whole disks
// and partitions) through open.
func Find(sysBlock string, open func(name string) (io.ReaderAt, io.Closer, error)) (Volume, error) {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return Volume{}, fmt.Errorf("list block devices: %w", err)
	}
	var found []Volume
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "zram") || strings.HasPrefix(name, "dm-") {
			continue
		}
		r, c, err := open(name)
		if err != nil {
			continue // a drive with no medium, or gone
		}
		label, fsType := Label(r)
		c.Close()
		switch {
		case label == "cidata" || label == "CIDATA":
			found = append(found, Volume{Device: "/dev/" + name, Kind: NoCloud, FS: fsType, Label: label})
		case label == "config-2" || label == "CONFIG-2":
			found = append(found, Volume{Device: "/dev/" + name, Kind: ConfigDrive, FS: fsType, Label: label})
		}
	}
	switch len(found) {
	case 0:
		return Volume{}, ErrNone
	case 1:
		return found[0], nil
	}
	var names []string
	for _, v := range found {
		names = append(names, v.Device+" ("+v.Label+")")
	}
	sort.Strings(names)
	return Volume{}, fmt.Errorf("%w: %s", ErrTwo, strings.Join(names, ", "))
}

// Label reads an ISO 9660 volume identifier or a FAT volume label.
func Label(r io.ReaderAt) (label, fsType string) {
	pvd := make([]byte, 72)
	if _, err := r.ReadAt(pvd, 16*2048); err == nil && pvd[0] == 1 && string(pvd[1:6]) == "CD001" {
		return strings.TrimRight(string(pvd[40:72]), " \x00"), "iso9660"
	}
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil || bs[510] != 0x55 || bs[511] != 0xAA {
		return "", ""
	}
	// FAT32 keeps 0 in the 16-bit sectors-per-FAT field; its extended
	// boot record (and label) sits further in.
	off := 43
	if bs[22] == 0 && bs[23] == 0 {
		off = 71
	}
	if bs[off-5] != 0x29 { // no extended boot signature: no label here
		return "", ""
	}
	return strings.TrimRight(string(bs[off:off+11]), " \x00"), "vfat"
}

// Seed is what a volume says.
type Seed struct {
	UserData   []byte
	InstanceID string
	Hostname   string
}

// Read reads the seed of kind from the volume mounted at dir.
func Read(dir, kind string) (Seed, error) {
	var s Seed
	var err error
	switch kind {
	case NoCloud:
		if s.UserData, err = readFile(dir, "user-data"); err != nil {
			return s, err
		}
		meta, err := readFile(dir, "meta-data")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s, err
		}
		var md struct {
			InstanceID    string `json:"instance-id"`
			LocalHostname string `json:"local-hostname"`
			Hostname      string `json:"hostname"`
		}
		if len(bytes.TrimSpace(meta)) > 0 {
			if err := yaml.Unmarshal(meta, &md); err != nil {
				return s, fmt.Errorf("meta-data: not YAML")
			}
		}
		s.InstanceID, s.Hostname = md.InstanceID, md.LocalHostname
		if s.Hostname == "" {
			s.Hostname = md.Hostname
		}
	case ConfigDrive:
		if s.UserData, err = readFile(dir, "openstack/latest/user_data"); err != nil {
			return s, err
		}
		meta, err := readFile(dir, "openstack/latest/meta_data.json")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s, err
		}
		var md struct {
			UUID     string `json:"uuid"`
			Hostname string `json:"hostname"`
		}
		if len(meta) > 0 {
			if err := json.Unmarshal(meta, &md); err != nil {
				return s, fmt.Errorf("meta_data.json: not JSON")
			}
		}
		s.InstanceID, s.Hostname = md.UUID, md.Hostname
	default:
		return s, fmt.Errorf("unknown seed kind %q", kind)
	}
	return s, nil
}

// readFile reads at most nodeconfig.MaxSize bytes of a regular file.
func readFile(dir, rel string) ([]byte, error) {
	p := filepath.Join(dir, rel)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", rel)
	}
	b, err := io.ReadAll(io.LimitReader(f, nodeconfig.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(b) > nodeconfig.MaxSize {
		return nil, fmt.Errorf("%s: %w", rel, nodeconfig.ErrTooLarge)
	}
	return b, nil
}
