package boot

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// pfKthread is PF_KTHREAD in /proc/PID/stat's flags: kernel threads
// ignore signals and stay to the end.
const pfKthread = 0x00200000

// userProcesses lists the processes under procRoot that a kill(-1)
// reaches and that have not exited yet: not PID 1, not kernel threads,
// not zombies (PID 1 reaps those).
func userProcesses(procRoot string) []int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		b, err := os.ReadFile(procRoot + "/" + e.Name() + "/stat")
		if err != nil {
			continue // gone between the listing and the read
		}
		// The command name may hold spaces and parentheses: the fields
		// that follow start after its last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 7 {
			continue
		}
		if f[0] == "Z" || f[0] == "X" {
			continue
		}
		if flags, err := strconv.ParseUint(f[6], 10, 64); err == nil && flags&pfKthread != 0 {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// waitNoProcesses polls until userProcesses is empty or limit passes,
// and returns those left.
func waitNoProcesses(procRoot string, limit time.Duration) []int {
	deadline := time.Now().Add(limit)
	for {
		left := userProcesses(procRoot)
		if len(left) == 0 || !time.Now().Before(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}
