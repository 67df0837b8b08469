package bench

import (
	"bufio"
	"bytes"
	"regexp"
	"time"

	"kios.dev/kios/dev/compare"
)

// containerd's CRI plugin logs the start and the end of each call at
// level info, in the same text format on kiOS (/var/log/containerd.log)
// and on a systemd host (the journal):
//
//	time="..." level=info msg="RunPodSandbox for name:\"p\" uid:\"U\" namespace:\"n\""
//	time="..." level=info msg="RunPodSandbox for name:\"p\" uid:\"U\" namespace:\"n\" returns sandbox id \"S\""
//	time="..." level=info msg="CreateContainer within sandbox \"S\" for name:\"c\" returns container id \"C\""
//	time="..." level=info msg="StartContainer for \"C\""
//	time="..." level=info msg="StartContainer for \"C\" returns successfully"
var (
	logTime      = regexp.MustCompile(`^time="([^"]+)"`)
	runSandbox   = regexp.MustCompile(`msg="RunPodSandbox for name:\\"([^\\"]+)\\".*uid:\\"([^\\"]+)\\"(?:.*returns sandbox id \\"([0-9a-f]+)\\")?`)
	created      = regexp.MustCompile(`msg="CreateContainer within sandbox \\"([0-9a-f]+)\\".*returns container id \\"([0-9a-f]+)\\"`)
	startCont    = regexp.MustCompile(`msg="StartContainer for \\"([0-9a-f]+)\\"`)
	containerEnd = []byte(`returns successfully`)
)

// CallTimes are the durations of containerd's CRI calls found in a log.
type CallTimes struct {
	// RunPodSandbox: creating a pod's sandbox (its network, its pause
	// container and the shim that holds it).
	RunPodSandbox []time.Duration
	// StartContainer: starting a created container (runc's create and
	// start of the process).
	StartContainer []time.Duration
}

// ParseCallTimes pairs each call's start line with its end line, for the
// pods whose name begins with podPrefix and their containers. Calls
// without an end (failed, or still running when the log was read) are
// left out.
func ParseCallTimes(log []byte, podPrefix string) CallTimes {
	var ct CallTimes
	sandboxStart := map[string]time.Time{}
	ours := map[string]bool{} // sandbox and container IDs of those pods
	containerStart := map[string]time.Time{}
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		m := logTime.FindSubmatch(line)
		if m == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(m[1]))
		if err != nil {
			continue
		}
		if m := runSandbox.FindSubmatch(line); m != nil {
			if !bytes.HasPrefix(m[1], []byte(podPrefix)) {
				continue
			}
			uid, id := string(m[2]), string(m[3])
			if id == "" {
				sandboxStart[uid] = t
			} else if t0, ok := sandboxStart[uid]; ok {
				ct.RunPodSandbox = append(ct.RunPodSandbox, t.Sub(t0))
				delete(sandboxStart, uid)
				ours[id] = true
			}
			continue
		}
		if m := created.FindSubmatch(line); m != nil {
			if ours[string(m[1])] {
				ours[string(m[2])] = true
			}
			continue
		}
		if m := startCont.FindSubmatch(line); m != nil {
			id := string(m[1])
			if !ours[id] {
				continue
			}
			if !bytes.Contains(line, containerEnd) {
				containerStart[id] = t
			} else if t0, ok := containerStart[id]; ok {
				ct.StartContainer = append(ct.StartContainer, t.Sub(t0))
				delete(containerStart, id)
			}
		}
	}
	return ct
}

// medianSeconds is the median of ds in seconds, false for none.
func medianSeconds(ds []time.Duration) (float64, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	secs := make([]float64, len(ds))
	for i, d := range ds {
		secs[i] = d.Seconds()
	}
	return medianOf(secs), true
}

// addCallTimes adds the medians of the growth pods' calls in a node's
// containerd log: where one pod start spends its time, comparable
// between systems.
func addCallTimes(figs compare.Figures, log []byte) {
	ct := ParseCallTimes(log, growthName+"-")
	if s, ok := medianSeconds(ct.RunPodSandbox); ok {
		figs[compare.PodsRunSandbox] = s
	}
	if s, ok := medianSeconds(ct.StartContainer); ok {
		figs[compare.PodsStartContainer] = s
	}
}
