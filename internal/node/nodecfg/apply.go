// Package nodecfg applies a node configuration document (internal/shared/
// nodeconfig) on the node, for PID 1: static pods into the kubelet's
// manifest directory, the kubelet's merged configuration, labels,
// registry mirrors and NTP servers under /run/kios/config, the join
// (internal/shared/configsrc stores what was applied). Everything takes
// a root directory, so tests run it on a temporary tree.
package nodecfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"kios.dev/kios/internal/shared/atomicfile"
	"kios.dev/kios/internal/shared/joinspec"
	"kios.dev/kios/internal/shared/kubelet"
	"kios.dev/kios/internal/shared/netconf"
	"kios.dev/kios/internal/shared/nodeconfig"
)

// Paths under the root, rebuilt by every apply. RunDir is tmpfs: what
// it holds lasts one boot; the manifests and the bootstrap kubeconfig
// are in /etc, whose writable layer may be on disk.
const (
	RunDir         = "run/kios/config"
	KubeletFile    = kubelet.MergedConfigFile // the image's kubelet configuration with the document's merged over it
	NodeLabelsFile = kubelet.ConfigLabelsFile
	CertsDir       = RunDir + "/certs.d" // containerd's registry hosts, before /etc/containerd/certs.d
	NTPFile        = RunDir + "/ntp/servers"
	HostnameFile   = RunDir + "/hostname"
	NetworkFile    = RunDir + "/network.json" // the network section, which the network pod applies
	NodeIPFile     = kubelet.ConfigNodeIPFile
	ManifestDir    = "etc/kubernetes/manifests"
	// ManifestPrefix names the manifests a configuration owns: an apply
	// removes those of an earlier one that it does not write again.
	ManifestPrefix = "nodeconfig."
	BaseKubelet    = kubelet.ConfigFile
	// ClientCAFile is the kubelet's client CA (authentication.x509),
	// written from a bootstrap kubeconfig as the join writes it.
	ClientCAFile = "etc/kubernetes/pki/ca.crt"
)

// Meta is nodeconfig.Meta.
type Meta = nodeconfig.Meta

// Result is what PID 1 does after the files are in place.
type Result struct {
	Hostname string   // the node's name, when the configuration gives one
	Modules  []string // kernel modules to load
	Changed  []string // files written or removed, relative to the root
}

// Kubelet tells whether a file the kubelet reads at start changed.
func (r Result) Kubelet() bool {
	for _, p := range r.Changed {
		if p == KubeletFile || p == NodeLabelsFile || p == kubelet.BootstrapFile || p == HostnameFile || p == NodeIPFile {
			return true
		}
	}
	return false
}

