// Package vm boots EFI images in QEMU with OVMF: KVM when it works,
// software emulation (TCG) otherwise, user networking restricted to this
// machine. Tests and `kios vm` share it.
package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// Firmware paths of Debian's ovmf package. The snakeoil pair has Secure
// Boot on, with a test key (SnakeOilKey, password "snakeoil") in PK,
// KEK and db: for tests only.
const (
	OVMFCode           = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars           = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	OVMFSecureBootCode = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"
	OVMFSecureBootVars = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
	SnakeOilKey        = "/usr/share/ovmf/PkKek-1-snakeoil.key"
	SnakeOilCert       = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
)

// Forward maps a host port on 127.0.0.1 to a guest TCP port.
type Forward struct{ Host, Guest int }

// ParseForward parses "HOSTPORT:GUESTPORT".
func ParseForward(s string) (Forward, error) {
	var f Forward
	if _, err := fmt.Sscanf(s, "%d:%d", &f.Host, &f.Guest); err != nil || f.Host <= 0 || f.Guest <= 0 || f.Host > 65535 || f.Guest > 65535 {
		return f, fmt.Errorf("forward %q: want HOSTPORT:GUESTPORT", s)
	}
	return f, nil
}

// Config describes one VM.
type Config struct {
	EFI string // boot this EFI file from a virtual FAT disk
	// Cmdline, with EFI, boots it through Loader (systemd-boot) with this
	// kernel command line instead of its own, as a PXE loader or a boot
	// menu passes one; the stub takes it when Secure Boot is off.
	Cmdline string
	Loader  string
	ESP     string   // or boot this directory tree as the EFI System Partition
	Disk    string   // or boot this disk image
	Disks   []string // more disks, attached after the boot disk (vdb, vdc...)
	// DiskFaults lets DiskWriteErrors make the boot disk's writes fail:
	// the disk is attached through node names, with an I/O error
	// injector (QEMU's blkdebug) beside it, unused until then.
	DiskFaults bool
	// SecureBoot boots the snakeoil firmware, Secure Boot enforced.
	SecureBoot bool
	MemoryMiB  int
	CPUs       int
	Forwards   []Forward
	Console    io.Writer // receives the serial console as it arrives
	Dir        string    // scratch directory (firmware variables, sockets)
	Extra      []string  // extra QEMU arguments
	// TAP, when set, connects the VM to that TAP device (a lab network)
	// with MAC instead of user networking; Wrap prefixes QEMU's command
	// line (e.g. "ip netns exec LAB") so it runs where the TAP is.
	TAP  string
	MAC  string
	Wrap []string
	// NICs are more network cards after the first (net1, net2...).
	NICs []NIC
}

// NIC is a network card: on a TAP device, or on a point-to-point link
// to another VM's NIC, as a cable between the two (QEMU's socket
// backend over UDP: each side sends to the other's Local from its own;
// no side waits for the other to start).
type NIC struct {
	TAP           string
	Local, Remote string // host:port each
	MAC           string
	// SpeedMbps makes the card report that speed and full duplex, as
	// 802.3ad needs to aggregate it; 0: virtio's unknown.
	SpeedMbps int
}

// Line is one console line and when it arrived, from QEMU start.
type Line struct {
	At   time.Duration
	Text string
}

// VM is a running QEMU.
type VM struct {
	cmd   *exec.Cmd
	args  []string
	start time.Time
	qmp   string
	done  chan struct{}
	// diskFormat is the boot disk's format when Config.DiskFaults is set.
	diskFormat string
	err        error

	mu    sync.Mutex
	lines []Line
	cond  *sync.Cond
}

