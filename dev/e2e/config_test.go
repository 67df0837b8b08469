package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"kios.dev/kios/dev/imds"
	"kios.dev/kios/dev/vmtest"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/kube"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/lab/controlplane"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/host/vm"
	"kios.dev/kios/internal/node/fetch"
	"kios.dev/kios/internal/shared/events"
	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// startAWSMock runs AWS's EC2 metadata mock at 127.0.0.1:port for the
// test.
func startAWSMock(t *testing.T, port int, userData []byte, instanceID, hostname string) {
	t.Helper()
	stop, err := imds.Start(nil, t.TempDir(), "127.0.0.1", port, imds.Instance{UserData: userData, InstanceID: instanceID, Hostname: hostname})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// Our IMDSv2 client against AWS's own mock: token, user-data and the
// two meta-data keys, on this machine's loopback.
func TestMetadataAgainstAWSMock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds AWS's EC2 metadata mock")
	}
	port := vmtest.FreePort(t)
	doc := []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\nlabels: {example.com/from: imds}\n")
	startAWSMock(t, port, doc, "i-0123456789abcdef0", "node-7.lab.internal")
	c, err := fetch.Client(nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	var meta nodeconfig.Meta
	vmtest.Eventually(t, "the mock answers", 30*time.Second, func() error {
		got, meta, err = fetch.Metadata(context.Background(), c, fmt.Sprintf("http://127.0.0.1:%d", port))
		return err
	})
	if string(got) != string(doc) || meta.InstanceID != "i-0123456789abcdef0" || meta.Hostname != "node-7.lab.internal" {
		t.Errorf("Metadata = %q, %+v", got, meta)
	}
	// Without the IMDSv2 session token the mock refuses: the client's
	// token is what got it the answer.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/latest/user-data", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("user-data without a token: %s, want 401", resp.Status)
	}
}

