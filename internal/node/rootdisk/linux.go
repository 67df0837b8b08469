package rootdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/go-dmverity/pkg/dm"
	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/meminfo"
	"kios.dev/kios/internal/shared/rootimg"
)

const checkName = DeviceName + "-check"

// loFlagsDirectIO: the copy's pages are cached once, above the loop.
const loFlagsDirectIO = 0x10

// Linear makes DeviceName linear over the first dataSize bytes of loop
// (the squashfs, without its hash tree) and returns the device to mount.
func Linear(loop string, dataSize uint64) (string, error) {
	devt, err := blockDevT(loop)
	if err != nil {
		return "", err
	}
	return create(DeviceName, dm.Target{Length: dataSize / 512, Type: "linear", Params: devt + " 0"})
}

// create makes a device-mapper device with one target and returns its
// node, made if devtmpfs did not.
func create(name string, t dm.Target) (string, error) {
	c, err := dm.Open()
	if err != nil {
		return "", fmt.Errorf("device-mapper (is dm-mod loaded?): %w", err)
	}
	defer c.Close()
	devt, err := c.CreateDevice(name)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	if err := c.LoadTable(name, []dm.Target{t}); err != nil {
		_ = c.RemoveDevice(name)
		return "", fmt.Errorf("%s: load the %s table: %w", name, t.Type, err)
	}
	if err := c.SuspendDevice(name, false); err != nil {
		_ = c.RemoveDevice(name)
		return "", fmt.Errorf("%s: activate: %w", name, err)
	}
	node := fmt.Sprintf("/dev/dm-%d", unix.Minor(devt))
	if _, err := os.Stat(node); errors.Is(err, os.ErrNotExist) {
		if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(devt)); err != nil {
			return "", fmt.Errorf("%s: make %s: %w", name, node, err)
		}
	}
	return node, nil
}

// blockDevT is a block device's "major:minor".
func blockDevT(dev string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), nil
}

// verityTarget is the verity table of a copy at loop: the image and, at
// its end, the tree.
func verityTarget(loop string, r Root, rootHash []byte) (dm.Target, error) {
	devt, err := blockDevT(loop)
	if err != nil {
		return dm.Target{}, err
	}
	params, err := dm.BuildTargetParams(dm.OpenArgs{
		Version: 1, DataDevice: devt, HashDevice: devt,
		DataBlockSize: rootimg.BlockSize, HashBlockSize: rootimg.BlockSize,
		DataBlocks: r.DataSize / rootimg.BlockSize, HashName: rootimg.HashName,
		RootDigest: rootHash, HashStartBytes: r.DataSize,
	})
	if err != nil {
		return dm.Target{}, err
	}
	return dm.Target{Length: r.DataSize / 512, Type: "verity", Params: params}, nil
}

// Linux is Ops on this machine: Sys is sysfs (/sys), Meminfo the
// kernel's (/proc/meminfo).
type Linux struct {
	Sys, Meminfo string
}

func (l Linux) Root() (Root, error) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return Root{}, err
	}
	dev := filepath.Join(l.Sys, "dev", "block", fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if name, err := os.ReadFile(filepath.Join(dev, "dm", "name")); err != nil || strings.TrimSpace(string(name)) != DeviceName {
		return Root{}, ErrNotMapped
	}
	slaves, err := os.ReadDir(filepath.Join(dev, "slaves"))
	if err != nil || len(slaves) != 1 || !strings.HasPrefix(slaves[0].Name(), "loop") {
		return Root{}, fmt.Errorf("%s is not over one RAM copy's loop device (%d devices under it)", DeviceName, len(slaves))
	}
	ram := slaves[0].Name()
	dataSize, err := sectors(filepath.Join(dev, "size"))
	if err != nil {
		return Root{}, err
	}
	total, err := sectors(filepath.Join(l.Sys, "class", "block", ram, "size"))
	if err != nil {
		return Root{}, err
	}
	r := Root{RAM: "/dev/" + ram, DataSize: dataSize, Total: total}
	if dataSize%rootimg.BlockSize != 0 || total != dataSize+rootimg.TreeSize(dataSize) {
		return Root{}, fmt.Errorf("the RAM copy is %d bytes, its squashfs %d: no hash tree after it", total, dataSize)
	}
	return r, nil
}

func sectors(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n * 512, nil
}

