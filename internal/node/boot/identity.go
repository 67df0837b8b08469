package boot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/hostname"
)

// MachineID returns the node's machine-id: the DMI product UUID when the
// firmware provides a usable one, else a random id.
func MachineID(root string) (id string, fromDMI bool) {
	if b, err := os.ReadFile(filepath.Join(root, "sys/class/dmi/id/product_uuid")); err == nil {
		u := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(b)), "-", ""))
		if validID(u) && strings.Trim(u, "0") != "" && strings.Trim(u, "f") != "" {
			return u, true
		}
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	r[6] = r[6]&0x0f | 0x40 // a version-4 UUID, as systemd makes them
	r[8] = r[8]&0x3f | 0x80
	return hex.EncodeToString(r[:]), false
}

func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Hostname reads root/etc/hostname; empty when absent or blank.
func Hostname(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "etc/hostname"))
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read /etc/hostname: %w", err)
	}
	name, err := hostname.Parse(b)
	if err != nil {
		return "", fmt.Errorf("/etc/hostname: %w", err)
	}
	return name, nil
}

func (n *Node) identity(context.Context) error {
	var errs []error
	if b, err := os.ReadFile("/etc/machine-id"); err != nil || !validID(strings.TrimSpace(string(b))) {
		id, dmi := MachineID("/")
		if err := os.WriteFile("/etc/machine-id", []byte(id+"\n"), 0o444); err != nil {
			errs = append(errs, fmt.Errorf("write machine-id: %w", err))
		}
		events.Emit(n.Log, events.MachineID, "id", id, "from_dmi", dmi)
	}
	name, err := Hostname("/")
	switch {
	case n.cfg.hostname != "":
		name, err = n.cfg.hostname, nil // the node's configuration names it
	case n.Cmdline.IP != nil && n.Cmdline.IP.Hostname != "":
		name, err = n.Cmdline.IP.Hostname, nil // the kernel's ip= does
	}
	if err != nil {
		// The node still needs a name: it takes the one it would have
		// with no /etc/hostname, and says why.
		events.Emit(n.Log, events.EtcFileRefused, "path", "/etc/hostname", "err", err, "fallback", "a name from the machine-id")
	}
	if name == "" {
		b, _ := os.ReadFile("/etc/machine-id")
		name = "kios-" + strings.TrimSpace(string(b))[:min(8, len(strings.TrimSpace(string(b))))]
	}
	if err := n.setHostname(name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setHostname names the machine (through the SetHostname seam) and
// says so; the identity step and a configuration that arrives later
// both name it here.
func (n *Node) setHostname(name string) error {
	set := n.SetHostname
	if set == nil {
		set = unix.Sethostname
	}
	if err := set([]byte(name)); err != nil {
		return fmt.Errorf("set hostname %s: %w", name, err)
	}
	events.Emit(n.Log, events.Hostname, "name", name)
	return nil
}
