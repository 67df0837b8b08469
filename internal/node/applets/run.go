package applets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/kmod"
)

// Names lists the applet names /bin links to the init binary.
var Names = []string{"modprobe", "mount", "umount"}

// Run executes the applet named by argv[0]. ok is false when argv[0] is
// not an applet. It returns the process exit code.
func Run(argv []string, stderr io.Writer) (code int, ok bool) {
	name := filepath.Base(argv[0])
	var err error
	switch name {
	case "modprobe":
		err = modprobe(argv[1:])
	case "mount":
		err = mount(argv[1:])
	case "umount":
		err = umount(argv[1:])
	default:
		return 0, false
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1, true
	}
	return 0, true
}

func mount(args []string) error {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-V") {
		fmt.Println("mount from kiOS init")
		return nil
	}
	r, err := ParseMountArgs(args)
	if err != nil {
		return err
	}
	if r.Flags != 0 || r.FSType != "" || r.Propagation == 0 {
		// A bind mount ignores other flags; read-only bind needs a remount.
		if err := unix.Mount(r.Source, r.Target, r.FSType, r.Flags, r.Data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", r.Source, r.Target, err)
		}
	}
	if r.Propagation != 0 {
		if err := unix.Mount("none", r.Target, "", r.Propagation, ""); err != nil {
			return fmt.Errorf("mount: change propagation of %s: %w", r.Target, err)
		}
	}
	return nil
}

func umount(args []string) error {
	flags := 0
	var targets []string
	for _, a := range args {
		switch a {
		case "-f", "--force":
			flags |= unix.MNT_FORCE
		case "-l", "--lazy":
			flags |= unix.MNT_DETACH
		case "--version", "-V":
			fmt.Println("umount from kiOS init")
			return nil
		case "-n", "-c", "--no-canonicalize":
		default:
			if strings.HasPrefix(a, "-") {
				return fmt.Errorf("umount: unsupported option %s", a)
			}
			targets = append(targets, a)
		}
	}
	if len(targets) == 0 {
		return errors.New("umount: no target")
	}
	for _, t := range targets {
		if err := unix.Unmount(t, flags); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("umount: %s: not mounted", t)
			}
			return fmt.Errorf("umount %s: %w", t, err)
		}
	}
	return nil
}

func modprobe(args []string) error {
	var names []string
	for _, a := range args {
		if a == "--" {
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue // -q, -b, -v: loading is always quiet and by alias
		}
		names = append(names, a)
	}
	if len(names) == 0 {
		return errors.New("modprobe: no module name")
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("modprobe: uname: %w", err)
	}
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	l, err := kmod.Open(dir, LoadModuleFile)
	if err != nil {
		return fmt.Errorf("modprobe: %w", err)
	}
	l.Resident = kmod.InSysfs("/sys")
	_, err = l.Probe(names[0])
	return err
}

// moduleParams are the parameters modules are loaded with, by name.
// Both would otherwise make a device at load (bond0 in balance-rr,
// dummy0) that no configuration asked for; the network pod makes the
// bonds its section names, in their mode.
var moduleParams = map[string]string{
	"bonding": "max_bonds=0",
	"dummy":   "numdummies=0",
}

// LoadModuleFile loads one module with finit_module. A module that is
// already loaded reports os.ErrExist.
func LoadModuleFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), paramsFor(path), 0); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return os.ErrExist
		}
		return fmt.Errorf("finit_module %s: %w", path, err)
	}
	return nil
}

// paramsFor is the parameter string of the module file at path.
func paramsFor(path string) string {
	name, _, _ := strings.Cut(filepath.Base(path), ".")
	return moduleParams[name]
}