// Apply makes the node's files say doc (nil: no configuration) and the
// kernel's ip= (nil: none; its static address is a node IP), and
// removes what an earlier Apply wrote that doc does not. A file already
// as wanted is left alone, so an unchanged configuration changes
// nothing. Files are replaced atomically; on an error the ones already
// replaced stay and the error names the one that failed.
func Apply(root string, doc *nodeconfig.Document, meta Meta, kip *netconf.KernelIP) (Result, error) {
	want, res, err := render(root, doc, meta, kip)
	if err != nil {
		return res, err
	}
	abs := func(rel string) string { return filepath.Join(root, rel) }
	// What this configuration no longer wants: manifests it owned, and
	// everything under RunDir.
	var stale []string
	entries, err := os.ReadDir(abs(ManifestDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("read %s: %w", ManifestDir, err)
	}
	for _, e := range entries {
		rel := ManifestDir + "/" + e.Name()
		if strings.HasPrefix(e.Name(), ManifestPrefix) && want[rel] == nil {
			stale = append(stale, rel)
		}
	}
	_ = filepath.WalkDir(abs(RunDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if want[filepath.ToSlash(rel)] == nil {
				stale = append(stale, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	for _, rel := range stale {
		if err := os.Remove(abs(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove %s: %w", rel, err)
		}
		res.Changed = append(res.Changed, rel)
	}
	rels := make([]string, 0, len(want))
	for rel := range want {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		f := want[rel]
		if old, err := os.ReadFile(abs(rel)); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		dirMode := os.FileMode(0o755)
		if f.mode&0o077 == 0 {
			dirMode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(abs(rel)), dirMode); err != nil {
			return res, fmt.Errorf("write %s: %w", rel, err)
		}
		if err := atomicfile.Write(abs(rel), f.data, f.mode); err != nil {
			return res, fmt.Errorf("write %s: %w", rel, err)
		}
		res.Changed = append(res.Changed, rel)
	}
	sort.Strings(res.Changed)
	return res, nil
}

type file struct {
	data []byte
	mode os.FileMode
}

// render is what Apply writes: path relative to the root -> file.
func render(root string, doc *nodeconfig.Document, meta Meta, kip *netconf.KernelIP) (map[string]*file, Result, error) {
	want := map[string]*file{}
	var res Result
	if doc == nil {
		doc = &nodeconfig.Document{}
	}
	for _, p := range doc.Pods {
		// 0600: a pod's environment may hold secrets.
		want[fmt.Sprintf("%s/%s%s.%s.yaml", ManifestDir, ManifestPrefix, p.Namespace, p.Name)] = &file{p.JSON, 0o600}
	}
	nc := doc.Node
	if nc == nil {
		nc = &nodeconfig.NodeConfig{}
	}
	res.Hostname = nc.Hostname
	if res.Hostname == "" && meta.Hostname != "" {
		// meta-data's local-hostname is often a FQDN; the node takes its
		// first label when the whole name is not a valid node name.
		name := strings.ToLower(meta.Hostname)
		if nodeconfig.CheckHostname(name) != nil {
			name, _, _ = strings.Cut(name, ".")
		}
		if nodeconfig.CheckHostname(name) == nil {
			res.Hostname = name
		}
	}
	if res.Hostname != "" {
		want[HostnameFile] = &file{[]byte(res.Hostname + "\n"), 0o644}
	}
	res.Modules = append(slices.Clone(nc.KernelModules), netconf.Modules(nc.Network)...)
	if nc.Network != nil {
		b, err := json.MarshalIndent(nc.Network, "", "  ")
		if err != nil {
			return nil, res, fmt.Errorf("the network section: %w", err)
		}
		want[NetworkFile] = &file{append(b, '\n'), 0o644}
	}
	if ips := netconf.NodeIPs(nc.Network, kip); len(ips) > 0 {
		s := make([]string, len(ips))
		for i, ip := range ips {
			s[i] = ip.String()
		}
		want[NodeIPFile] = &file{[]byte(strings.Join(s, ",") + "\n"), 0o644}
	}
	if doc.Kubelet != nil || len(nc.Taints) > 0 {
		b, err := os.ReadFile(filepath.Join(root, BaseKubelet))
		if err != nil {
			return nil, res, fmt.Errorf("the image's kubelet configuration: %w", err)
		}
		base, err := nodeconfig.DecodeKubelet(b)
		if err != nil {
			return nil, res, fmt.Errorf("the image's kubelet configuration /%s: %w", BaseKubelet, err)
		}
		over := doc.Kubelet
		if len(nc.Taints) > 0 {
			over = nodeconfig.MergeKubelet(over, map[string]any{"registerWithTaints": nc.Taints})
		}
		merged := nodeconfig.MergeKubelet(base, over)
		out, err := json.MarshalIndent(merged, "", "  ")
		if err != nil {
			return nil, res, fmt.Errorf("the merged kubelet configuration: %w", err)
		}
		want[KubeletFile] = &file{append(out, '\n'), 0o644}
	}
	if len(nc.Labels) > 0 {
		keys := make([]string, 0, len(nc.Labels))
		for k := range nc.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("# From the node's configuration.\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, nc.Labels[k])
		}
		want[NodeLabelsFile] = &file{[]byte(b.String()), 0o644}
	}
	for host, mirrors := range nc.RegistryMirrors {
		var b strings.Builder
		b.WriteString("# From the node's configuration.\n")
		for _, m := range mirrors {
			fmt.Fprintf(&b, "[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", m)
		}
		want[CertsDir+"/"+host+"/hosts.toml"] = &file{[]byte(b.String()), 0o644}
	}
	if len(nc.NTPServers) > 0 {
		want[NTPFile] = &file{[]byte(strings.Join(nc.NTPServers, "\n") + "\n"), 0o644}
	}
	if j := nc.Join; j != nil {
		if j.BootstrapKubeconfig != "" {
			ca, err := nodeconfig.KubeconfigCA(j.BootstrapKubeconfig)
			if err != nil {
				return nil, res, fmt.Errorf("join.bootstrapKubeconfig: %w", err)
			}
			want[kubelet.BootstrapFile] = &file{[]byte(j.BootstrapKubeconfig), 0o600}
			want[ClientCAFile] = &file{ca, 0o644}
		} else {
			p := joinspec.Params{API: j.APIServer, Token: j.Token, CAHash: j.CACertHashes[0]}
			m, err := joinspec.Manifest(p, true)
			if err != nil {
				return nil, res, fmt.Errorf("join: %w", err)
			}
			want[ManifestDir+"/"+ManifestPrefix+"join.yaml"] = &file{m, 0o600}
			want[strings.TrimPrefix(joinspec.TokenDir, "/")+"/token"] = &file{[]byte(j.Token + "\n"), 0o600}
		}
	}
	return want, res, nil
}
