// Package cni is the cni-installer pod: it copies the CNI plugins from
// its image to the node's /opt/cni/bin and writes the node's network
// configuration for its pod CIDR, as CNI DaemonSets of real clusters do.
package cni

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/shared/atomicfile"
)

// Plugins are the programs the installer ships.
var Plugins = []string{"bridge", "host-local", "loopback", "portmap"}

// ConfName is the file written in /etc/cni/net.d.
const ConfName = "10-kios.conflist"

// Conflist renders the network configuration: a bridge with host-local
// addresses from the node's pod CIDR, and portmap for hostPort.
func Conflist(podCIDR string) ([]byte, error) {
	_, n, err := net.ParseCIDR(podCIDR)
	if err != nil || n.IP.To4() == nil {
		return nil, fmt.Errorf("pod CIDR %q: want an IPv4 CIDR", podCIDR)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kios",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true,
				// No masquerade: the host has no iptables program; the
				// lab routes pod addresses.
				"ipMasq": false,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": n.String()}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// Install copies the plugins from src to binDir (through temporary
// files, so containerd never runs a half-written plugin) and writes the
// configuration to confDir.
func Install(src, binDir, confDir, podCIDR string) error {
	conf, err := Conflist(podCIDR)
	if err != nil {
		return err
	}
	for _, p := range Plugins {
		if err := atomicfile.Copy(filepath.Join(src, p), filepath.Join(binDir, p), 0o755); err != nil {
			return fmt.Errorf("install plugin %s: %w", p, err)
		}
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(confDir, ConfName), conf, 0o644)
}

// ServiceAccount is where Kubernetes mounts a pod's API credentials.
const ServiceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

// PodCIDR asks the API server for the node's pod CIDR, with the pod's
// service account. api is host:port.
func PodCIDR(ctx context.Context, api, node, saDir string) (string, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return "", err
	}
	caPEM, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return "", errors.New("service account CA: no certificate")
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+api+"/api/v1/nodes/"+node, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get node %s: %s", node, resp.Status)
	}
	var n struct {
		Spec struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&n); err != nil {
		return "", err
	}
	if n.Spec.PodCIDR == "" {
		return "", fmt.Errorf("node %s has no pod CIDR yet", node)
	}
	return n.Spec.PodCIDR, nil
}
