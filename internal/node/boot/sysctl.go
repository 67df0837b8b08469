package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sysctl is one kernel setting.
type Sysctl struct{ Key, Value string }

// Sysctls are set at every boot: forwarding for pods, the values the
// kubelet's protectKernelDefaults requires, and hardening.
var Sysctls = []Sysctl{
	{"net.ipv4.ip_forward", "1"},
	{"net.ipv6.conf.all.forwarding", "1"},
	// With forwarding on, the kernel ignores router advertisements unless
	// accept_ra is 2; eth0 must still get its SLAAC address.
	{"net.ipv6.conf.all.accept_ra", "2"},
	{"net.ipv6.conf.default.accept_ra", "2"},
	{"vm.overcommit_memory", "1"},
	{"vm.panic_on_oom", "0"},
	{"kernel.panic", "10"},
	{"kernel.panic_on_oops", "1"},
	{"kernel.keys.root_maxkeys", "1000000"},
	{"kernel.keys.root_maxbytes", "25000000"},
	{"kernel.kptr_restrict", "2"},
	{"kernel.dmesg_restrict", "1"},
	{"kernel.unprivileged_bpf_disabled", "1"},
	{"net.core.bpf_jit_harden", "2"},
	{"kernel.yama.ptrace_scope", "1"},
	{"kernel.perf_event_paranoid", "3"}, // Debian's kernel: no perf for the unprivileged
	{"kernel.kexec_load_disabled", "1"}, // one-way: no other kernel can be loaded
	{"fs.protected_hardlinks", "1"},
	{"fs.protected_symlinks", "1"},
	{"fs.protected_fifos", "2"},
	{"fs.protected_regular", "2"},
	{"fs.suid_dumpable", "0"},
	{"net.ipv4.conf.all.rp_filter", "1"},
	{"net.ipv4.conf.all.accept_redirects", "0"},
	{"net.ipv4.conf.default.accept_redirects", "0"},
	{"net.ipv4.conf.all.send_redirects", "0"},
	{"net.ipv4.conf.all.accept_source_route", "0"},
	{"net.ipv6.conf.all.accept_redirects", "0"},
	{"net.ipv4.tcp_syncookies", "1"},
	{"net.ipv4.icmp_echo_ignore_broadcasts", "1"},
	{"net.ipv4.conf.default.send_redirects", "0"},
	{"fs.inotify.max_user_instances", "8192"},
	{"fs.inotify.max_user_watches", "524288"},
}

// BridgeSysctls exist once br_netfilter is loaded: bridged pod traffic
// must pass through iptables for Services to work.
var BridgeSysctls = []Sysctl{
	{"net.bridge.bridge-nf-call-iptables", "1"},
	{"net.bridge.bridge-nf-call-ip6tables", "1"},
}

// SetSysctls writes each setting under procSys (normally /proc/sys) and
// returns one error listing every key that could not be set.
func SetSysctls(procSys string, list []Sysctl) error {
	var errs []error
	for _, s := range list {
		p := filepath.Join(procSys, strings.ReplaceAll(s.Key, ".", "/"))
		if err := os.WriteFile(p, []byte(s.Value), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", s.Key, s.Value, err))
		}
	}
	return errors.Join(errs...)
}