// One stock EFI, two machines, two network sources: a RAM-only node
// pointed at its configuration by kios.config= (the URL first hangs,
// loops, fails, sends an endless body and a document that does not
// match its hash; a seed volume the node also has is too large and
// refused), and a disk node the firmware says is an EC2 instance, which
// reads the metadata service (two seed volumes are refused: which one
// was meant is unknown) and takes its name from the meta-data. Both join
// the lab cluster with their labels and run their static pod. The disk
// node then reboots with the service gone and a config drive that
// weakens the kubelet, refuses it and comes back with what it stored.
// A third machine joins from a good config drive.
func TestConfigSources(t *testing.T) {
	vmtest.Need(t, "boots two VMs, a control plane, an HTTP server and AWS's EC2 metadata mock")
	ctx := context.Background()
	dir := t.TempDir()
	env, err := lab.StartEnv(ctx, filepath.Join(dir, "lab"), filepath.Join(root, "build", "cache"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	if err := lab.Load(env.Dir, need(t, "out/parts/extra/cni-installer.tar"), io.Discard); err != nil {
		t.Fatal(err)
	}
	stock := filepath.Join(dir, "stock.efi")
	if out, err := exec.Command(need(t, "out/kios"), "build", "-o", stock).CombinedOutput(); err != nil {
		t.Fatalf("kios build: %v\n%s", err, out)
	}
	doc := func(hostname, source string, network *netconf.Network) []byte {
		nc := env.NodeConfig(hostname)
		nc.Labels = map[string]string{"example.com/config-source": source}
		nc.Network = network
		b, err := yaml.Marshal(nc)
		if err != nil {
			t.Fatal(err)
		}
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: from-%s, namespace: default}\n"+
			"spec: {containers: [{name: pause, image: localhost/kios/pause:v1, imagePullPolicy: Never}]}\n", source)
		return append(append(b, "---\n"...), pod...)
	}

	// The URL source: an HTTP server in the lab whose first answers are
	// bad in each way a network source can be (the pod asks again after
	// each, and the kubelet restarts the pod after the last two), then
	// the document, checked against kios.config-sha256.
	var asked atomic.Int32
	// Its document carries a network section, so the network pod, which
	// began the boot with none (DHCPv4 everywhere), changes its settings
	// once the URL answers: a static address beside the lease.
	urlDoc := doc("url-node", "url", &netconf.Network{Links: []netconf.Link{{MAC: "52:54:00:88:00:31",
		Addressing: netconf.Addressing{DHCP4: true, Addresses: []string{"10.88.0.77/24"}}}}})
	sum := sha256.Sum256(urlDoc)
	ln, err := env.Lab.Listen(labnet.Gateway.String() + ":8081")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		if r.URL.Path != "/nodes/url-node.yaml" {
			http.NotFound(w, r)
			return
		}
		switch asked.Add(1) {
		case 1: // hangs past the pod's timeout
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		case 2:
			http.Redirect(w, r, "/loop", http.StatusFound)
		case 3:
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		case 4: // an endless body, cut when the pod hangs up
			chunk := bytes.Repeat([]byte("y"), 64<<10)
			for i := 0; i < 1024; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case 5:
			w.Write(bytes.Replace(urlDoc, []byte("url-node"), []byte("not-this-node"), 1))
		default:
			w.Write(urlDoc)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// The metadata source: AWS's mock at 169.254.169.254 in the lab.
	imdsDoc := doc("", "metadata", nil) // no hostname: meta-data's applies
	wrap := env.Wrap()
	stopMock, err := imds.StartInLab(ctx, env.Lab, t.TempDir(), imds.Instance{UserData: imdsDoc, InstanceID: "i-0kios0imds", Hostname: "imds-node.lab.internal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopMock)

	// Seed volumes: one too large for the URL node, two valid for the
	// metadata node.
	// The too-large one is an ISO 9660 seed, as genisoimage and
	// cloud-localds make them: PID 1 mounts it (isofs) to read it.
	big := filepath.Join(dir, "big-seed.iso")
	src := filepath.Join(dir, "big-seed")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "user-data"), []byte("apiVersion: config.kios.dev/v1alpha1\nkind: NodeConfig\n# "+strings.Repeat("y", nodeconfig.MaxSize)+"\n"), 0o644)
	os.WriteFile(filepath.Join(src, "meta-data"), []byte("instance-id: i-big\n"), 0o644)
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-o", big, "-V", "cidata", "-J", "-r", src).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	twin1, twin2 := filepath.Join(dir, "seed1.img"), filepath.Join(dir, "seed2.img")
	for _, p := range []string{twin1, twin2} {
		if err := lab.SeedVolume(p, doc("twin", "volume", nil), "i-twin", "twin"); err != nil {
			t.Fatal(err)
		}
	}

	for _, tap := range []string{"tap1", "tap2"} {
		if err := env.Lab.AddTAP(tap); err != nil {
			t.Fatal(err)
		}
	}
	loader := need(t, "out/parts/loader.efi")
	urlVM := vmtest.Boot(t, vm.Config{EFI: stock, Loader: loader, Disks: []string{big}, MemoryMiB: 2048, CPUs: 1,
		Cmdline: image.DefaultCmdline + " kios.config=http://" + labnet.Gateway.String() + ":8081/nodes/url-node.yaml?token=s3cr3t" +
			" kios.config-sha256=" + hex.EncodeToString(sum[:]),
		TAP: "tap1", MAC: "52:54:00:88:00:31", Wrap: wrap})
	disk := filepath.Join(dir, "imds.img")
	if out, err := exec.Command(need(t, "out/kios"), "disk", "--efi", stock, "--size", "4G", "-o", disk).CombinedOutput(); err != nil {
		t.Fatalf("kios disk: %v\n%s", err, out)
	}
	imdsConfig := vm.Config{Disk: disk, Disks: []string{twin1, twin2}, MemoryMiB: 2048, CPUs: 1,
		Extra: []string{"-smbios", "type=1,manufacturer=Amazon EC2,product=m7i.large"},
		TAP:   "tap2", MAC: "52:54:00:88:00:32", Wrap: wrap}
	imdsVM := vmtest.Boot(t, imdsConfig)

	urlVM.ExpectEventAnywhere(events.ConfigRefused.With("source", "volume"), 4*time.Minute)
	imdsVM.ExpectEventAnywhere(events.ConfigRefused.With("source", "volume"), 4*time.Minute)
	urlVM.ExpectEventAnywhere(events.ConfigApplied.With("source", "url", "hostname", "url-node"), 8*time.Minute)
	imdsVM.ExpectEventAnywhere(events.ConfigApplied.With("source", "metadata", "hostname", "imds-node.lab.internal", "instance", "i-0kios0imds", "stored", "yes"), 8*time.Minute)

	cs := env.Client
	for name, source := range map[string]string{"url-node": "url", "imds-node.lab.internal": "metadata"} {
		checkConfiguredNode(t, ctx, cs, name, source)
	}
	t.Run("the URL's network section replaces the boot's default", func(t *testing.T) {
		e := urlVM.Events(events.NetworkLink.With("link", "eth0"))
		var from []string
		for _, l := range e {
			from = append(from, l.Get("from")+": "+l.Get("does"))
		}
		if len(e) < 2 || e[0].Get("from") != "otherLinks" || e[len(e)-1].Get("from") != "network.links[0]" ||
			e[len(e)-1].Get("does") != "dhcp4 addresses=10.88.0.77/24" {
			t.Errorf("eth0's network-link events %q, want otherLinks' (no section yet) then network.links[0]'s dhcp4 and 10.88.0.77/24", from)
		}
		c, err := env.Lab.DialContext(ctx, "tcp", "10.88.0.77:10250")
		if err != nil {
			t.Fatalf("the kubelet at the section's address: %v", err)
		}
		c.Close()
		four, _, err := nodeIPs(ctx, env, "url-node")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(four, []string{"10.88.0.77"}) {
			t.Errorf("url-node's IPv4 InternalIPs %v, want the section's static 10.88.0.77", four)
		}
	})
	t.Run("volume refusals name the volume and why", func(t *testing.T) {
		e := urlVM.Events(events.ConfigRefused.With("source", "volume"))
		if len(e) != 1 || !strings.Contains(e[0].Get("err"), "larger than 1 MiB") {
			t.Errorf("URL node: %v, want one refusal of the over-large user-data", e)
		}
		e = imdsVM.Events(events.ConfigRefused.With("source", "volume"))
		if len(e) != 1 || !strings.Contains(e[0].Get("err"), "more than one seed volume") {
			t.Errorf("metadata node: %v, want one refusal naming the two volumes", e)
		}
	})
	t.Run("each bad answer of the URL is one line naming it", func(t *testing.T) {
		var errs []string
		for _, e := range urlVM.Events(events.ConfigRefused.With("source", "url")) {
			errs = append(errs, e.Get("err"))
		}
		all := strings.Join(errs, "\n")
		for _, want := range []string{"timed out", "more than 5 redirects", "503 Service Unavailable", "larger than 1 MiB", "does not match kios.config-sha256"} {
			if !strings.Contains(all, want) {
				t.Errorf("no refusal of the URL says %q; they say:\n%s", want, all)
			}
		}
		if n := asked.Load(); n < 6 {
			t.Errorf("the URL was asked %d times, want the five bad answers and the document", n)
		}
	})
	t.Run("the URL's query reaches no log of kiOS", func(t *testing.T) {
		for _, l := range urlVM.Lines() {
			// The kernel prints its whole command line (docs/config.md
			// says so: no credential belongs in it).
			if strings.Contains(l.Text, "s3cr3t") && !strings.Contains(l.Text, "Kernel command line:") {
				t.Errorf("console: %s", l.Text)
			}
		}
	})

	// The metadata service goes away; the disk node reboots with an
	// OpenStack config drive whose document weakens the kubelet's
	// hardening, refuses it, and comes back as the node it was, from its
	// data partition.
	stopMock()
	imdsVM.Stop(2 * time.Minute)
	weak := append(doc("cd-node", "volume", nil), "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 10255\n"...)
	imdsConfig.Disks = []string{configDrive(t, filepath.Join(dir, "weak-cd.iso"), weak, `{"uuid": "u-weak"}`)}
	imdsVM = vmtest.Boot(t, imdsConfig)
	refused := imdsVM.ExpectEventAnywhere(events.ConfigRefused.With("source", "volume"), 4*time.Minute)
	if err := refused.Get("err"); !strings.Contains(err, "readOnlyPort") || !strings.Contains(err, "CIS 4.2.4") {
		t.Errorf("the config drive's refusal says %q, want the field readOnlyPort and CIS 4.2.4", err)
	}
	imdsVM.ExpectEventAnywhere(events.ConfigKept.With("from", "metadata", "instance", "i-0kios0imds"), time.Minute)
	imdsVM.ExpectEventAnywhere(events.ConfigApplied.With("source", "data", "hostname", "imds-node.lab.internal", "stored", "kept"), time.Minute)
	imdsVM.ExpectEventAnywhere(events.Hostname.With("name", "imds-node.lab.internal"), time.Minute)
	vmtest.Eventually(t, "imds-node Ready again after the reboot", 8*time.Minute, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, "imds-node.lab.internal", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ok, msg := kube.Ready(n); !ok {
			return fmt.Errorf("not Ready: %s", msg)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && time.Since(c.LastTransitionTime.Time) > 8*time.Minute {
				return fmt.Errorf("Ready since %s: before the reboot", c.LastTransitionTime)
			}
		}
		return nil
	})

	// A third machine, RAM-only, boots the stock EFI with a good config
	// drive: its meta_data.json names the node, which joins with the
	// drive's label and static pod.
	urlVM.Stop(2 * time.Minute)
	imdsVM.Stop(2 * time.Minute)
	// Its section names a link this machine does not have: the network
	// pod waits for it, falls back to DHCPv4 everywhere and says why.
	good := doc("", "config-drive", &netconf.Network{Links: []netconf.Link{{Name: "eth9", Addressing: netconf.Addressing{Addresses: []string{"10.88.0.78/24"}}}}})
	cdVM := vmtest.Boot(t, vm.Config{EFI: stock, Disks: []string{configDrive(t, filepath.Join(dir, "good-cd.iso"), good, `{"uuid": "u-cd-1", "hostname": "cd-node.novalocal"}`)},
		MemoryMiB: 2048, CPUs: 1, TAP: "tap1", MAC: "52:54:00:88:00:33", Wrap: wrap})
	cdVM.ExpectEventAnywhere(events.ConfigApplied.With("source", "volume", "hostname", "cd-node.novalocal", "instance", "u-cd-1"), 4*time.Minute)
	checkConfiguredNode(t, ctx, cs, "cd-node.novalocal", "config-drive")
	if e := cdVM.Events(events.NetworkFallback); len(e) != 1 || !strings.Contains(e[0].Get("err"), "network.links[0]: eth9: no such link") {
		t.Errorf("config-drive node's fallbacks: %v, want one naming network.links[0]'s eth9", e)
	}
}

