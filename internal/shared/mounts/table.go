// Package mounts holds the node's mount table as data, applies it through
// a Mounter seam, and parses /proc/self/mountinfo so tests and the
// inspector can check every mount's flags against the table.
package mounts

import (
	"golang.org/x/sys/unix"
)

// Mount is one entry of the table.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  uintptr // MS_* flags
	Data   string
	Mode   uint32 // mode of the target directory when it must be created
}

const (
	locked  = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	storage = unix.MS_NOSUID | unix.MS_NODEV // container storage must execute
)

// CgroupRoot is where the cgroup2 hierarchy is mounted; PID 1 makes its
// host cgroup under it.
const CgroupRoot = "/sys/fs/cgroup"

// Pseudo are the kernel filesystems, mounted before anything else.
var Pseudo = []Mount{
	{"proc", "/proc", "proc", locked, "", 0o555},
	{"sysfs", "/sys", "sysfs", locked, "", 0o555},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0755", 0o755},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", 0o755},
	{"shm", "/dev/shm", "tmpfs", locked, "mode=1777", 0o1777},
	{"securityfs", "/sys/kernel/security", "securityfs", locked, "", 0o755},
	{"cgroup2", CgroupRoot, "cgroup2", locked, "nsdelegate", 0o555},
	{"bpf", "/sys/fs/bpf", "bpf", locked, "mode=700", 0o700},
}

// Writable are the tmpfs mounts of the read-only root: every one nodev
// and nosuid, noexec except where containers and CNI plugins execute.
var Writable = []Mount{
	{"tmpfs", "/run", "tmpfs", locked, "mode=0755", 0o755},
	{"tmpfs", "/tmp", "tmpfs", locked, "mode=1777", 0o1777},
	{"tmpfs", "/var/cache", "tmpfs", locked, "mode=0755", 0o755},
	{"tmpfs", "/var/tmp", "tmpfs", locked, "mode=1777", 0o1777},
	{"tmpfs", "/var/log", "tmpfs", locked, "mode=0755", 0o755},
	{"tmpfs", "/var/lib/cni", "tmpfs", locked, "mode=0700", 0o700},
	{"tmpfs", "/var/lib/kubelet", "tmpfs", storage, "mode=0700", 0o700},
	{"tmpfs", "/var/lib/containerd", "tmpfs", storage, "mode=0700", 0o700},
	{"tmpfs", "/opt/cni/bin", "tmpfs", storage, "mode=0755", 0o755},
}

// EtcUpper is where the writable layer of /etc lives when there is no
// data partition.
const EtcUpper = "/run/kios/etc"

// EtcFileFallback shows src, read-only, at /etc/rel: the image's copy
// of a file whose copy in /etc's writable layer cannot work. The stored
// file stays as it is under the bind, on the data partition.
func EtcFileFallback(src, rel string) Mount {
	return Mount{src, "/etc/" + rel, "", unix.MS_BIND | unix.MS_RDONLY | locked, "", 0}
}

// EmptyFile is what EtcFileFallback shows for a file the image has no
// copy of.
const EmptyFile = "/run/kios/empty"

// Etc is the overlay that makes /etc writable over the image's defaults.
func Etc(upper, work string) Mount {
	return Mount{"overlay", "/etc", "overlay", locked,
		"lowerdir=/etc,upperdir=" + upper + ",workdir=" + work, 0o755}
}

// ESPDir is where PID 1 mounts the EFI System Partition while it reads
// or changes it (upgrades, blessing); it is unmounted otherwise.
const ESPDir = "/run/kios/esp"

// ESP is the vfat mount of the EFI System Partition at ESPDir: root
// only, directory changes synchronous (a rename is on disk when it
// returns), files flushed early.
func ESP(device string, readOnly bool) Mount {
	flags := uintptr(locked | unix.MS_DIRSYNC)
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	return Mount{device, ESPDir, "vfat", flags, "umask=0077,flush,shortname=mixed", 0o700}
}

// SeedDir is where PID 1 mounts a NoCloud or config-drive volume while
// it reads the node's configuration from it (internal/node/seed).
const SeedDir = "/run/kios/seed"

// Seed mounts such a volume read-only, root only, nothing on it
// executable or a device.
func Seed(device, fsType string) Mount {
	data := ""
	if fsType == "vfat" {
		data = "umask=0077,shortname=mixed"
	}
	return Mount{device, SeedDir, fsType, locked | unix.MS_RDONLY, data, 0o700}
}

// EFIVars is the firmware's variables, read-only, mounted while PID 1
// reads whether Secure Boot is on.
var EFIVars = Mount{"efivarfs", "/sys/firmware/efi/efivars", "efivarfs", locked | unix.MS_RDONLY, "", 0o755}
