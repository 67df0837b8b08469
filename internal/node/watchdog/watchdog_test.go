package watchdog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	sys := t.TempDir()
	if _, err := Find(sys); !errors.Is(err, ErrNone) {
		t.Errorf("no class/watchdog: %v, want ErrNone", err)
	}
	for _, d := range []string{"watchdog1", "watchdog0"} {
		os.MkdirAll(filepath.Join(sys, "class", "watchdog", d), 0o755)
	}
	if dev, err := Find(sys); err != nil || dev != "/dev/watchdog0" {
		t.Errorf("Find = %q, %v; want /dev/watchdog0", dev, err)
	}
}

// Arm reports the device it could not open by name.
func TestArmMissing(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog0")
	if _, err := Arm(dev, 0); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Arm(%s) = %v", dev, err)
	}
}
