package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kios.dev/kios/internal/cluster"
	"kios.dev/kios/internal/lab"
	"kios.dev/kios/internal/vm"
	"kios.dev/kios/internal/vm/vmtest"
)

func binaries(t *testing.T) cluster.Binaries {
	find := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(root, "build/cache", pattern))
		if len(m) == 0 {
			t.Fatalf("%s not built: run `make controlplane`", pattern)
		}
		abs, _ := filepath.Abs(m[0])
		return abs
	}
	return cluster.Binaries{Etcd: find("etcd-*/etcd"), APIServer: find("controlplane-*/kube-apiserver"),
		ControllerManager: find("controlplane-*/kube-controller-manager"), Scheduler: find("controlplane-*/kube-scheduler")}
}

// TestJoin boots a node built with `kios build --join` against a real
// control plane in a lab network. Its token does not exist yet: the join
// pod must say why it cannot join and the node must stay standalone.
// Then the token is created, and the node joins through TLS bootstrap.
func TestJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM and a control plane")
	}
	ctx := context.Background()
	l, err := lab.Create(fmt.Sprintf("kios-e2e-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cpDir := t.TempDir()
	cp, err := cluster.Start(ctx, l, cluster.Layout{Dir: cpDir}, lab.Gateway, binaries(t))
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
	cs, _, err := cp.Client(l)
	if err != nil {
		t.Fatal(err)
	}
	// Bootstrap makes its own token; the node gets another, created later.
	_, hash, err := cp.Bootstrap(ctx, cs, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, err := cluster.NewToken()
	if err != nil {
		t.Fatal(err)
	}

	cfg := t.TempDir()
	os.WriteFile(filepath.Join(cfg, "hostname"), []byte("kios-node-1\n"), 0o644)
	efi := filepath.Join(t.TempDir(), "join.efi")
	out, err := exec.Command(need(t, "out/kios"), "build", "--config", cfg, "--join", lab.Gateway.String()+":6443",
		"--token", token, "--ca-cert-hash", hash, "-o", efi).CombinedOutput()
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

	v.ExpectAnywhere(`event=kubelet-mode mode=standalone`, 4*time.Minute)
	v.ExpectAnywhere(`event=container-started pod=join-kios-node-1`, 4*time.Minute)
	// The join pod's log, read through the node's own log files is not
	// reachable yet (standalone kubelet serves nothing): wait a few
	// retries, then check the node has not become a cluster node.
	time.Sleep(20 * time.Second)
	if nodes, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); len(nodes.Items) != 0 {
		t.Fatalf("a node registered with an unknown token: %v", nodes.Items[0].Name)
	}
	for _, line := range v.Lines() {
		if strings.Contains(line.Text, "event=kubelet-mode mode=cluster") {
			t.Fatal("kubelet went to cluster mode with an unknown token")
		}
	}

	if err := cluster.StoreToken(ctx, cs, token, time.Hour); err != nil {
		t.Fatal(err)
	}
	v.Expect(`event=kubelet-restart reason="kubeconfig changed"`, 4*time.Minute)
	v.Expect(`event=kubelet-mode mode=cluster`, time.Minute)

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
			if _, err := cluster.ApproveServingCSRs(ctx, cs); err != nil {
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
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func netParseMAC(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }
func netParseIP(s string) net.IP                     { return net.ParseIP(s) }
