package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"

	"kios.dev/kios/internal/shared/events"
)

// HostOOMScoreAdj is PID 1's OOM score adjustment, inherited by
// containerd, the kubelet and the shims (containerd gives each shim its
// own +1). Under memory pressure the kernel kills a pod's process (the
// kubelet gives those 2 to 1000) before any of them. -999 and not -1000:
// a host process that leaks stays killable as a last resort.
const HostOOMScoreAdj = -999

// ThrashSettings turn a node that thrashes into one that OOM-kills. With
// no swap, the only memory the kernel can reclaim on a kiOS node is the
// page cache of the root image, which is mostly the host's own program
// code: a pod that grows makes the kernel evict and re-read (decompress)
// the kubelet's and containerd's code forever, since reclaim always
// "makes progress" and the OOM killer never runs. The multi-generational
// LRU's min_ttl_ms keeps the working set of the last second in memory
// and calls the OOM killer when it cannot. The keys are paths under
// /sys, written as SetSysctls writes those under /proc/sys.
var ThrashSettings = []Sysctl{
	{"kernel/mm/lru_gen/enabled", "y"},
	{"kernel/mm/lru_gen/min_ttl_ms", "1000"},
}

// ProtectHostMemory sets PID 1's OOM score adjustment (under proc,
// normally /proc) and the thrashing protection (under sys, normally
// /sys). Both are set before containerd and the kubelet start, so they
// inherit the score.
func ProtectHostMemory(proc, sys string) error {
	var errs []error
	adj := filepath.Join(proc, "self", "oom_score_adj")
	if err := os.WriteFile(adj, []byte(strconv.Itoa(HostOOMScoreAdj)), 0o644); err != nil {
		errs = append(errs, fmt.Errorf("oom_score_adj: %w", err))
	}
	errs = append(errs, SetSysctls(sys, ThrashSettings))
	return errors.Join(errs...)
}

// PID1GCPercent is PID 1's own Go GC target, the tuned GOGC kiOS gives
// containerd and the kubelet (docs/memory.md).
const PID1GCPercent = 50

// ReleaseMemory collects PID 1's garbage and returns the free heap to
// the kernel at once, and logs what it gave back. PID 1 allocates most
// while it boots (image imports, module files) and then idles, so
// without this its heap stays at the boot's peak until the runtime's
// two-minute forced collection and its slow scavenger get to it.
func ReleaseMemory(log Logger, after string) {
	var before, now runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&now)
	events.Emit(log, events.MemoryReleased, "after", after, "heap_in_use_mib", fmt.Sprintf("%.1f", float64(now.HeapInuse)/(1<<20)), "released_mib", fmt.Sprintf("%.1f", float64(int64(now.HeapReleased)-int64(before.HeapReleased))/(1<<20)))
}
