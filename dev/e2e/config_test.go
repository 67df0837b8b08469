package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
// pointed at its configuration by kios.config= (the URL fails twice
// first; a seed volume it also has is too large and refused), and a
// disk node the firmware says is an EC2 instance, which reads the
// metadata service (two seed volumes are refused: which one was meant
// is unknown), takes its name from the meta-data, and after a reboot
// with the service gone comes back with what it stored. Both join the
// lab cluster with their labels and run their static pod.
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
	doc := func(hostname, source string) []byte {
		nc := env.NodeConfig(hostname)
		nc.Labels = map[string]string{"example.com/config-source": source}
		b, err := yaml.Marshal(nc)
		if err != nil {
			t.Fatal(err)
		}
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: from-%s, namespace: default}\n"+
			"spec: {containers: [{name: pause, image: localhost/kios/pause:v1, imagePullPolicy: Never}]}\n", source)
		return append(append(b, "---\n"...), pod...)
	}

	// The URL source: an HTTP server in the lab that fails twice.
	var asked atomic.Int32
	urlDoc := doc("url-node", "url")
	ln, err := env.Lab.Listen(labnet.Gateway.String() + ":8081")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/nodes/url-node.yaml" {
			http.NotFound(w, r)
			return
		}
		if asked.Add(1) <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Write(urlDoc)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// The metadata source: AWS's mock at 169.254.169.254 in the lab.
	imdsDoc := doc("", "metadata") // no hostname: meta-data's applies
	wrap := []string{"ip", "netns", "exec", env.Lab.Name}
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
		if err := lab.SeedVolume(p, doc("twin", "volume"), "i-twin", "twin"); err != nil {
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
		Cmdline: image.DefaultCmdline + " kios.config=http://" + labnet.Gateway.String() + ":8081/nodes/url-node.yaml?token=s3cr3t",
		TAP:     "tap1", MAC: "52:54:00:88:00:31", Wrap: wrap})
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
	t.Run("the URL's query reaches no log of kiOS", func(t *testing.T) {
		for _, l := range urlVM.Lines() {
			// The kernel prints its whole command line (docs/config.md
			// says so: no credential belongs in it).
			if strings.Contains(l.Text, "s3cr3t") && !strings.Contains(l.Text, "Kernel command line:") {
				t.Errorf("console: %s", l.Text)
			}
		}
		if n := asked.Load(); n < 3 {
			t.Errorf("the URL was asked %d times, want the two failures and the answer", n)
		}
	})

	// The metadata service goes away; the disk node reboots and comes
	// back as the node it was, from its data partition.
	stopMock()
	imdsVM.Stop(2 * time.Minute)
	imdsVM = vmtest.Boot(t, imdsConfig)
	imdsVM.ExpectEventAnywhere(events.ConfigKept.With("from", "metadata", "instance", "i-0kios0imds"), 4*time.Minute)
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