func (Linux) HaveCopy(path string, size uint64) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && uint64(st.Size()) == size
}

func (Linux) WriteCopy(ram, path string, size uint64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	src, err := os.Open(ram)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing
	n, err := io.Copy(tmp, io.LimitReader(src, int64(size)))
	if err == nil && uint64(n) != size {
		err = fmt.Errorf("copied %d of %d bytes", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		// The copy is read through a direct-I/O loop device: the pages
		// this write cached would only sit in RAM beside the squashfs's.
		_ = unix.Fadvise(int(tmp.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (Linux) Prune(dir, keep string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if p == keep || !(strings.HasSuffix(e.Name(), ".img") || strings.HasPrefix(e.Name(), ".tmp-")) {
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

func (Linux) Attach(path string) (string, error) {
	dev, err := AttachLoop(path, unix.LO_FLAGS_READ_ONLY|loFlagsDirectIO)
	if errors.Is(err, unix.EINVAL) {
		dev, err = AttachLoop(path, unix.LO_FLAGS_READ_ONLY) // a device without direct I/O
	}
	return dev, err
}

// AttachLoop attaches the file at path to a free loop device with
// flags (LO_FLAGS_READ_ONLY...) and returns the device's path.
func AttachLoop(path string, flags uint32) (string, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("open loop-control: %w", err)
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		return "", fmt.Errorf("find a free loop device: %w", err)
	}
	dev := fmt.Sprintf("/dev/loop%d", n)
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	lf, err := os.Open(dev)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", dev, err)
	}
	defer lf.Close()
	// 4 KiB sectors: squashfs reads in units of its device's logical
	// block size (1 KiB on a 512-byte device), and dm-verity, which the
	// root's device is swapped to, fails any read not aligned to its
	// 4 KiB blocks (SIGBUS in every program whose pages are read back).
	cfg := unix.LoopConfig{Fd: uint32(f.Fd()), Size: rootimg.BlockSize}
	cfg.Info.Flags = flags
	copy(cfg.Info.File_name[:], path)
	if err := unix.IoctlLoopConfigure(int(lf.Fd()), &cfg); err != nil {
		return "", fmt.Errorf("attach %s to %s: %w", path, dev, err)
	}
	return dev, nil
}

func (Linux) Detach(loop string) error {
	f, err := os.Open(loop)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil {
		return fmt.Errorf("detach %s: %w", loop, err)
	}
	return nil
}

func (Linux) Check(loop string, r Root, rootHash []byte) error {
	t, err := verityTarget(loop, r, rootHash)
	if err != nil {
		return err
	}
	node, err := create(checkName, t)
	if err != nil {
		return err
	}
	defer func() {
		if c, err := dm.Open(); err == nil {
			_ = c.RemoveDevice(checkName)
			c.Close()
		}
	}()
	f, err := os.Open(node)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("read through dm-verity, at byte %d or after: %w", n, err)
	}
	if uint64(n) != r.DataSize {
		return fmt.Errorf("read %d bytes through dm-verity, want %d", n, r.DataSize)
	}
	return nil
}

func (Linux) Swap(loop string, r Root, rootHash []byte) error {
	t, err := verityTarget(loop, r, rootHash)
	if err != nil {
		return err
	}
	c, err := dm.Open()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.LoadTable(DeviceName, []dm.Target{t}); err != nil {
		return fmt.Errorf("load the verity table into %s: %w", DeviceName, err)
	}
	// One resume: the kernel suspends the device, swaps in the loaded
	// table and resumes it, with no window in which this process (whose
	// code is on that device) runs while it is suspended.
	if err := c.SuspendDevice(DeviceName, false); err != nil {
		_ = c.ClearTable(DeviceName)
		return fmt.Errorf("swap %s's table: %w", DeviceName, err)
	}
	return nil
}

func (l Linux) Release(ram string) (int64, error) {
	before, err := l.shmem()
	if err != nil {
		return 0, err
	}
	// The clear completes when Detach, the last opener, closes.
	if err := l.Detach(ram); err != nil {
		return 0, fmt.Errorf("the RAM copy: %w", err)
	}
	after, err := l.shmem()
	if err != nil {
		return 0, err
	}
	return before - after, nil
}

func (l Linux) shmem() (int64, error) {
	m, err := meminfo.Read(l.Meminfo)
	if err != nil {
		return 0, err
	}
	return m.ShmemKiB << 10, nil
}
