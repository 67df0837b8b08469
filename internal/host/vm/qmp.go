package vm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpCommand runs one QMP command without arguments.
func (v *VM) qmpCommand(cmd string) error { return v.qmp2(cmd, nil) }

// SetLink sets a network card's link up or down, as pulling its cable
// would: netdev is "net0" for the first card, "net1" for Config.NICs[0].
func (v *VM) SetLink(netdev string, up bool) error {
	return v.qmp2("set_link", map[string]any{"name": netdev, "up": up})
}

// CtrlAltDel presses Ctrl-Alt-Del on the VM's keyboard.
func (v *VM) CtrlAltDel() error {
	var keys []map[string]string
	for _, k := range []string{"ctrl", "alt", "delete"} {
		keys = append(keys, map[string]string{"type": "qcode", "data": k})
	}
	return v.qmp2("send-key", map[string]any{"keys": keys})
}

// The boot disk's block nodes when Config.DiskFaults is set.
const (
	diskFile    = "disk0-file"    // the image file
	diskNode    = "disk0"         // its format, which the virtio disk uses
	diskFailing = "disk0-failing" // blkdebug over the file: every write fails with EIO
)

// DiskWriteErrors makes every write to the boot disk fail with EIO (on),
// as a failing disk's do, or succeed again (off); reads are served
// throughout. The format node's file is swapped between the image and
// the error injector with blockdev-reopen, while the guest runs.
func (v *VM) DiskWriteErrors(on bool) error {
	if v.diskFormat == "" {
		return fmt.Errorf("disk write errors: the VM was not started with DiskFaults")
	}
	file := diskFile
	if on {
		file = diskFailing
	}
	opts := []map[string]string{{"driver": v.diskFormat, "node-name": diskNode, "file": file}}
	if err := v.qmp2("blockdev-reopen", map[string]any{"options": opts}); err != nil {
		return fmt.Errorf("disk write errors %v: %w", on, err)
	}
	return nil
}

// qmp2 runs one QMP command with optional arguments.
func (v *VM) qmp2(cmd string, args any) error {
	c, err := net.DialTimeout("unix", v.qmp, 2*time.Second)
	if err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadBytes('\n'); err != nil { // greeting
		return fmt.Errorf("qmp greeting: %w", err)
	}
	for _, m := range []string{"qmp_capabilities", cmd} {
		req := map[string]any{"execute": m}
		if m == cmd && args != nil {
			req["arguments"] = args
		}
		b, _ := json.Marshal(req)
		if _, err := c.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("qmp %s: %w", m, err)
		}
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				if m == "quit" {
					return nil
				}
				return fmt.Errorf("qmp %s: %w", m, err)
			}
			var resp map[string]json.RawMessage
			if json.Unmarshal(line, &resp) != nil {
				continue
			}
			if e, ok := resp["error"]; ok {
				return fmt.Errorf("qmp %s: %s", m, e)
			}
			if _, ok := resp["return"]; ok {
				break
			}
		}
	}
	return nil
}

// ThrottleWrites limits writes to the boot disk to bytesPerSecond (0
// lifts the limit), as a slow disk would, while the guest runs: a test
// can then cut the power in the middle of a long write.
func (v *VM) ThrottleWrites(bytesPerSecond int64) error {
	if v.diskFormat != "" {
		return fmt.Errorf("throttle writes: not for a VM started with DiskFaults")
	}
	args := map[string]any{"device": "disk0", "bps": 0, "bps_rd": 0, "bps_wr": bytesPerSecond, "iops": 0, "iops_rd": 0, "iops_wr": 0}
	if err := v.qmp2("block_set_io_throttle", args); err != nil {
		return fmt.Errorf("throttle writes to %d bytes/s: %w", bytesPerSecond, err)
	}
	return nil
}
