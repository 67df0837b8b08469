// Package probe is the benchmark's view of a node from inside: a
// privileged pod in the host's PID namespace that reports memory in use,
// every host process with its resident memory, and the executables on
// the host's root file system. The comparison benchmark runs it on kiOS
// and on the baseline alike; the probe leaves its own pod (its shim,
// pause and itself) out of the figures it reports.
package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"kios.dev/kios/internal/shared/meminfo"
)

// Process is one host process.
type Process struct {
	PID    int    `json:"pid"`
	PPID   int    `json:"ppid"`
	Name   string `json:"name"`
	RSSKiB int64  `json:"rss_kib"`
	// RSS split as the kernel counts it (/proc/PID/status): anonymous
	// pages (heap, stacks: not reclaimable without swap), file pages
	// (program text, mapped files: reclaimable) and shared memory.
	RSSAnonKiB  int64 `json:"rss_anon_kib,omitempty"`
	RSSFileKiB  int64 `json:"rss_file_kib,omitempty"`
	RSSShmemKiB int64 `json:"rss_shmem_kib,omitempty"`
	// CPUTicks is the CPU time the process has used, user and system,
	// in the kernel's USER_HZ ticks (1/100 s).
	CPUTicks int64 `json:"cpu_ticks"`
	// ChildCPUTicks is the CPU time of its children that have exited and
	// been waited for (cutime + cstime): the short-lived programs it ran,
	// which no reading of the live processes sees (containerd's CNI
	// plugins and shim starts, a shim's runc calls, the kubelet's mounts).
	ChildCPUTicks int64 `json:"child_cpu_ticks,omitempty"`
}

// Footprint is what the probe reports.
type Footprint struct {
	MemTotalKiB     int64 `json:"mem_total_kib"`
	MemAvailableKiB int64 `json:"mem_available_kib"`
	// Meminfo is every /proc/meminfo field counted in kB (the HugePages
	// counts left out), by its name.
	Meminfo map[string]int64 `json:"meminfo,omitempty"`
	// Processes are the host's user-space processes (kernel threads
	// left out), without the probe's own pod.
	Processes []Process `json:"processes"`
	// ProbeRSSKiB is the resident memory of the probe's own pod.
	ProbeRSSKiB int64 `json:"probe_rss_kib"`
	// Executables are the regular files with an execute bit on the host
	// (seen through PID 1's root), outside SkipDirs.
	Executables int `json:"executables"`
	// HostMounts is the number of mounts in PID 1's mount namespace:
	// programs that read the mount table pay for each.
	HostMounts int `json:"host_mounts"`
	// CPU is the whole machine's CPU time since boot by kind (user,
	// system, softirq...: /proc/stat's "cpu" line), in USER_HZ ticks.
	CPU map[string]int64 `json:"cpu"`
}

// cpuFields are the columns of /proc/stat's "cpu" line, in order.
var cpuFields = []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// UsedMiB is MemTotal - MemAvailable without the probe's own pod.
func (f Footprint) UsedMiB() float64 {
	return float64(f.MemTotalKiB-f.MemAvailableKiB-f.ProbeRSSKiB) / 1024
}

// SkipDirs are not the host's own files: kernel and runtime file
// systems, container images and volumes, the CNI plugins the cluster
// installs, logs and scratch space.
var SkipDirs = []string{"proc", "sys", "dev", "run", "tmp", "var/tmp", "var/log", "var/lib/containerd",
	"var/lib/kubelet", "opt/cni"}