// configDrive writes an OpenStack config drive (ISO 9660, label
// config-2, as Nova makes it) holding userData and meta_data.json.
func configDrive(t *testing.T, path string, userData []byte, metaJSON string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "cd")
	latest := filepath.Join(src, "openstack", "latest")
	if err := os.MkdirAll(latest, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"user_data": userData, "meta_data.json": []byte(metaJSON)} {
		if err := os.WriteFile(filepath.Join(latest, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-o", path, "-V", "config-2", "-J", "-r", src).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	return path
}

// checkConfiguredNode waits until name is Ready with the label its
// configuration gave it and its static pod running.
func checkConfiguredNode(t *testing.T, ctx context.Context, cs kubernetes.Interface, name, source string) {
	t.Helper()
	vmtest.Eventually(t, name+" Ready with its label and static pod", 10*time.Minute, func() error {
		_, _ = controlplane.ApproveServingCSRs(ctx, cs)
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := n.Labels["example.com/config-source"]; got != source {
			return fmt.Errorf("label example.com/config-source = %q, want %q", got, source)
		}
		if ok, msg := kube.Ready(n); !ok {
			return fmt.Errorf("not Ready: %s", msg)
		}
		p, err := cs.CoreV1().Pods("default").Get(ctx, "from-"+source+"-"+name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("static pod %s is %s", p.Name, p.Status.Phase)
		}
		return nil
	})
}