// KVMUsable reports whether KVM can run guests here: the CPU has
// virtualisation extensions and /dev/kvm accepts a VM. (A /dev/kvm in a
// VM without nested virtualisation opens but cannot run a guest.)
// KIOS_ACCEL=tcg or kvm overrides the guess.
func KVMUsable() bool {
	switch os.Getenv("KIOS_ACCEL") {
	case "tcg":
		return false
	case "kvm":
		return true
	}
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	if !regexp.MustCompile(`(?m)^flags\s*:.*\b(vmx|svm)\b`).Match(cpuinfo) {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmCreateVM = 0xae01
	fd, err := unix.IoctlRetInt(int(f.Fd()), kvmCreateVM)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// Args builds QEMU's command line.
func Args(c Config, kvm bool) ([]string, error) {
	mem, cpus := c.MemoryMiB, c.CPUs
	if mem == 0 {
		mem = 2048
	}
	if cpus == 0 {
		cpus = 2
	}
	machine, code := "q35", OVMFCode
	if c.SecureBoot {
		// Secure Boot firmware keeps its variables in SMM-protected flash.
		machine, code = "q35,smm=on", OVMFSecureBootCode
	}
	args := []string{"qemu-system-x86_64", "-machine", machine, "-m", fmt.Sprint(mem), "-smp", fmt.Sprint(cpus),
		"-display", "none", "-vga", "none", "-serial", "stdio", "-monitor", "none", "-no-user-config", "-nodefaults",
		"-qmp", "unix:" + filepath.Join(c.Dir, "qmp.sock") + ",server=on,wait=off",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + code,
		"-drive", "if=pflash,format=raw,unit=1,file=" + filepath.Join(c.Dir, "OVMF_VARS.fd"),
		"-device", "virtio-rng-pci",
		// A hardware watchdog, as servers have: PID 1 arms it, and QEMU
		// resets the machine when it is not fed.
		"-device", "i6300esb", "-action", "watchdog=reset",
	}
	if c.SecureBoot {
		args = append(args, "-global", "driver=cfi.pflash01,property=secure,value=on")
	}
	if kvm {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg", "-cpu", "max")
	}
	switch {
	case c.Disk != "" && c.DiskFaults:
		file, _ := json.Marshal(map[string]string{"driver": "file", "node-name": diskFile, "filename": c.Disk})
		format, _ := json.Marshal(map[string]string{"driver": diskFormat(c.Disk), "node-name": diskNode, "file": diskFile})
		failing, _ := json.Marshal(map[string]any{"driver": "blkdebug", "node-name": diskFailing, "image": diskFile,
			"inject-error": []map[string]any{{"event": "none", "iotype": "write", "errno": 5}}})
		args = append(args, "-blockdev", string(file), "-blockdev", string(format), "-blockdev", string(failing),
			"-device", "virtio-blk-pci,drive="+diskNode)
	case c.Disk != "":
		args = append(args, "-drive", "if=none,id=disk0,format="+diskFormat(c.Disk)+",file="+c.Disk,
			"-device", "virtio-blk-pci,drive=disk0")
	case c.EFI != "" || c.ESP != "":
		esp := c.ESP
		if esp == "" {
			esp = filepath.Join(c.Dir, "esp")
		}
		args = append(args, "-drive", "if=none,id=esp,format=raw,readonly=on,file=fat:"+esp,
			"-device", "virtio-blk-pci,drive=esp")
	default:
		return nil, errors.New("vm: give an EFI file or a disk")
	}
	for i, d := range c.Disks {
		id := fmt.Sprintf("disk%d", i+1)
		args = append(args, "-drive", "if=none,id="+id+",format="+diskFormat(d)+",file="+d, "-device", "virtio-blk-pci,drive="+id)
	}
	if c.TAP != "" {
		dev := "virtio-net-pci,netdev=net0"
		if c.MAC != "" {
			dev += ",mac=" + c.MAC
		}
		args = append(args, "-netdev", "tap,id=net0,ifname="+c.TAP+",script=no,downscript=no", "-device", dev)
	} else {
		net := "user,id=net0,restrict=on"
		for _, f := range c.Forwards {
			net += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", f.Host, f.Guest)
		}
		args = append(args, "-netdev", net, "-device", "virtio-net-pci,netdev=net0")
	}
	for i, n := range c.NICs {
		id := fmt.Sprintf("net%d", i+1)
		var backend string
		switch {
		case n.TAP != "":
			backend = "tap,id=" + id + ",ifname=" + n.TAP + ",script=no,downscript=no"
		case n.Local != "" && n.Remote != "":
			backend = "socket,id=" + id + ",udp=" + n.Remote + ",localaddr=" + n.Local
		default:
			return nil, fmt.Errorf("NIC %d: give TAP, or Local and Remote", i+1)
		}
		dev := "virtio-net-pci,netdev=" + id
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		if n.SpeedMbps > 0 {
			dev += fmt.Sprintf(",speed=%d,duplex=full", n.SpeedMbps)
		}
		args = append(args, "-netdev", backend, "-device", dev)
	}
	return append(append(append([]string(nil), c.Wrap...), args...), c.Extra...), nil
}

func diskFormat(p string) string {
	if strings.HasSuffix(p, ".qcow2") {
		return "qcow2"
	}
	return "raw"
}

// Start boots the VM.
func Start(c Config) (*VM, error) {
	if c.Dir == "" {
		return nil, errors.New("vm: no scratch directory")
	}
	if c.EFI != "" {
		if _, err := os.Stat(c.EFI); err != nil {
			return nil, fmt.Errorf("vm: EFI file: %w", err)
		}
		boot := filepath.Join(c.Dir, "esp", "EFI", "BOOT")
		if err := os.MkdirAll(boot, 0o755); err != nil {
			return nil, err
		}
		if c.Cmdline == "" {
			if err := copyFile(c.EFI, filepath.Join(boot, "BOOTX64.EFI")); err != nil {
				return nil, err
			}
		} else if err := loaderESP(filepath.Join(c.Dir, "esp"), c.Loader, c.EFI, c.Cmdline); err != nil {
			return nil, err
		}
	}
	vars := OVMFVars
	if c.SecureBoot {
		vars = OVMFSecureBootVars
	}
	if err := copyFile(vars, filepath.Join(c.Dir, "OVMF_VARS.fd")); err != nil {
		return nil, fmt.Errorf("vm: firmware variables (install Debian's ovmf): %w", err)
	}
	args, err := Args(c, KVMUsable())
	if err != nil {
		return nil, err
	}
	v := &VM{args: args, qmp: filepath.Join(c.Dir, "qmp.sock"), done: make(chan struct{})}
	if c.DiskFaults {
		v.diskFormat = diskFormat(c.Disk)
	}
	v.cond = sync.NewCond(&v.mu)
	v.cmd = exec.Command(args[0], args[1:]...)
	v.cmd.Stdin = nil
	// QEMU must not outlive whoever started it (a killed test, a killed lab).
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	v.cmd.Stderr = os.Stderr
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	v.start = time.Now()
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("vm: start QEMU (install Debian's qemu-system-x86): %w", err)
	}
	go v.read(out, c.Console)
	go func() {
		v.err = v.cmd.Wait()
		v.mu.Lock()
		close(v.done)
		v.cond.Broadcast()
		v.mu.Unlock()
	}()
	return v, nil
}

func (v *VM) read(r io.Reader, console io.Writer) {
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			if console != nil {
				io.WriteString(console, s)
			}
			text := strings.TrimRight(s, "\r\n")
			v.mu.Lock()
			v.lines = append(v.lines, Line{At: time.Since(v.start), Text: text})
			v.cond.Broadcast()
			v.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// Command is the QEMU command line, for reproducing a run by hand.
func (v *VM) Command() string { return strings.Join(v.args, " ") }

// Lines returns a copy of the console lines so far.
func (v *VM) Lines() []Line {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Line(nil), v.lines...)
}

// WaitLine waits for a console line matching re, searching from line
// index from, and returns it with its index.
func (v *VM) WaitLine(ctx context.Context, re *regexp.Regexp, from int) (Line, int, error) {
	return v.waitFor(ctx, re.MatchString, fmt.Sprintf("a line matching %q", re), from)
}

// WaitEvent waits for a PID 1 event that m matches, searching from line
// index from, and returns it with its line's index.
func (v *VM) WaitEvent(ctx context.Context, m events.Matcher, from int) (events.Event, int, error) {
	var e events.Event
	_, i, err := v.waitFor(ctx, func(l string) bool {
		var ok bool
		e, ok = events.Parse(l)
		return ok && m.Match(e)
	}, m.String(), from)
	return e, i, err
}

func (v *VM) waitFor(ctx context.Context, match func(string) bool, what string, from int) (Line, int, error) {
	stop := context.AfterFunc(ctx, func() {
		v.mu.Lock()
		v.cond.Broadcast()
		v.mu.Unlock()
	})
	defer stop()
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := from; ; {
		for ; i < len(v.lines); i++ {
			if match(v.lines[i].Text) {
				return v.lines[i], i, nil
			}
		}
		select {
		case <-v.done:
			return Line{}, i, fmt.Errorf("QEMU exited before %s", what)
		default:
		}
		if ctx.Err() != nil {
			return Line{}, i, fmt.Errorf("no %s on the console: %w", what, ctx.Err())
		}
		v.cond.Wait()
	}
}

// Started is when QEMU was started: the zero of every boot figure.
func (v *VM) Started() time.Time { return v.start }

// Done is closed when QEMU has exited.
func (v *VM) Done() <-chan struct{} { return v.done }

// Powerdown presses the virtual power button (ACPI).
func (v *VM) Powerdown() error { return v.qmpCommand("system_powerdown") }

// Stop asks for a power-down, waits up to grace, then ends QEMU.
func (v *VM) Stop(grace time.Duration) {
	select {
	case <-v.done:
		return
	default:
	}
	_ = v.Powerdown()
	select {
	case <-v.done:
		return
	case <-time.After(grace):
	}
	_ = v.qmpCommand("quit")
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		_ = v.cmd.Process.Kill()
		<-v.done
	}
}

// Kill ends QEMU at once, like pulling the power cord.
func (v *VM) Kill() {
	_ = v.cmd.Process.Kill()
	<-v.done
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// loaderESP lays out an ESP where systemd-boot boots efi with cmdline.
func loaderESP(esp, loader, efi, cmdline string) error {
	if loader == "" {
		return errors.New("vm: a command line needs the loader (parts/loader.efi)")
	}
	if err := copyFile(loader, filepath.Join(esp, "EFI", "BOOT", "BOOTX64.EFI")); err != nil {
		return fmt.Errorf("vm: loader: %w", err)
	}
	if err := copyFile(efi, filepath.Join(esp, "kios.efi")); err != nil {
		return err
	}
	entries := filepath.Join(esp, "loader", "entries")
	if err := os.MkdirAll(entries, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(esp, "loader", "loader.conf"), []byte("default kios.conf\ntimeout 0\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(entries, "kios.conf"), []byte("title kiOS\nefi /kios.efi\noptions "+cmdline+"\n"), 0o644)
}
