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

// CtrlAltDel presses Ctrl-Alt-Del on the VM's keyboard.
func (v *VM) CtrlAltDel() error {
	var keys []map[string]string
	for _, k := range []string{"ctrl", "alt", "delete"} {
		keys = append(keys, map[string]string{"type": "qcode", "data": k})
	}
	return v.qmp2("send-key", map[string]any{"keys": keys})
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
