// Package datapart finds the node's data partition: the kernel command
// line's kios.data= (PARTUUID=, LABEL=, a device path, or tmpfs) or, by
// default, the first partition whose GPT type is kiOS's data type.
// PID 1 mounts what it finds; this package only decides.
package datapart

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"kios.dev/kios/internal/shared/ext4"
	"kios.dev/kios/internal/shared/gpt"
)

// Kinds of kios.data= values. Auto, the zero value, searches by GPT type.
const (
	Auto     = ""
	PartUUID = "partuuid"
	Label    = "label"
	Path     = "path"
	TmpFS    = "tmpfs"
)

// Spec is what the command line asks for.
type Spec struct{ Kind, Value string }

// ErrNone means no data partition: the node runs RAM-only.
var ErrNone = errors.New("no data partition")

// ParseSpec reads a kios.data= value: PARTUUID=, LABEL=, a /dev/ path,
// or tmpfs.
func ParseSpec(v string) (Spec, error) {
	switch {
	case v == "tmpfs":
		return Spec{Kind: TmpFS}, nil
	case strings.HasPrefix(v, "PARTUUID=") && len(v) > len("PARTUUID="):
		return Spec{Kind: PartUUID, Value: strings.ToLower(strings.TrimPrefix(v, "PARTUUID="))}, nil
	case strings.HasPrefix(v, "LABEL=") && len(v) > len("LABEL="):
		return Spec{Kind: Label, Value: strings.TrimPrefix(v, "LABEL=")}, nil
	case strings.HasPrefix(v, "/dev/") && len(v) > len("/dev/"):
		return Spec{Kind: Path, Value: v}, nil
	}
	return Spec{}, fmt.Errorf("kios.data=%q: want PARTUUID=..., LABEL=..., /dev/... or tmpfs", v)
}

// Disk is what Find reads: a block device by name. Find closes each
// one it opened (PID 1 keeps no disk open).
type Disk interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Opener opens /dev/NAME.
type Opener func(name string) (Disk, error)

// Found is the chosen partition.
type Found struct {
	Device string // /dev/vda2
	Reason string // why it was chosen, for the log
}

// Find looks at the block devices listed in sysBlock (/sys/class/block).
func Find(sysBlock string, s Spec, open Opener) (Found, error) {
	switch s.Kind {
	case TmpFS:
		return Found{}, fmt.Errorf("%w: kios.data=tmpfs", ErrNone)
	case Path:
		return Found{Device: s.Value, Reason: "kios.data=" + s.Value}, nil
	}
	disks, parts := list(sysBlock)
	if s.Kind == Label {
		for _, p := range parts {
			d, err := open(p)
			if err != nil {
				continue
			}
			sb, err := ext4.Read(d, 0)
			d.Close()
			if err == nil && sb.Label == s.Value {
				return Found{Device: "/dev/" + p, Reason: "kios.data=LABEL=" + s.Value}, nil
			}
		}
		return Found{}, fmt.Errorf("%w: no ext4 partition labelled %q", ErrNone, s.Value)
	}
	var reasons []string
	for _, name := range disks {
		d, err := open(name)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		t, err := gpt.Read(d, d.Size(), 512)
		d.Close()
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, p := range t.Partitions {
			match := (s.Kind == Auto && strings.EqualFold(p.Type, gpt.DataPartitionType)) ||
				(s.Kind == PartUUID && strings.EqualFold(p.GUID, s.Value))
			if !match {
				continue
			}
			dev, ok := partitionName(sysBlock, name, p.Index)
			if !ok {
				return Found{}, fmt.Errorf("%s partition %d has no device", name, p.Index)
			}
			why := "GPT type " + gpt.DataPartitionType
			if s.Kind == PartUUID {
				why = "kios.data=PARTUUID=" + s.Value
			}
			return Found{Device: "/dev/" + dev, Reason: why}, nil
		}
		reasons = append(reasons, name+": no matching partition")
	}
	if len(reasons) == 0 {
		reasons = []string{"no disks"}
	}
	return Found{}, fmt.Errorf("%w (%s)", ErrNone, strings.Join(reasons, "; "))
}

// list returns whole disks and partitions, sorted, skipping loop and
// ram devices (the root image is on a loop device).
func list(sysBlock string) (disks, parts []string) {
	entries, _ := os.ReadDir(sysBlock)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		if _, err := os.Stat(filepath.Join(sysBlock, n, "partition")); err == nil {
			parts = append(parts, n)
		} else {
			disks = append(disks, n)
		}
	}
	sort.Strings(disks)
	sort.Strings(parts)
	return disks, parts
}

// partitionName finds the partition device of disk with number index
// (vda -> vda2, nvme0n1 -> nvme0n1p2) from its "partition" files.
func partitionName(sysBlock, disk string, index int) (string, bool) {
	_, parts := list(sysBlock)
	for _, p := range parts {
		if !strings.HasPrefix(p, disk) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sysBlock, p, "partition"))
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n == index {
			return p, true
		}
	}
	return "", false
}

// Parent names the disk a partition device is on and the partition's
// number, from sysfs (sysBlock is /sys/class/block): the grow pod needs
// the whole disk to rewrite its table.
func Parent(sysBlock, device string) (disk string, partition int, err error) {
	name := filepath.Base(device)
	raw, err := os.ReadFile(filepath.Join(sysBlock, name, "partition"))
	if err != nil {
		return "", 0, fmt.Errorf("%s is not a partition: %w", device, err)
	}
	partition, err = strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return "", 0, fmt.Errorf("%s: partition number %q: %w", device, raw, err)
	}
	target, err := filepath.EvalSymlinks(filepath.Join(sysBlock, name))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", device, err)
	}
	return "/dev/" + filepath.Base(filepath.Dir(target)), partition, nil
}

// Child is the device of partition number index of disk (/dev/vda, 1:
// /dev/vda1; /dev/nvme0n1, 1: /dev/nvme0n1p1), from sysfs: the
// partition directories inside the disk's.
func Child(sysBlock, disk string, index int) (string, error) {
	name := filepath.Base(disk)
	des, err := os.ReadDir(filepath.Join(sysBlock, name))
	if err != nil {
		return "", fmt.Errorf("%s: %w", disk, err)
	}
	for _, d := range des {
		raw, err := os.ReadFile(filepath.Join(sysBlock, name, d.Name(), "partition"))
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && n == index {
			return "/dev/" + d.Name(), nil
		}
	}
	return "", fmt.Errorf("%s has no partition %d", disk, index)
}
