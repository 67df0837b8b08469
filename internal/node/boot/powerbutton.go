package boot

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"kios.dev/kios/internal/shared/events"
)

// Linux input event constants (linux/input-event-codes.h).
const (
	evKey      = 0x01
	keyPower   = 116
	eventBytes = 24 // struct input_event on 64-bit
)

// IsPowerPress reports whether a raw input_event is a power key press.
func IsPowerPress(ev []byte) bool {
	if len(ev) < eventBytes {
		return false
	}
	typ := binary.LittleEndian.Uint16(ev[16:])
	code := binary.LittleEndian.Uint16(ev[18:])
	value := int32(binary.LittleEndian.Uint32(ev[20:]))
	return typ == evKey && code == keyPower && value == 1
}

func inputDevices() ([]string, error) {
	return filepath.Glob("/dev/input/event*")
}

// watchPowerButton powers off when any input device reports KEY_POWER
// (the ACPI power button; QEMU's system_powerdown presses it).
func watchPowerButton(log Logger, devs []string, powerOff func()) {
	pressed := make(chan string, 1)
	for _, d := range devs {
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		go func() {
			defer f.Close()
			buf := make([]byte, eventBytes*16)
			for {
				n, err := f.Read(buf)
				if err != nil {
					return
				}
				for i := 0; i+eventBytes <= n; i += eventBytes {
					if IsPowerPress(buf[i : i+eventBytes]) {
						select {
						case pressed <- d:
						default:
						}
					}
				}
			}
		}()
	}
	d := <-pressed
	events.Emit(log, events.PowerButton, "device", d)
	powerOff()
}

// powerButton starts watching the input devices the modules step made
// (evdev, button) for the power key.
func (n *Node) powerButton(context.Context) error {
	devs, err := inputDevices()
	if err != nil {
		return err
	}
	Go(n.Log, "power-button", func() {
		watchPowerButton(n.Log, devs, func() { n.PowerDown(unix.LINUX_REBOOT_CMD_POWER_OFF, "power-button") })
	})
	events.Emit(n.Log, events.PowerButtonWatch, "devices", len(devs))
	return nil
}