// Read reads the footprint from root (the probe's "/": its /proc is the
// host's, in the host PID namespace); self is the probe's PID there.
// Counting the executables walks the host's whole root, which takes a
// busy node under emulation about a minute: without executables,
// Executables is left 0.
func Read(root string, self int, executables bool) (Footprint, error) {
	var f Footprint
	mf, err := os.Open(filepath.Join(root, "proc", "meminfo"))
	if err != nil {
		return f, err
	}
	mem, err := meminfo.Parse(mf)
	mf.Close()
	if err != nil {
		return f, err
	}
	f.MemTotalKiB, f.MemAvailableKiB = mem.TotalKiB, mem.AvailableKiB
	if f.Meminfo, err = readMeminfo(filepath.Join(root, "proc", "meminfo")); err != nil {
		return f, err
	}
	entries, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		return f, fmt.Errorf("list processes: %w", err)
	}
	var all []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProcess(filepath.Join(root, "proc", e.Name(), "status"), pid)
		if ok {
			p.CPUTicks, p.ChildCPUTicks = readCPUTicks(filepath.Join(root, "proc", e.Name(), "stat"))
			all = append(all, p)
		}
	}
	own := podOf(all, self)
	for _, p := range all {
		if own[p.PID] {
			f.ProbeRSSKiB += p.RSSKiB
			continue
		}
		f.Processes = append(f.Processes, p)
	}
	sort.Slice(f.Processes, func(i, j int) bool { return f.Processes[i].PID < f.Processes[j].PID })
	if executables {
		if f.Executables, err = countExecutables(filepath.Join(root, "proc", "1", "root")); err != nil {
			return f, err
		}
	}
	if f.HostMounts, err = countLines(filepath.Join(root, "proc", "1", "mountinfo")); err != nil {
		return f, fmt.Errorf("count the host's mounts: %w", err)
	}
	if f.CPU, err = readCPU(filepath.Join(root, "proc", "stat")); err != nil {
		return f, err
	}
	return f, nil
}

func countLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte("\n")), nil
}

// readCPU reads the machine's CPU time by kind from a /proc/stat file.
func readCPU(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CPU time: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 1+len(cpuFields) || fields[0] != "cpu" {
		return nil, fmt.Errorf("read CPU time: %s: first line is %q, want cpu and %d counters", path, line, len(cpuFields))
	}
	cpu := map[string]int64{}
	for i, name := range cpuFields {
		v, err := strconv.ParseInt(fields[1+i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read CPU time: %s: %s: %w", path, name, err)
		}
		cpu[name] = v
	}
	return cpu, nil
}

// readProcess reads a status file; kernel threads (no VmRSS) and
// processes gone meanwhile are skipped.
func readProcess(path string, pid int) (Process, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Process{}, false
	}
	p := Process{PID: pid}
	rss := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			p.Name = v
		case "PPid":
			p.PPID, _ = strconv.Atoi(v)
		case "VmRSS":
			p.RSSKiB = kib(v)
			rss = true
		case "RssAnon":
			p.RSSAnonKiB = kib(v)
		case "RssFile":
			p.RSSFileKiB = kib(v)
		case "RssShmem":
			p.RSSShmemKiB = kib(v)
		}
	}
	return p, rss
}

func kib(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64)
	return n
}

// readMeminfo reads every field of a /proc/meminfo counted in kB.
func readMeminfo(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		out[k] = n
	}
	return out, nil
}

// readCPUTicks is utime + stime (fields 14 and 15) and cutime + cstime
// (16 and 17) of a stat file, 0 when the process is gone. The command
// name (field 2) may hold spaces and parentheses, so fields are counted
// after its last ')'.
func readCPUTicks(path string) (own, children int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	if len(f) < 15 {
		return 0, 0
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	return n(11) + n(12), n(13) + n(14)
}

// podOf is the probe's pod: its parent (the pod's shim) and everything
// under that shim.
func podOf(all []Process, self int) map[int]bool {
	parent := map[int]int{}
	for _, p := range all {
		parent[p.PID] = p.PPID
	}
	shim, ok := parent[self]
	if !ok || shim <= 1 {
		return map[int]bool{self: true}
	}
	own := map[int]bool{}
	for _, p := range all {
		for q := p.PID; q > 1; q = parent[q] {
			if q == shim {
				own[p.PID] = true
				break
			}
			if _, known := parent[q]; !known {
				break
			}
		}
	}
	return own
}

func countExecutables(root string) (int, error) {
	skip := map[string]bool{}
	for _, d := range SkipDirs {
		skip[filepath.Join(root, d)] = true
	}
	n := 0
	// root is /proc/1/root, a symbolic link: the trailing slash walks
	// what it points to.
	err := filepath.WalkDir(root+"/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if filepath.Clean(p) == root {
				return err
			}
			return nil // a file gone meanwhile, or unreadable
		}
		if d.IsDir() && skip[p] {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil && info.Mode().Perm()&0o111 != 0 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count executables under %s: %w", root, err)
	}
	return n, nil
}
