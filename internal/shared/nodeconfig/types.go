package nodeconfig

import "kios.dev/kios/internal/shared/netconf"

// The node configuration's own API: what has no upstream object.
const (
	Group      = "config.kios.dev"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "NodeConfig"

	KubeletAPIVersion = "kubelet.config.k8s.io/v1beta1"
	KubeletKind       = "KubeletConfiguration"
)

// NodeConfig is kiOS's document for what no upstream object says: the
// node's name, how it joins its cluster, and settings PID 1 and the
// system pods apply. Unknown fields are errors.
type NodeConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Hostname is the node's name (a DNS-1123 label or subdomain); the
	// source's meta-data name applies when it is empty.
	Hostname string `json:"hostname,omitempty"`
	// Join makes the node join a cluster.
	Join *Join `json:"join,omitempty"`
	// Labels are registered with the node (the kubelet's --node-labels).
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are registered with the node (registerWithTaints).
	Taints []NodeTaint `json:"taints,omitempty"`
	// RegistryMirrors maps a registry host ("docker.io", or "_default"
	// for every registry) to the mirrors containerd tries first, in order
	// (http:// or https:// URLs).
	RegistryMirrors map[string][]string `json:"registryMirrors,omitempty"`
	// NTPServers replace the image's NTP servers (host or host:port).
	NTPServers []string `json:"ntpServers,omitempty"`
	// KernelModules are loaded beside the image's list.
	KernelModules []string `json:"kernelModules,omitempty"`
	// Network declares links, addresses, routes, VLANs and bonds
	// (docs/network.md); without it every link takes DHCPv4 and SLAAC.
	Network *netconf.Network `json:"network,omitempty"`
}

// Join is a kubeadm-style join (APIServer, Token and CACertHashes) or a
// bootstrap kubeconfig, not both.
type Join struct {
	// APIServer is host:port of the cluster's API server.
	APIServer string `json:"apiServer,omitempty"`
	// Token is a bootstrap token (abcdef.0123456789abcdef). Secret: never
	// logged.
	Token string `json:"token,omitempty"`
	// CACertHashes pin the cluster CA (sha256:HEX of its public key), as
	// kubeadm's --discovery-token-ca-cert-hash; the first is used.
	CACertHashes []string `json:"caCertHashes,omitempty"`
	// BootstrapKubeconfig is a kubeconfig the kubelet bootstraps its
	// client certificate with. Secret: never logged.
	BootstrapKubeconfig string `json:"bootstrapKubeconfig,omitempty"`
}

// NodeTaint is a node taint as the kubelet registers it.
type NodeTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}
