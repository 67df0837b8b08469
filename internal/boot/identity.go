package boot

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kios.dev/kios/internal/hostname"
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
