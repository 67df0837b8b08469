// Package applets implements the few commands the kubelet and the kernel
// run on the host (mount, umount, modprobe) inside the init binary, so
// /bin needs no other program.
package applets

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

var optionFlags = map[string]struct {
	set   uintptr
	clear uintptr
}{
	"ro":          {unix.MS_RDONLY, 0},
	"rw":          {0, unix.MS_RDONLY},
	"nosuid":      {unix.MS_NOSUID, 0},
	"suid":        {0, unix.MS_NOSUID},
	"nodev":       {unix.MS_NODEV, 0},
	"dev":         {0, unix.MS_NODEV},
	"noexec":      {unix.MS_NOEXEC, 0},
	"exec":        {0, unix.MS_NOEXEC},
	"sync":        {unix.MS_SYNCHRONOUS, 0},
	"async":       {0, unix.MS_SYNCHRONOUS},
	"remount":     {unix.MS_REMOUNT, 0},
	"bind":        {unix.MS_BIND, 0},
	"rbind":       {unix.MS_BIND | unix.MS_REC, 0},
	"noatime":     {unix.MS_NOATIME, 0},
	"atime":       {0, unix.MS_NOATIME},
	"nodiratime":  {unix.MS_NODIRATIME, 0},
	"relatime":    {unix.MS_RELATIME, 0},
	"strictatime": {unix.MS_STRICTATIME, 0},
	"dirsync":     {unix.MS_DIRSYNC, 0},
	"mand":        {unix.MS_MANDLOCK, 0},
	"silent":      {unix.MS_SILENT, 0},
	"defaults":    {0, 0},
}

var propagationFlags = map[string]uintptr{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// MountRequest is a parsed mount(8) command line.
type MountRequest struct {
	Source      string
	Target      string
	FSType      string
	Flags       uintptr
	Data        string  // options the filesystem itself interprets
	Propagation uintptr // MS_SHARED etc., applied by a separate mount(2)
}

// ParseMountArgs parses the subset of mount(8) the kubelet uses:
// mount [-t TYPE] [-o OPTS] [--bind|--rbind|--make-*] [SOURCE] TARGET.
func ParseMountArgs(args []string) (MountRequest, error) {
	var r MountRequest
	var opts []string
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-t" || a == "--types":
			if i+1 >= len(args) {
				return r, fmt.Errorf("mount: %s needs a value", a)
			}
			i++
			r.FSType = args[i]
		case a == "-o" || a == "--options":
			if i+1 >= len(args) {
				return r, fmt.Errorf("mount: %s needs a value", a)
			}
			i++
			opts = append(opts, strings.Split(args[i], ",")...)
		case a == "--bind" || a == "-B":
			opts = append(opts, "bind")
		case a == "--rbind" || a == "-R":
			opts = append(opts, "rbind")
		case strings.HasPrefix(a, "--make-"):
			opts = append(opts, strings.TrimPrefix(a, "--make-"))
		case a == "-n" || a == "--no-mtab" || a == "-c" || a == "--no-canonicalize":
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return r, fmt.Errorf("mount: unsupported option %s", a)
		default:
			pos = append(pos, a)
		}
	}
	switch len(pos) {
	case 1:
		r.Target = pos[0]
	case 2:
		r.Source, r.Target = pos[0], pos[1]
	default:
		return r, fmt.Errorf("mount: want [SOURCE] TARGET, got %d arguments", len(pos))
	}
	var data []string
	for _, o := range opts {
		if o == "" {
			continue
		}
		if f, ok := optionFlags[o]; ok {
			r.Flags = (r.Flags | f.set) &^ f.clear
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			r.Propagation |= p
			continue
		}
		data = append(data, o)
	}
	r.Data = strings.Join(data, ",")
	if r.Source == "" && r.Flags&(unix.MS_REMOUNT|unix.MS_BIND) == 0 && r.Propagation == 0 {
		return r, fmt.Errorf("mount: no source for %s", r.Target)
	}
	if r.Source == "" {
		r.Source = "none"
	}
	return r, nil
}
