// This file measures what a node's configuration source costs: the same
// join (a bootstrap kubeconfig, as the comparison's kiOS has) baked into
// the EFI, or given to the one stock EFI by a NoCloud volume, a
// kios.config= URL or the EC2 metadata service, each booted RAM-only in
// turn in one lab, to Ready; and the volume with a static address in
// place of DHCPv4.

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"kios.dev/kios/dev/imds"
	"kios.dev/kios/internal/host/image"
	"kios.dev/kios/internal/host/lab"
	"kios.dev/kios/internal/host/lab/labnet"
	"kios.dev/kios/internal/shared/join"
	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// SourcesConfig is one run of the configuration sources' benchmark.
type SourcesConfig struct {
	Out, Parts, Cache string
	Rounds            int
	MemoryMiB         int
	Log               Logger
}

// SourceResult is one way of configuring the node, over the rounds.
type SourceResult struct {
	Source    string    `json:"source"` // "baked", a nodeconfig source, or "volume-static" (a static address, no DHCP)
	Ready     []float64 `json:"ready_s"`
	Median    float64   `json:"median_ready_s"`
	OverBaked float64   `json:"median_over_baked_s"`
}

// Sources boots each way c.Rounds times, in turn, and reports the
// seconds from QEMU's start to the node's Ready (sources.md, .json).
func Sources(ctx context.Context, c SourcesConfig) ([]SourceResult, error) {
	dir, err := filepath.Abs(c.Out)
	if err != nil {
		return nil, err
	}
	labDir := filepath.Join(dir, "sources-lab")
	env, err := lab.StartEnv(ctx, labDir, c.Cache, c.Log.Printf)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	if err := lab.Load(labDir, filepath.Join(c.Parts, "extra", "cni-installer.tar"), io.Discard); err != nil {
		return nil, err
	}
	joined, err := env.KubeadmJoin(ctx)
	if err != nil {
		return nil, err
	}
	const name = "kios-00000001"
	// Baked: the comparison's RAM-only kiOS (the join's files in /etc).
	etc := map[string][]byte{}
	for p, b := range joined {
		etc["kubernetes/"+p] = b
	}
	baked, err := lab.BuildNode(labDir, c.Parts, nil, etc)
	if err != nil {
		return nil, err
	}
	// The stock EFI primes the CNI installer as BuildNode's does, so
	// the boots differ only in where the configuration comes from.
	stock := filepath.Join(labDir, "stock.efi")
	if err := image.Build(image.Options{Parts: c.Parts, Output: stock, Images: []string{filepath.Join(c.Parts, "extra", "cni-installer.tar")}}); err != nil {
		return nil, err
	}
	nc := env.NodeConfig(name)
	nc.Join = &nodeconfig.Join{BootstrapKubeconfig: string(joined[join.BootstrapFile])}
	doc, err := yaml.Marshal(nc)
	if err != nil {
		return nil, err
	}
	seed := filepath.Join(labDir, "seed.img")
	if err := lab.SeedVolume(seed, doc, "bench", name); err != nil {
		return nil, err
	}
	// The same volume with the node's lab address static: what DHCP
	// costs (docs/network.md).
	nc.Network = &netconf.Network{
		Links: []netconf.Link{{MAC: labMAC, Addressing: netconf.Addressing{
			Addresses: []string{labIP.String() + "/24"}, Routes: []netconf.Route{{To: "default", Via: labnet.Gateway.String()}}}}},
		Nameservers: []string{labnet.Gateway.String()},
		OtherLinks:  &netconf.Auto{DHCP4: new(bool), SLAAC: new(bool)},
	}
	staticDoc, err := yaml.Marshal(nc)
	if err != nil {
		return nil, err
	}
	staticSeed := filepath.Join(labDir, "static-seed.img")
	if err := lab.SeedVolume(staticSeed, staticDoc, "bench", name); err != nil {
		return nil, err
	}
	// The URL's server and the metadata service, in the lab.
	ln, err := env.Lab.Listen(labnet.Gateway.String() + ":8081")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(doc) })}
	go srv.Serve(ln)
	defer srv.Close()
	stop, err := imds.StartInLab(ctx, env.Lab, labDir, imds.Instance{UserData: doc, InstanceID: "i-bench", Hostname: name})
	if err != nil {
		return nil, err
	}
	defer stop()

	uuid := []string{"-uuid", "00000001-6b1e-4a1c-9f00-000000000001"}
	loader := filepath.Join(c.Parts, "loader.efi")
	ways := []struct {
		source string
		sys    System
	}{
		// Only the node whose firmware says EC2 asks the metadata
		// service; only the URL node boots through the loader.
		{"baked", System{EFI: baked, Extra: uuid}},
		{string(nodeconfig.SourceVolume), System{EFI: stock, Seeds: []string{seed}, Extra: uuid}},
		{"volume-static", System{EFI: stock, Seeds: []string{staticSeed}, Extra: uuid}}, // the volume, no DHCP
		{string(nodeconfig.SourceURL), System{EFI: stock, Loader: loader, Extra: uuid,
			Cmdline: image.DefaultCmdline + " kios.config=http://" + labnet.Gateway.String() + ":8081/" + name + ".yaml"}},
		{string(nodeconfig.SourceMetadata), System{EFI: stock, Extra: append(uuid, "-smbios", "type=1,manufacturer=Amazon EC2")}},
	}
	l, err := newLab(env)
	if err != nil {
		return nil, err
	}
	results := make([]SourceResult, len(ways))
	for i := 1; i <= c.Rounds; i++ {
		for k, w := range ways {
			s := w.sys
			s.Name, s.NodeName = "sources-"+w.source, name
			v, stopVM, err := l.start(s, c.MemoryMiB, filepath.Join(dir, "sources-consoles", fmt.Sprintf("%s-%d.console", w.source, i)))
			if err != nil {
				return nil, err
			}
			since := func() float64 { return time.Since(v.Started()).Seconds() }
			_, ready, err := l.waitReady(ctx, v, name, since)
			stopVM()
			if err != nil {
				return nil, fmt.Errorf("%s boot %d: %w", w.source, i, err)
			}
			results[k].Source = w.source
			results[k].Ready = append(results[k].Ready, ready)
			c.Log.Printf("bench: sources %d/%d %-8s Ready %.1fs", i, c.Rounds, w.source, ready)
		}
	}
	for k := range results {
		results[k].Median = medianOf(results[k].Ready)
	}
	for k := range results {
		results[k].OverBaked = results[k].Median - results[0].Median
	}
	return results, writeSources(dir, results, c)
}

func writeSources(dir string, rs []SourceResult, c SourcesConfig) error {
	b, _ := json.MarshalIndent(rs, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "sources.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Boot to Ready by configuration source\n\n%s, %d rounds, RAM-only nodes of %d MiB, 2 vCPUs, one stock EFI configured by each source against the same join baked into an EFI (make bench-config; docs/config.md).\n\n",
		time.Now().UTC().Format("2006-01-02"), c.Rounds, c.MemoryMiB)
	md.WriteString("| source | Ready, median (s) | over baked (s) | each boot (s) |\n|---|---|---|---|\n")
	for _, r := range rs {
		each := make([]string, len(r.Ready))
		for i, x := range r.Ready {
			each[i] = fmt.Sprintf("%.1f", x)
		}
		fmt.Fprintf(&md, "| %s | %.1f | %+.1f | %s |\n", r.Source, r.Median, r.OverBaked, strings.Join(each, ", "))
	}
	return os.WriteFile(filepath.Join(dir, "sources.md"), []byte(md.String()), 0o644)
}
