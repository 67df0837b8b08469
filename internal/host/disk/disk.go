// Package disk writes bootable kiOS disk images: a GPT with an EFI
// System Partition (FAT16, written in Go) laid out as internal/shared/upgrade/esp says
// (systemd-boot, taken from the EFI, and the EFI as the one good boot
// entry), and the data partition (ext4, made by Debian's mkfs.ext4 -d)
// with the configuration at /meta/etc.
package disk

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"kios.dev/kios/internal/shared/configsrc"

	"kios.dev/kios/internal/host/fat"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/mounts"
	"kios.dev/kios/internal/shared/primed"
	"kios.dev/kios/internal/shared/uki"
	"kios.dev/kios/internal/shared/upgrade/esp"
)

// Options says what disk to write.
type Options struct {
	EFI    string   // the kiOS EFI
	Config string   // laid at /meta/etc of the data partition; optional
	Images []string // image archives primed at /data/images; optional
	Size   int64    // bytes
	Format string   // "raw" or "qcow2"
	Output string
	// Join, when set, lays the join pod's manifest with these kubeadm
	// join values at /meta/etc (its image is the system pods'): the
	// node's cluster credentials live on its data partition, so one EFI
	// serves, and upgrades, every node.
	Join *join.Params
}

const (
	mib        = 1 << 20
	minESPSize = 256 * mib
	espStart   = 1 * mib
	minData    = 256 * mib
)

// espSizeFor is the ESP for images of efiBytes: room for the running
// image, the previous good one and a staged one, with a fourth's room
// for images that grow.
func espSizeFor(efiBytes int) int64 {
	return max(minESPSize, (4*int64(efiBytes)+mib-1)/mib*mib)
}

// ParseSize reads sizes like 8G, 512M, 1073741824.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes or a number with M or G", s)
	}
	return n * mult, nil
}

// Write makes the disk. Nothing is left at Output when it fails.
func Write(o Options) error {
	if o.Format == "" {
		o.Format = "raw"
	}
	if o.Format != "raw" && o.Format != "qcow2" {
		return fmt.Errorf("format %q: want raw or qcow2", o.Format)
	}
	efi, err := os.ReadFile(o.EFI)
	if err != nil {
		return fmt.Errorf("EFI: %w", err)
	}
	img, err := esp.ReadImage(efi)
	if err != nil {
		return fmt.Errorf("EFI %s: %w", o.EFI, err)
	}
	if img.Loader == nil {
		return fmt.Errorf("EFI %s carries no boot loader (section %s): build it with this kios build", o.EFI, uki.LoaderSection)
	}
	espSize := espSizeFor(len(efi))
	dataStart := espStart + espSize
	dataEnd := (o.Size/mib)*mib - mib // leave the backup GPT its room
	if dataEnd-dataStart < minData {
		return fmt.Errorf("size %d MiB is too small: the ESP takes %d MiB (four times the EFI) and the data partition needs at least %d MiB",
			o.Size/mib, (espStart+espSize)/mib, minData/mib)
	}
	stage, err := os.MkdirTemp(filepath.Dir(o.Output), ".kios-disk-")
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := layout(stage, o.Config); err != nil {
		return err
	}
	images := o.Images
	if o.Join != nil {
		manifest, err := image.JoinManifest(*o.Join)
		if err != nil {
			return err
		}
		dst := filepath.Join(stage, "root", "meta", "etc", filepath.FromSlash(image.JoinManifestPath))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, manifest, 0o600); err != nil {
			return err
		}
	}
	if err := primeImages(filepath.Join(stage, "root", mounts.DataImages), images); err != nil {
		return err
	}
	// ext4 needs room of its own (journal, inode tables) beside the files.
	if used, err := treeBytes(filepath.Join(stage, "root")); err != nil {
		return err
	} else if used+64*mib > dataEnd-dataStart {
		return fmt.Errorf("size %d MiB is too small: the data partition's contents (config and images) take %d MiB, and with ext4's own needs they do not fit its %d MiB; use a larger --size",
			o.Size/mib, used/mib, (dataEnd-dataStart)/mib)
	}
	raw := filepath.Join(stage, "disk.raw")
	files := []fat.File{
		{Path: esp.LoaderFile, Data: img.Loader},
		{Path: esp.LoaderConfFile, Data: esp.LoaderConf},
		// Installed, not staged: there is nothing to fall back to.
		{Path: esp.EntriesDir + "/" + esp.Entry{Version: img.Version}.Name(), Data: efi},
	}
	if err := writeRaw(raw, o.Size, efi, files, espSize, dataStart, dataEnd, filepath.Join(stage, "root")); err != nil {
		return err
	}
	final := raw
	if o.Format == "qcow2" {
		final = filepath.Join(stage, "disk.qcow2")
		if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, final).CombinedOutput(); err != nil {
			return fmt.Errorf("qemu-img convert: %w: %s", err, out)
		}
	}
	if err := os.Rename(final, o.Output); err != nil {
		return fmt.Errorf("write %s: %w", o.Output, err)
	}
	return nil
}

