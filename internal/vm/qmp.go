package vm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpCommand runs one QMP command without arguments.
func (v *VM) qmpCommand(cmd string) error {
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
		b, _ := json.Marshal(map[string]string{"execute": m})
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
