// Package e2e boots the built kiOS image in QEMU and checks the node from
// outside (HTTP through forwards, the console) and from inside (a
// test-only inspector pod).
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/ociimage"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/node/boot"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/gpt"
	"kios.dev/kios/internal/shared/mounts"
)

const root = "../.."

// Report mirrors dev/inspector's JSON.
type Report struct {
	Bin []struct {
		Name, Mode, Link string
	}
	Executables []string
	Shells      []string
	Mounts      []mounts.Info
	Processes   []struct {
		Pid, PPid         int
		Comm, Exe, Cgroup string
	}
	Addrs     map[string][]string
	Listening []struct {
		Proto, Addr, Exe string
		Port, Pid        int
	}
	Sysctls   map[string]string
	RootFiles map[string]string `json:"root_files"`
}

func need(t *testing.T, p string) string {
	t.Helper()
	full := filepath.Join(root, p)
	if _, err := os.Stat(full); err != nil {
		t.Fatalf("%s missing: run `make build` first (%v)", p, err)
	}
	abs, _ := filepath.Abs(full)
	return abs
}

// testImage is the EFI under test, built once and shared by the tests
// that boot it.
var (
	testImageDir string // made by the first test that boots the image
	testImage    = sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "kios-e2e-")
		if err != nil {
			return "", err
		}
		testImageDir = dir
		return buildTestImage(dir)
	})
)

func TestMain(m *testing.M) {
	code := m.Run()
	vmtest.PrintRecap(os.Stdout)
	if testImageDir != "" {
		os.RemoveAll(testImageDir)
	}
	os.Exit(code)
}

// sharedImage returns the EFI under test, failing the test when it
// cannot be built.
func sharedImage(t *testing.T) string {
	t.Helper()
	efi, err := testImage()
	if err != nil {
		t.Fatal(err)
	}
	return efi
}

// buildTestImage makes the EFI under test in dir: the default image plus
// the demo pod and the inspector, given through --config and --image;
// extra are more kios build flags (--version, --cmdline).
func buildTestImage(dir string, extra ...string) (string, error) {
	kios, demo := filepath.Join(root, "out/kios"), filepath.Join(root, "out/demo-image.tar")
	for _, p := range []string{kios, demo} {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s missing: run `make build` first (%v)", p, err)
		}
	}
	inspector, err := inspectorArchive(dir)
	if err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, "config")
	manifests := filepath.Join(cfg, "kubernetes", "manifests")
	os.MkdirAll(manifests, 0o755)
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-e2e\n"), 0o644)
	os.WriteFile(filepath.Join(manifests, "web.yaml"), []byte(webPod), 0o644)
	os.WriteFile(filepath.Join(manifests, "inspector.yaml"), []byte(inspectorPod), 0o644)
	os.WriteFile(filepath.Join(manifests, "seccomp.yaml"), []byte(seccompPod), 0o644)
	efi := filepath.Join(dir, "e2e.efi")
	cmd := exec.Command(kios, append([]string{"build", "--config", cfg, "--image", demo, "--image", inspector, "-o", efi}, extra...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("kios build: %v\n%s", err, out)
	}
	return efi, nil
}

// inspectorArchive builds dev/inspector into an image archive in dir
// (localhost/kios-dev/inspector:v1).
func inspectorArchive(dir string) (string, error) {
	bin := filepath.Join(dir, "inspector")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./inspector")
	cmd.Dir = filepath.Join(root, "dev") // the dev module
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build inspector: %v\n%s", err, out)
	}
	img, tag, err := ociimage.FromBinary(bin, "localhost/kios-dev/inspector:v1", nil)
	if err != nil {
		return "", err
	}
	inspector := filepath.Join(dir, "inspector.tar")
	if err := ociimage.WriteArchive(inspector, tag, img); err != nil {
		return "", err
	}
	return inspector, nil
}

const webPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: demo
    image: localhost/kios/demo:v1
    imagePullPolicy: Never
    args: ["--listen=:80"]