// primeImages copies image archives and their index into dir.
func primeImages(dir string, files []string) error {
	if len(files) == 0 {
		return nil
	}
	idx, err := image.PrimedIndex(files)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i, p := range idx {
		b, err := os.ReadFile(files[i])
		if err != nil {
			return fmt.Errorf("image archive: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.File), b, 0o400); err != nil {
			return err
		}
	}
	b, err := primed.Marshal(idx)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, primed.IndexFile), b, 0o400)
}

// treeBytes is the space the files under dir take in 4 KiB blocks.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += (info.Size() + 4095) / 4096 * 4096
		return nil
	})
	return n, err
}

// layout stages the data partition's tree: the directories PID 1 uses
// (mounts.DataDirs), with the config at /meta/etc.
func layout(stage, config string) error {
	root := filepath.Join(stage, "root")
	if err := mounts.MakeDataDirs(root); err != nil {
		return err
	}
	if config == "" {
		return nil
	}
	if image.IsConfigFile(config) {
		raw, err := image.ReadConfigFile(config)
		if err != nil {
			return err
		}
		return configsrc.Store(root, configsrc.Stored{Source: configsrc.SourceData, Applied: time.Now().UTC(), Document: string(raw)})
	}
	return image.WalkConfig(config, func(e image.ConfigEntry) error {
		dst := filepath.Join(root, "meta", "etc", filepath.FromSlash(e.Rel))
		if e.Dir {
			return os.MkdirAll(dst, 0o755)
		}
		return os.WriteFile(dst, e.Data, e.Mode)
	})
}

func writeRaw(path string, size int64, efi []byte, espFiles []fat.File, espSize, dataStart, dataEnd int64, tree string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	// Fixed GUIDs derived from the contents keep images reproducible.
	sum := sha256.Sum256(efi)
	guid := func(tag byte) string {
		b := sum
		b[0] ^= tag
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	err = gpt.Write(f, size, guid(1), []gpt.Spec{
		{Type: gpt.ESPType, GUID: guid(2), Name: "EFI system", FirstLBA: espStart / 512, LastLBA: uint64((espStart+espSize)/512 - 1)},
		{Type: gpt.DataPartitionType, GUID: guid(3), Name: "kios-data", FirstLBA: uint64(dataStart / 512), LastLBA: uint64(dataEnd/512 - 1)},
	})
	if err == nil {
		err = fat.Write(&offsetWriter{f, espStart}, espSize, "KIOS-ESP", espFiles)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write disk: %w", err)
	}
	blocks := (dataEnd - dataStart) / 4096
	cmd := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "kios-data", "-d", tree,
		"-E", fmt.Sprintf("offset=%d,root_owner=0:0", dataStart), "-U", guid(4), path, strconv.FormatInt(blocks, 10))
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1", "SOURCE_DATE_EPOCH=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("mkfs.ext4 not found: install Debian's e2fsprogs")
		}
		return fmt.Errorf("mkfs.ext4: %w: %s", err, out)
	}
	return nil
}

type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) WriteAt(p []byte, off int64) (int, error) { return w.f.WriteAt(p, w.off+off) }
