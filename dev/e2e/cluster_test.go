package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/nodeconfig"
)

func binaries(t *testing.T) controlplane.Binaries {
	find := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(root, "build/cache", pattern))
		if len(m) == 0 {
			t.Fatalf("%s not built: run `make controlplane`", pattern)
		}
		abs, _ := filepath.Abs(m[0])
		return abs
	}
	return controlplane.Binaries{Etcd: find("etcd-*/etcd"), APIServer: find("controlplane-*/kube-apiserver"),
		ControllerManager: find("controlplane-*/kube-controller-manager"), Scheduler: find("controlplane-*/kube-scheduler")}
}

// TestJoin boots a node built with `kios build --join` against a real
// control plane in a lab network. Its token does not exist yet: the join
// pod must say why it cannot join and the node must stay standalone.
// Then the token is created, and the node joins through TLS bootstrap.
func TestJoin(t *testing.T) {
	vmtest.Need(t, "boots a VM and a control plane")
	ctx := context.Background()
	l, err := labnet.Create(fmt.Sprintf("kios-e2e-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cpDir := t.TempDir()
	cp, err := controlplane.Start(ctx, l, controlplane.Layout{Dir: cpDir}, labnet.Gateway, binaries(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cp.Stop()
		if t.Failed() {
			for _, n := range []string{"kube-apiserver", "kube-controller-manager"} {
				b, _ := os.ReadFile(filepath.Join(cpDir, "logs", n+".log"))
				t.Logf("%s log tail:\n%s", n, tail(string(b), 3000))
			}
		}
	})
	// Host tools reach the API server through a forward, as kubectl does.
	fwd, err := l.Forward("127.0.0.1:0", labnet.Gateway.String()+":6443")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fwd.Close() })
	cs, restCfg, err := cp.ClientAt("https://" + fwd.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Bootstrap makes its own token; the node gets another, created later.
	_, hash, err := cp.Bootstrap(ctx, cs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, err := controlplane.NewToken()
	if err != nil {
		t.Fatal(err)
	}

	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-node-1\n"), 0o644)
	// The inspector (built with the shared test image) audits the
	// cluster node's sockets.
	sharedImage(t)
	os.MkdirAll(filepath.Join(cfg, "kubernetes", "manifests"), 0o755)
	os.WriteFile(filepath.Join(cfg, "kubernetes", "manifests", "inspector.yaml"), []byte(inspectorPod), 0o644)
	efi := filepath.Join(t.TempDir(), "join.efi")
	out, err := exec.Command(need(t, "out/kios"), "build", "--config", cfg, "--join", labnet.Gateway.String()+":6443",
		"--token", token, "--ca-cert-hash", hash, "-o", efi, "--image", filepath.Join(testImageDir, "inspector.tar"),
		"--image", need(t, "out/parts/extra/cni-installer.tar"), "--image", need(t, "out/demo-image.tar")).CombinedOutput()
	if err != nil {
		t.Fatalf("kios build --join: %v\n%s", err, out)
	}
	if err := l.AddTAP("tap0"); err != nil {
		t.Fatal(err)
	}
	const mac, nodeIP = "52:54:00:88:00:0b", "10.88.0.11"
	hw, _ := netParseMAC(mac)
	l.Reserve(hw, netParseIP(nodeIP))
	v := vmtest.Boot(t, vm.Config{EFI: efi, MemoryMiB: 2048, CPUs: 2, TAP: "tap0", MAC: mac,
		Wrap: []string{"ip", "netns", "exec", l.Name}})

	v.ExpectEventAnywhere(events.KubeletMode.With("mode", "standalone"), 4*time.Minute)
	v.ExpectEventAnywhere(events.ContainerStarted.With("pod", "join-kios-node-1"), 4*time.Minute)
	// The join pod's log, read through the node's own log files, is not
	// reachable yet (a standalone kubelet serves nothing): for 20 s, a
	// few of its retries, the node must not become a cluster node.
	vmtest.Holds(t, "no node registers and the kubelet stays standalone with an unknown token", 20*time.Second, func() error {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
		}
		if len(nodes.Items) != 0 {
			return fmt.Errorf("node %s registered", nodes.Items[0].Name)
		}
		for _, line := range v.Lines() {
			if isEvent(line.Text, events.KubeletMode.With("mode", "cluster")) {
				return fmt.Errorf("the kubelet went to cluster mode: %s", line.Text)
			}
		}
		return nil
	})

	if err := controlplane.StoreToken(ctx, cs, token, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The join pod asks through the system socket; PID 1 would also
	// restart the kubelet by itself on seeing the kubeconfig.
	v.ExpectEvent(events.Any(events.SystemSocket.With("request", "restart-kubelet"), events.KubeletRestart.With("reason", "kubeconfig changed")), 4*time.Minute)
	v.ExpectEvent(events.KubeletMode.With("mode", "cluster"), time.Minute)

	var node *corev1.Node
	vmtest.Eventually(t, "node registered", 4*time.Minute, func() error {
		node, err = cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{})
		return err
	})
	if got := node.Status.NodeInfo.KubeletVersion; got != "v1.35.4" {
		t.Errorf("node reports kubelet %s, want v1.35.4", got)
	}
	hasIP := false
	for _, a := range node.Status.Addresses {
		hasIP = hasIP || (a.Type == corev1.NodeInternalIP && a.Address == nodeIP)
	}
	if !hasIP {
		t.Errorf("node addresses %v lack InternalIP %s", node.Status.Addresses, nodeIP)
	}

	t.Run("join pod reported the unknown token", func(t *testing.T) {
		var logs []byte
		vmtest.Eventually(t, "join pod logs", 3*time.Minute, func() error {
			// Logs come from the kubelet's port: its serving certificate
			// must be approved first.
			if _, err := controlplane.ApproveServingCSRs(ctx, cs); err != nil {
				return err
			}
			logs, err = cs.CoreV1().Pods("kube-system").GetLogs("join-kios-node-1", &corev1.PodLogOptions{}).DoRaw(ctx)
			return err
		})
		for _, want := range []string{"not joining " + labnet.Gateway.String() + ":6443", "unknown or expired token", "the node stays standalone", "joined: trusted"} {
			if !strings.Contains(string(logs), want) {
				t.Errorf("join pod log lacks %q:\n%s", want, logs)
			}
		}
	})

	t.Run("client certificate issued through TLS bootstrap", func(t *testing.T) {
		csrs, err := cs.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		issued := false
		for _, c := range csrs.Items {
			if c.Spec.SignerName == certv1.KubeAPIServerClientKubeletSignerName && strings.HasPrefix(c.Spec.Username, "system:bootstrap:"+token[:6]) && len(c.Status.Certificate) > 0 {
				issued = true
			}
		}
		if !issued {
			t.Errorf("no kubelet client certificate issued to the bootstrap token: %d CSRs", len(csrs.Items))
		}
	})

	t.Run("serving certificate and node proxy", func(t *testing.T) {
		vmtest.Eventually(t, "kubelet answers through the API server", 3*time.Minute, func() error {
			if _, err := controlplane.ApproveServingCSRs(ctx, cs); err != nil {
				return err
			}
			body, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/kios-node-1/proxy/healthz").DoRaw(ctx)
			if err != nil {
				return err
			}
			if string(body) != "ok" {
				return fmt.Errorf("healthz: %q", body)
			}
			return nil
		})
	})

	t.Run("CNI from a DaemonSet makes the node Ready", func(t *testing.T) {
		if err := controlplane.InstallCNI(ctx, cs, labnet.Gateway.String(), "6443"); err != nil {
			t.Fatal(err)
		}
		vmtest.Eventually(t, "node Ready", 4*time.Minute, func() error {
			n, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if ready, why := kube.Ready(n); !ready {
				return errors.New(why)
			}
			return nil
		})
	})

	t.Run("deployment, logs, exec, node logs", func(t *testing.T) {
		pods := runDeployment(t, ctx, cs, "kios-node-1")
		n, _ := cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{})
		_, podNet, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			t.Fatalf("node pod CIDR %q: %v", n.Spec.PodCIDR, err)
		}
		for _, p := range pods {
			if ip := net.ParseIP(p.Status.PodIP); ip == nil || !podNet.Contains(ip) {
				t.Errorf("pod %s has IP %q outside the node's pod CIDR %s", p.Name, p.Status.PodIP, podNet)
			}
		}
		logs, err := cs.CoreV1().Pods("default").GetLogs(pods[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(logs), "demo: listening on :8080") {
			t.Errorf("kubectl logs: %v %q", err, logs)
		}
		stdout, err := execIn(ctx, restCfg, cs, pods[0].Name, []string{"/bin/demo", "-say", "exec-works"})
		if err != nil || strings.TrimSpace(stdout) != "exec-works" {
			t.Errorf("kubectl exec: %v %q", err, stdout)
		}
		kl, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/kios-node-1/proxy/logs/kubelet.log").DoRaw(ctx)
		if err != nil || !strings.Contains(string(kl), `kubeletVersion="v1.35.4"`) {
			t.Errorf("node log endpoint: %v %.300q", err, kl)
		}
	})

	t.Run("kubelet configz meets the CIS worker node items", func(t *testing.T) {
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/kios-node-1/proxy/configz").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var cz struct {
			KubeletConfig map[string]any `json:"kubeletconfig"`
		}
		if err := json.Unmarshal(raw, &cz); err != nil {
			t.Fatal(err)
		}
		for _, err := range checkCIS(cz.KubeletConfig) {
			t.Error(err)
		}
	})

	t.Run("only the kubelet listens, on 10250", func(t *testing.T) {
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: l.DialContext}}
		var rep Report
		vmtest.Eventually(t, "inspector report", 2*time.Minute, func() error {
			resp, err := c.Get("http://" + nodeIP + ":9090/report")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&rep)
		})
		kubelet := false
		for _, s := range rep.Listening {
			switch {
			case s.Exe == "/bin/kubelet" && s.Port == 10250:
				kubelet = true
			case s.Exe == "/bin/containerd" && s.Proto == "tcp" && s.Addr == "127.0.0.1":
				// CRI streaming, loopback only (docs/security.md)
			case hostProgram(s.Exe):
				t.Errorf("%s listens on %s %s:%d", s.Exe, s.Proto, s.Addr, s.Port)
			}
		}
		if !kubelet {
			t.Errorf("the kubelet does not listen on 10250: %+v", rep.Listening)
		}
	})

	t.Run("anonymous kubelet requests are refused", func(t *testing.T) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext:     l.DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}}
		resp, err := c.Get("https://" + nodeIP + ":10250/pods")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET /pods: %s, want 401", resp.Status)
		}
	})

	// Issue 14's fault matrix, the rows that share this node: the
	// runtime, the kubelet and a pod's shim killed; the web Deployment's
	// pods must keep running (or, for the shim, be restarted) throughout.
	t.Run("faults: containerd killed three times, the kubelet killed, a pod's shim killed", func(t *testing.T) {
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: l.DialContext}}
		insp := func(path string) (string, error) {
			resp, err := c.Get("http://" + nodeIP + ":9090" + path)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}
		kill := func(query string) {
			t.Helper()
			body, err := insp("/kill?" + query)
			if err != nil || strings.TrimSpace(body) == "null" {
				t.Fatalf("kill %s: %v %s", query, err, body)
			}
		}
		webPods := func() (map[string]int32, error) {
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return nil, err
			}
			restarts := map[string]int32{}
			for _, p := range list.Items {
				for _, st := range p.Status.ContainerStatuses {
					restarts[string(p.UID)] += st.RestartCount
				}
			}
			return restarts, nil
		}
		nodeReady := func(what string) {
			t.Helper()
			vmtest.Eventually(t, what, 3*time.Minute, func() error {
				n, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if ready, why := kube.Ready(n); !ready {
					return fmt.Errorf("not Ready: %s", why)
				}
				return nil
			})
		}
		untouched := func(what string, before map[string]int32) {
			t.Helper()
			vmtest.Holds(t, what, 30*time.Second, func() error {
				now, err := webPods()
				if err != nil {
					return fmt.Errorf("list the web pods: %w", err)
				}
				if diff := cmp.Diff(before, now); diff != "" {
					return fmt.Errorf("web pods (UID -> restarts) changed (-before +now):\n%s", diff)
				}
				return nil
			})
		}
		before, err := webPods()
		if err != nil || len(before) != 3 {
			t.Fatalf("web pods before the faults: %v (err %v)", before, err)
		}

		// containerd: restarted with a growing back-off; the shims outlive
		// it, so the containers keep running and no pod is recreated.
		var waits []time.Duration
		killed := time.Now()
		for i := 1; i <= 3; i++ {
			kill("exe=/bin/containerd")
			exited := v.ExpectEvent(like(events.ServiceExited, "name", "containerd", "restart_in", re(`\S+`)), time.Minute)
			d, err := time.ParseDuration(exited.Get("restart_in"))
			if err != nil {
				t.Fatalf("%s: %v", exited, err)
			}
			waits = append(waits, d)
			v.ExpectEvent(like(events.ServiceStarted, "name", "containerd", "pid", re(`\d+`), "restarts", fmt.Sprint(i)), time.Minute)
		}
		if !(waits[0] < waits[1] && waits[1] < waits[2]) {
			t.Errorf("containerd restarted after %v: want a growing back-off", waits)
		}
		nodeReady("node Ready after containerd's restarts")
		t.Logf("figure: containerd killed 3 times (back-offs %v): node Ready %.0f s after the first kill", waits, time.Since(killed).Seconds())
		untouched("web pods neither recreated nor restarted after containerd's restarts", before)

		// The kubelet: restarted; the pods stay as they are.
		killed = time.Now()
		kill("exe=/bin/kubelet")
		v.ExpectEvent(events.ServiceExited.With("name", "kubelet"), time.Minute)
		v.ExpectEvent(like(events.ServiceStarted, "name", "kubelet", "pid", re(`\d+`)), time.Minute)
		nodeReady("node Ready after the kubelet's restart")
		t.Logf("figure: the kubelet killed: node Ready %.0f s after the kill", time.Since(killed).Seconds())
		untouched("web pods neither recreated nor restarted after the kubelet's restart", before)

		// A pod's shim: the kubelet restarts the pod's containers; no
		// process of the old ones is left.
		rep, err := insp("/report")
		if err != nil {
			t.Fatal(err)
		}
		var r Report
		if err := json.Unmarshal([]byte(rep), &r); err != nil {
			t.Fatal(err)
		}
		exe := map[int]string{}
		for _, p := range r.Processes {
			exe[p.Pid] = p.Exe
		}
		shim := 0
		for _, p := range r.Processes {
			if p.Exe == "/bin/demo" && exe[p.PPid] == "/bin/containerd-shim-runc-v2" {
				shim = p.PPid
				break
			}
		}
		if shim == 0 {
			t.Fatal("no web pod process with a shim for a parent")
		}
		killed = time.Now()
		kill(fmt.Sprintf("exe=/bin/containerd-shim-runc-v2&pid=%d", shim))
		vmtest.Eventually(t, "a web pod restarted after its shim was killed, three Running", 4*time.Minute, func() error {
			now, err := webPods()
			if err != nil {
				return err
			}
			more := 0
			for uid, n := range now {
				if n > before[uid] {
					more++
				}
			}
			if more == 0 {
				return fmt.Errorf("no web pod's containers restarted: %v", now)
			}
			list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return err
			}
			for _, p := range list.Items {
				if p.Status.Phase != corev1.PodRunning {
					return fmt.Errorf("%s is %s", p.Name, p.Status.Phase)
				}
			}
			return nil
		})
		vmtest.Eventually(t, "three web processes, each under a live shim", 2*time.Minute, func() error {
			body, err := insp("/report")
			if err != nil {
				return err
			}
			var r Report
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				return err
			}
			exe := map[int]string{}
			for _, p := range r.Processes {
				exe[p.Pid] = p.Exe
			}
			n := 0
			for _, p := range r.Processes {
				if p.Exe != "/bin/demo" {
					continue
				}
				if exe[p.PPid] != "/bin/containerd-shim-runc-v2" {
					return fmt.Errorf("stray web process %d: its parent %d is %q", p.Pid, p.PPid, exe[p.PPid])
				}
				n++
			}
			if n != 3 {
				return fmt.Errorf("%d web processes, want 3", n)
			}
			return nil
		})
		t.Logf("figure: a pod's shim killed: its containers restarted, three web processes under live shims %.0f s after the kill", time.Since(killed).Seconds())
	})

	// The API server away for 5 minutes: the node's pods run on, its
	// kubelet is not restarted, and it is Ready within a minute of the
	// API server's return.
	t.Run("faults: the API server stopped for 5 minutes", func(t *testing.T) {
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: l.DialContext}}
		// The web pods' and the static system pods' processes.
		podPids := func() ([]string, error) {
			resp, err := c.Get("http://" + nodeIP + ":9090/report")
			if err != nil {
				return nil, fmt.Errorf("the inspector pod: %w", err)
			}
			defer resp.Body.Close()
			var r Report
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				return nil, err
			}
			var pids []string
			for _, p := range r.Processes {
				if p.Exe == "/bin/demo" || p.Exe == "/bin/system" {
					pids = append(pids, fmt.Sprintf("%s %d", p.Exe, p.Pid))
				}
			}
			sort.Strings(pids)
			return pids, nil
		}
		before, err := podPids()
		if web := strings.Count(strings.Join(before, "\n"), "/bin/demo"); err != nil || web != 3 || len(before) == web {
			t.Fatalf("want 3 web processes and the system pods' before: %v (err %v)", before, err)
		}
		if err := cp.StopComponent("kube-apiserver"); err != nil {
			t.Fatal(err)
		}
		mark := len(v.Lines())
		// The kubelet's exits, and PID 1's restarts of it, done or tried.
		restarted := events.Any(events.ServiceExited.With("name", "kubelet"), events.KubeletRestart, events.KubeletRestartFailed)
		kubeletRestarts := func() []string {
			var out []string
			for _, l := range v.Lines()[mark:] {
				if isEvent(l.Text, restarted) {
					out = append(out, l.Text)
				}
			}
			return out
		}
		vmtest.Holds(t, "pods keep running and the kubelet is not restarted while the API server is away", 5*time.Minute, func() error {
			now, err := podPids()
			if err != nil {
				return err
			}
			if diff := cmp.Diff(before, now); diff != "" {
				return fmt.Errorf("pod processes changed (-before +now):\n%s", diff)
			}
			if r := kubeletRestarts(); len(r) > 0 {
				return fmt.Errorf("the kubelet was restarted: %v", r)
			}
			return nil
		})
		back := time.Now()
		if err := cp.StartComponent(ctx, l, "kube-apiserver"); err != nil {
			t.Fatal(err)
		}
		t.Logf("the API server is back (started at %s, ready %.1f s later)", back.UTC().Format(time.RFC3339), time.Since(back).Seconds())
		defer func() {
			if !t.Failed() {
				return
			}
			// What the API server, the node and its kubelet say, to tell a
			// kubelet that does not post its status from a controller that
			// overwrites it.
			if n, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{}); err == nil {
				for _, c := range n.Status.Conditions {
					t.Logf("node condition %s=%s reason=%s heartbeat=%s transition=%s: %s", c.Type, c.Status, c.Reason,
						c.LastHeartbeatTime.UTC().Format(time.RFC3339), c.LastTransitionTime.UTC().Format(time.RFC3339), c.Message)
				}
			}
			if lease, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, "kios-node-1", metav1.GetOptions{}); err == nil && lease.Spec.RenewTime != nil {
				t.Logf("lease renewed %s", lease.Spec.RenewTime.UTC().Format(time.RFC3339Nano))
			}
			if resp, err := c.Get("http://" + nodeIP + ":9090/file?glob=/var/log/kubelet.log"); err == nil {
				var logs []string
				json.NewDecoder(resp.Body).Decode(&logs)
				resp.Body.Close()
				var keep []string
				for _, l := range strings.Split(strings.Join(logs, ""), "\n") {
					if strings.Contains(l, "node status") || strings.Contains(l, "nodestatus") || strings.Contains(l, "lease") ||
						strings.Contains(l, "Error updating node") || strings.Contains(l, "kubelet_node_status") {
						keep = append(keep, l)
					}
				}
				t.Logf("kubelet log, node status lines (last 40 of %d):\n%s", len(keep), strings.Join(keep[max(0, len(keep)-40):], "\n"))
			}
		}()
		// The bound is the upstream kubelet's: its status loop compares
		// with its own informer's copy of the Node, which relists after
		// client-go's reflector back-off of [30, 60) s; a relist that
		// meets the API server while its authorizers still warm up fails
		// and waits that long again from the return. Then the kubelet
		// posts within its 10 s period: 3 + 60 + 10 s, and slack for a
		// TCG machine whose API server has just started (docs/faults.md).
		vmtest.Eventually(t, "node Ready, its lease renewed since the API server's return, within 120 s", 120*time.Second+time.Since(back), func() error {
			lease, err := cs.CoordinationV1().Leases("kube-node-lease").Get(ctx, "kios-node-1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if lease.Spec.RenewTime == nil || lease.Spec.RenewTime.Time.Before(back) {
				return fmt.Errorf("lease last renewed %v, before the API server's return", lease.Spec.RenewTime)
			}
			n, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status != corev1.ConditionTrue {
						return fmt.Errorf("Ready=%s since %s, heartbeat %s, lease renewed %s: %s", c.Status,
							c.LastTransitionTime.UTC().Format(time.RFC3339), c.LastHeartbeatTime.UTC().Format(time.RFC3339),
							lease.Spec.RenewTime.UTC().Format(time.RFC3339), c.Message)
					}
					return nil
				}
			}
			return fmt.Errorf("no Ready condition")
		})
		t.Logf("figure: the API server back after 5 min, node Ready with a renewed lease %.0f s later", time.Since(back).Seconds())
		vmtest.Holds(t, "no kubelet restart after the API server's return", 30*time.Second, func() error {
			if r := kubeletRestarts(); len(r) > 0 {
				return fmt.Errorf("the kubelet was restarted: %v", r)
			}
			return nil
		})
	})

	// A second node boots with the join's result in its image, as a
	// joined node with a data partition does: its kubelet is held
	// standalone until the DHCP pod's lease gives a route to the API
	// server, then PID 1 restarts it in cluster mode.
	//
	// Its clock is a day behind, as a board's without a battery-backed
	// clock is: the API server's certificate is not yet valid for it
	// until its ntp pod steps the clock from the lab's NTP server; the
	// TLS bootstrap must recover on its own and the node become Ready.
	t.Run("a node booting with a kubeconfig and its clock a day behind waits for a route, then registers", func(t *testing.T) {
		r, err := join.Discover(ctx, join.Params{API: labnet.Gateway.String() + ":6443", Token: token, CAHash: hash, Dial: l.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		// The node is built as the benchmark builds its own: the join's
		// files in /etc, the CNI installer primed, the lab registry as a
		// mirror.
		etc := map[string][]byte{"hostname": []byte("kios-node-2\n")}
		for p, b := range join.Files(r, token) {
			etc[filepath.Join("kubernetes", p)] = b
		}
		ntpPod, err := image.Default("etc/kubernetes/manifests/ntp.yaml")
		if err != nil {
			t.Fatal(err)
		}
		etc["kubernetes/manifests/ntp.yaml"] = bytes.Replace(ntpPod, []byte("--server=pool.ntp.org"), []byte("--server="+labnet.Gateway.String()), 1)
		efi, err := lab.BuildNode(t.TempDir(), need(t, "out/parts"), nil, etc)
		if err != nil {
			t.Fatalf("build the node: %v", err)
		}
		if err := l.AddTAP("tap1"); err != nil {
			t.Fatal(err)
		}
		const mac = "52:54:00:88:00:0c"
		hw, _ := netParseMAC(mac)
		l.Reserve(hw, netParseIP("10.88.0.12"))
		behind, booted := time.Now().UTC().Add(-24*time.Hour), time.Now()
		v := vmtest.Boot(t, vm.Config{EFI: efi, MemoryMiB: 2048, CPUs: 2, TAP: "tap1", MAC: mac,
			Wrap:  []string{"ip", "netns", "exec", l.Name},
			Extra: []string{"-rtc", "base=" + behind.Format("2006-01-02T15:04:05")}})
		start := v.ExpectEvent(like(events.InitStart, "pid", "1", "clock", re(`\S+`)), 3*time.Minute)
		clock, err := time.Parse(time.RFC3339, start.Get("clock"))
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(clock); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("PID 1 started with the clock at %s, %s behind: the VM's clock is not a day behind", clock, d.Round(time.Minute))
		}
		v.ExpectEvent(events.KubeletMode.With("mode", "standalone", "held", "cluster", "api", labnet.Gateway.String()), 4*time.Minute)
		v.ExpectEvent(events.ContainerStarted.With("pod", "network-kios-node-2"), 4*time.Minute)
		v.ExpectEvent(events.KubeletRestart.With("reason", "API server routable"), 2*time.Minute)
		v.ExpectEvent(events.KubeletMode.With("mode", "cluster"), time.Minute)
		vmtest.Eventually(t, "second node registered", 4*time.Minute, func() error {
			_, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-2", metav1.GetOptions{})
			return err
		})
		// Ready, with heartbeats stamped by a clock that is right now.
		vmtest.Eventually(t, "second node Ready, its clock stepped", 5*time.Minute, func() error {
			n, err := cs.CoreV1().Nodes().Get(ctx, "kios-node-2", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range n.Status.Conditions {
				if c.Type != corev1.NodeReady {
					continue
				}
				if off := time.Since(c.LastHeartbeatTime.Time); off > 2*time.Minute || off < -2*time.Minute {
					return fmt.Errorf("the node's heartbeat is %s off the lab's clock", off.Round(time.Second))
				}
				if c.Status != corev1.ConditionTrue {
					return fmt.Errorf("Ready=%s: %s", c.Status, c.Message)
				}
				return nil
			}
			return fmt.Errorf("no Ready condition")
		})
		t.Logf("figure: a node booted a day behind is Ready %.0f s after QEMU started", time.Since(booted).Seconds())
	})
}

// checkCIS checks a running kubelet's configuration (configz) against the
// kubelet items of the CIS Kubernetes Benchmark's worker node section
// (4.2) that kiOS enforces, with the list the node configuration's
// parser refuses to weaken. kiOS deviates on one, documented in
// docs/security.md: the host has no iptables, so makeIPTablesUtilChains
// is off.
func checkCIS(kc map[string]any) []error {
	if _, ok := kc["readOnlyPort"]; !ok {
		// configz leaves out zero values (omitempty): no port is 0 here,
		// where a configuration file without one gets the default 10255.
		kc = nodeconfig.MergeKubelet(kc, map[string]any{"readOnlyPort": float64(0)})
	}
	return nodeconfig.Hardened(kc)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func netParseMAC(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }
func netParseIP(s string) net.IP                     { return net.ParseIP(s) }

// runDeployment runs 3 demo replicas on node and returns them Running.
func runDeployment(t *testing.T, ctx context.Context, cs kubernetes.Interface, node string) []corev1.Pod {
	t.Helper()
	return deploy(t, ctx, cs, node, corev1.PullNever)
}

// runDeploymentPulled is runDeployment with the image pulled (from the
// lab registry, through the node's mirror configuration).
func runDeploymentPulled(t *testing.T, ctx context.Context, cs kubernetes.Interface, node string) []corev1.Pod {
	t.Helper()
	return deploy(t, ctx, cs, node, corev1.PullAlways)
}

func deploy(t *testing.T, ctx context.Context, cs kubernetes.Interface, node string, pull corev1.PullPolicy) []corev1.Pod {
	t.Helper()
	replicas := int32(3)
	labels := map[string]string{"app": "web"}
	_, err := cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/hostname": node},
					Containers: []corev1.Container{{Name: "demo", Image: "localhost/kios/demo:v1",
						ImagePullPolicy: pull, Args: []string{"--listen=:8080"}}},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var running []corev1.Pod
	vmtest.Eventually(t, "3 pods Running", 5*time.Minute, func() error {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		running = running[:0]
		var states []string
		for _, p := range list.Items {
			states = append(states, p.Name+"="+string(p.Status.Phase))
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				running = append(running, p)
			}
		}
		if len(running) != 3 {
			return fmt.Errorf("pods: %v", states)
		}
		return nil
	})
	return running
}

// execIn runs a command in a pod as kubectl exec does.
func execIn(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, pod string, cmd []string) (string, error) {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr strings.Builder
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return stdout.String(), nil
}