`

const inspectorPod = `apiVersion: v1
kind: Pod
metadata: {name: inspector, namespace: kube-system}
spec:
  hostNetwork: true
  hostPID: true
  containers:
  - name: inspector
    image: localhost/kios-dev/inspector:v1
    imagePullPolicy: Never
    args: ["--listen=:9090"]
    securityContext: {privileged: true}
`

// seccompPod is a plain pod (no securityContext): the kubelet's
// seccompDefault gives it RuntimeDefault.
const seccompPod = `apiVersion: v1
kind: Pod
metadata: {name: seccomp, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: try
    image: localhost/kios-dev/inspector:v1
    imagePullPolicy: Never
    args: ["--try-syscalls"]
`

func get(url string) (string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

func TestNode(t *testing.T) {
	vmtest.Need(t, "boots a VM")
	vmtest.Parallel(t)
	efi := sharedImage(t)
	webPort, inspPort := vmtest.FreePort(t), vmtest.FreePort(t)
	// Two disks PID 1 must not take: a GPT damaged in both copies and a
	// GPT without a data partition. The node runs from RAM and says why.
	corrupt, other := badDisks(t)
	v := vmtest.Boot(t, vm.Config{EFI: efi, MemoryMiB: 2048, CPUs: 2, Disks: []string{corrupt, other},
		Forwards: []vm.Forward{{Host: webPort, Guest: 80}, {Host: inspPort, Guest: 9090}}})
	v.ExpectEvent(events.InitStart.With("pid", "1"), 3*time.Minute)
	// PID 1's log prefix: its name and clock.
	if l := v.Lines()[v.Mark()-1].Text; !regexp.MustCompile(`kios: t=[0-9.]+ event=`).MatchString(l) {
		t.Fatalf("PID 1's init-start line lacks the prefix `kios: t=SECONDS`: %s", l)
	}
	ramOnly := v.ExpectEvent(events.DataPartition.With("status", "ram-only"), time.Minute)
	for _, why := range []string{"vdb: corrupt GPT: header CRC", "vdc: no matching partition"} {
		if !strings.Contains(ramOnly.Get("reason"), why) {
			t.Errorf("RAM-only line does not say %q: %s", why, ramOnly)
		}
	}
	v.ExpectEvent(events.ContainerdReady, 2*time.Minute)
	v.ExpectEvent(like(events.ServiceStarted, "name", "kubelet", "pid", re(`\d+`), "restarts", "0"), 2*time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "inspector-kios-e2e"), 3*time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "web-kios-e2e"), 3*time.Minute)
	if done := v.ExpectEventAnywhere(events.BootDone, time.Minute); done.Get("failed") != "0" {
		t.Errorf("boot steps failed: %s", done)
	}
	web := fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	insp := fmt.Sprintf("http://127.0.0.1:%d", inspPort)

	t.Run("user pod answers over HTTP", func(t *testing.T) {
		vmtest.Eventually(t, "GET web pod", 2*time.Minute, func() error {
			body, err := get(web)
			if err == nil && !strings.Contains(body, "hello from kiOS node kios-e2e") {
				err = fmt.Errorf("unexpected answer %q", body)
			}
			return err
		})
	})

	var rep Report
	vmtest.Eventually(t, "inspector report", 2*time.Minute, func() (err error) {
		rep, err = fetchReport(insp)
		return err
	})

	t.Run("network pod configured eth0", func(t *testing.T) {
		vmtest.Eventually(t, "eth0 address", time.Minute, func() error {
			r, err := fetchReport(insp)
			if err != nil {
				return err
			}
			for _, a := range r.Addrs["eth0"] {
				if a == "10.0.2.15/24" {
					return nil
				}
			}
			return fmt.Errorf("eth0 has %v", r.Addrs["eth0"])
		})
		logs := files(t, insp+"/file?glob=/var/log/pods/kube-system_network-*/network/*.log")
		if !strings.Contains(logs, "lease address=10.0.2.15/24") {
			t.Errorf("network pod log lacks the lease: %.2000s", logs)
		}
	})

	t.Run("bin holds exactly the node's binaries", func(t *testing.T) {
		var got []string
		for _, f := range rep.Bin {
			got = append(got, f.Name+"->"+f.Link)
		}
		want := []string{"containerd->", "containerd-shim-runc-v2->", "init->", "kubelet->",
			"modprobe->init", "mount->init", "runc->", "umount->init"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("/bin (-want +got):\n%s", diff)
		}
		if len(rep.Executables) != 0 {
			t.Errorf("executables outside /bin: %v", rep.Executables)
		}
		if len(rep.Shells) != 0 {
			t.Errorf("shells or interpreters on the host: %v", rep.Shells)
		}
	})

	t.Run("no host process listens", func(t *testing.T) {
		// Standalone: the kubelet's server is off; pods with host
		// networking (web, inspector) own their sockets. containerd's
		// CRI streaming server (exec, attach, port-forward; one-time
		// token URLs) listens on loopback only: allowed, documented.
		for _, l := range rep.Listening {
			if l.Exe == "/bin/containerd" && l.Proto == "tcp" && l.Addr == "127.0.0.1" {
				continue
			}
			if hostProgram(l.Exe) {
				t.Errorf("%s listens on %s %s:%d", l.Exe, l.Proto, l.Addr, l.Port)
			}
		}
	})

	t.Run("sysctls are hardened", func(t *testing.T) {
		for _, s := range boot.Sysctls {
			if got := rep.Sysctls[s.Key]; got != s.Value {
				t.Errorf("%s = %q, want %q", s.Key, got, s.Value)
			}
		}
		// What the kubelet's protectKernelDefaults, the CIS benchmark and
		// the Kubernetes hardening guides ask of a node: the table must
		// keep these.
		for k, v := range map[string]string{
			"vm.overcommit_memory": "1", "vm.panic_on_oom": "0", "kernel.panic": "10", "kernel.panic_on_oops": "1",
			"kernel.keys.root_maxkeys": "1000000", "kernel.keys.root_maxbytes": "25000000",
			"kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.unprivileged_bpf_disabled": "1",
			"net.core.bpf_jit_harden": "2", "kernel.yama.ptrace_scope": "1", "kernel.kexec_load_disabled": "1",
			"kernel.perf_event_paranoid": "3", "fs.protected_hardlinks": "1", "fs.protected_symlinks": "1",
			"fs.suid_dumpable": "0", "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.all.send_redirects": "0",
			"net.ipv4.conf.all.accept_source_route": "0", "net.ipv4.tcp_syncookies": "1", "net.ipv4.icmp_echo_ignore_broadcasts": "1",
		} {
			if got := rep.Sysctls[k]; got != v {
				t.Errorf("%s = %q, want %q (missing from boot.Sysctls?)", k, got, v)
			}
		}
	})

	t.Run("root image files have root-only modes", func(t *testing.T) {
		for p, mode := range rep.RootFiles {
			if err := checkMode(p, mode); err != nil {
				t.Error(err)
			}
		}
		if len(rep.RootFiles) < 100 {
			t.Errorf("only %d files on the root image reported", len(rep.RootFiles))
		}
	})

	t.Run("plain pods get RuntimeDefault seccomp", func(t *testing.T) {
		var logs string
		vmtest.Eventually(t, "seccomp pod log", 2*time.Minute, func() error {
			logs = files(t, insp+"/file?glob=/var/log/pods/default_seccomp-*/try/*.log")
			if !strings.Contains(logs, "keyctl:") {
				return fmt.Errorf("no results yet: %q", logs)
			}
			return nil
		})
		for _, want := range []string{"seccomp-mode: 2", "unshare-userns: EPERM", "keyctl: EPERM"} {
			if !strings.Contains(logs, want) {
				t.Errorf("seccomp pod log lacks %q:\n%s", want, logs)
			}
		}
	})

	t.Run("mount flags match the table", func(t *testing.T) {
		for _, err := range mounts.Check(rep.Mounts, mounts.ExpectedTable(false)) {
			t.Error(err)
		}
	})

	t.Run("long-lived host processes", func(t *testing.T) {
		vmtest.Eventually(t, "only init, containerd, kubelet and shims", time.Minute, func() error {
			r, err := fetchReport(insp)
			if err != nil {
				return err
			}
			return checkProcesses(r)
		})
	})

	t.Run("kubelet is the pinned upstream version", func(t *testing.T) {
		logs := files(t, insp+"/file?glob=/var/log/kubelet.log")
		if !strings.Contains(logs, `kubeletVersion="v1.35.4"`) {
			t.Errorf("kubelet log does not report v1.35.4: %.1500s", logs)
		}
	})

	t.Run("kubelet and containerd come back", func(t *testing.T) {
		for _, svc := range []string{"kubelet", "containerd"} {
			body, err := get(insp + "/kill?exe=/bin/" + svc)
			if err != nil || strings.TrimSpace(body) == "null" {
				t.Fatalf("kill %s: %v %s", svc, err, body)
			}
			v.ExpectEvent(events.ServiceExited.With("name", svc), time.Minute)
			v.ExpectEvent(like(events.ServiceStarted, "name", svc, "pid", re(`\d+`), "restarts", "1"), time.Minute)
			// The runtime and the kubelet work again: a killed pod
			// container is restarted by the kubelet through containerd.
			time.Sleep(5 * time.Second)
			if body, err := get(insp + "/kill?any=1&exe=/bin/demo"); err != nil || strings.TrimSpace(body) == "null" {
				t.Fatalf("kill the web pod's process: %v %s", err, body)
			}
			v.ExpectEvent(events.ContainerStarted.With("pod", "web-kios-e2e", "container", "demo"), 3*time.Minute)
			vmtest.Eventually(t, "web pod answers again", 2*time.Minute, func() error {
				_, err := get(web)
				return err
			})
		}
	})
}

// badDisks writes a disk whose GPT is damaged in both copies and a disk
// whose GPT holds only a plain Linux partition.
func badDisks(t *testing.T) (corrupt, other string) {
	dir := t.TempDir()
	const size = 16 << 20
	write := func(name, typ string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Truncate(size)
		if err := gpt.Write(f, size, "abcdefab-cdef-abcd-efab-cdefabcdefab", []gpt.Spec{
			{Type: typ, GUID: "66666666-7777-8888-9999-aaaaaaaaaaaa", Name: name, FirstLBA: 2048, LastLBA: size/512 - 2049},
		}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt = write("corrupt.img", gpt.DataPartitionType)
	f, _ := os.OpenFile(corrupt, os.O_WRONLY, 0)
	f.WriteAt([]byte{0xff}, 512+60)      // the primary header's disk GUID
	f.WriteAt([]byte{0xff}, size-512+60) // and the backup's
	f.Close()
	return corrupt, write("linux.img", "0fc63daf-8483-4772-8e79-3d69d8477de4")
}

// fetchReport asks the inspector pod for the host's state, with the
// sysctls PID 1 sets.
func fetchReport(insp string) (Report, error) {
	var r Report
	var keys []string
	for _, s := range boot.Sysctls {
		keys = append(keys, s.Key)
	}
	body, err := get(insp + "/report?sysctls=" + strings.Join(keys, ","))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(body), &r)
}

// files returns the contents of the host files the inspector matched.
func files(t *testing.T, url string) string {
	t.Helper()
	s, err := fileContents(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fileContents is files for a caller that retries: the inspector of a
// node that has just rebooted may not answer yet.
func fileContents(url string) (string, error) {
	body, err := get(url)
	if err != nil {
		return "", err
	}
	var contents []string
	if err := json.Unmarshal([]byte(body), &contents); err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	return strings.Join(contents, "\n"), nil
}

// eventuallyInFile waits until a node file that the inspector serves at
// url (a /file?glob= query) holds want; the inspector pod may still be
// starting.
func eventuallyInFile(t *testing.T, what, url, want string) {
	t.Helper()
	vmtest.Eventually(t, what, 2*time.Minute, func() error {
		got, err := fileContents(url)
		if err != nil {
			return err
		}
		if !strings.Contains(got, want) {
			return fmt.Errorf("%s lacks %q: %.1500s", url, want, got)
		}
		return nil
	})
}

// eventuallyEventInFile waits until a node log that the inspector
// serves at url (a /file?glob= query) holds an event m matches; the
// inspector pod may still be starting.
func eventuallyEventInFile(t *testing.T, what, url string, m events.Matcher) {
	t.Helper()
	vmtest.Eventually(t, what, 2*time.Minute, func() error {
		got, err := fileContents(url)
		if err != nil {
			return err
		}
		if len(findEvents(got, m)) == 0 {
			return fmt.Errorf("%s lacks %s: %.1500s", url, m, got)
		}
		return nil
	})
}

func hostProgram(exe string) bool {
	switch exe {
	case "/bin/init", "/bin/containerd", "/bin/kubelet", "/bin/containerd-shim-runc-v2", "/bin/runc":
		return true
	}
	return false
}

// checkMode holds the root image's files to root-only modes: programs
// 0500, kernel modules and primed images 0400; nothing setuid or setgid,
// nothing writable by others but sticky directories. mode is Go's
// FileMode string: type letters, then nine permission characters.
func checkMode(path, mode string) error {
	if len(mode) < 10 {
		return fmt.Errorf("%s: mode %s", path, mode)
	}
	kinds, perm := mode[:len(mode)-9], mode[len(mode)-9:]
	dir, link := strings.Contains(kinds, "d"), strings.Contains(kinds, "L")
	regular := kinds == "-"
	switch {
	case link:
		return nil
	case strings.ContainsAny(kinds, "ug"):
		return fmt.Errorf("%s: setuid or setgid (%s)", path, mode)
	case perm[7] == 'w' && !(dir && strings.Contains(kinds, "t")):
		return fmt.Errorf("%s: writable by others (%s)", path, mode)
	case regular && strings.HasPrefix(path, "/bin/") && perm != "r-x------":
		return fmt.Errorf("%s: program mode %s, want -r-x------", path, mode)
	case regular && (strings.HasPrefix(path, "/lib/modules/") || strings.HasPrefix(path, "/lib/kios/images/")) && perm != "r--------":
		return fmt.Errorf("%s: mode %s, want -r--------", path, mode)
	case regular && !strings.HasPrefix(path, "/bin/") && strings.Contains(perm, "x"):
		return fmt.Errorf("%s: executable outside /bin (%s)", path, mode)
	case !regular && !dir:
		return fmt.Errorf("%s: a device, pipe or socket on the root image (%s)", path, mode)
	}
	return nil
}

// checkProcesses allows, outside containers, only PID 1 (init),
// containerd, the kubelet and containerd's shims.
func checkProcesses(r Report) error {
	byPid := map[int]int{}
	exe := map[int]string{}
	for _, p := range r.Processes {
		byPid[p.Pid], exe[p.Pid] = p.PPid, p.Exe
	}
	inContainer := func(pid int) bool {
		for p := byPid[pid]; p > 1; p = byPid[p] {
			if exe[p] == "/bin/containerd-shim-runc-v2" {
				return true
			}
		}
		return false
	}
	var host []string
	for _, p := range r.Processes {
		if p.Exe == "" || p.PPid == 2 || p.Pid == 2 || inContainer(p.Pid) {
			continue // kernel threads and container processes
		}
		host = append(host, fmt.Sprintf("%d:%s", p.Pid, p.Exe))
		// Seen from the inspector's cgroup namespace the path may be
		// relative to the pod's cgroup ("/../../../system").
		if !strings.HasSuffix(p.Cgroup, "/"+boot.HostCgroup) || strings.Contains(p.Cgroup, "kubepods") {
			return fmt.Errorf("host process %d (%s) is in cgroup %q, want /%s", p.Pid, p.Exe, p.Cgroup, boot.HostCgroup)
		}
		switch {
		case p.Pid == 1 && p.Exe == "/bin/init":
		case p.PPid == 1 && (p.Exe == "/bin/containerd" || p.Exe == "/bin/kubelet" || p.Exe == "/bin/containerd-shim-runc-v2"):
		default:
			return fmt.Errorf("unexpected host process %d (%s, %s, parent %d)", p.Pid, p.Comm, p.Exe, p.PPid)
		}
	}
	sort.Strings(host)
	for _, want := range []string{"/bin/containerd", "/bin/kubelet"} {
		if !strings.Contains(strings.Join(host, " "), want) {
			return fmt.Errorf("%s is not running: %v", want, host)
		}
	}
	return nil
}
