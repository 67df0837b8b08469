// Package cluster runs a real Kubernetes control plane for the lab:
// upstream etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, with certificates and kubeconfigs laid out as kubeadm
// lays them out, and the bootstrap-token objects nodes join with.
package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"kios.dev/kios/internal/shared/pki"
)

// ServiceCIDR and PodCIDR are the cluster's address ranges.
const (
	ServiceCIDR = "10.96.0.0/12"
	PodCIDR     = "10.244.0.0/16"
)

// APIServiceIP is the first address of ServiceCIDR, the kubernetes Service.
var APIServiceIP = net.IPv4(10, 96, 0, 1)

// Layout is the control plane's directory, kubeadm-style.
type Layout struct{ Dir string }

func (l Layout) PKI(name string) string  { return filepath.Join(l.Dir, "pki", name) }
func (l Layout) Conf(name string) string { return filepath.Join(l.Dir, name+".conf") }

// WriteCerts makes every certificate, key and kubeconfig the control
// plane needs for an API server at advertise. Existing files are kept,
// so a restarted lab keeps its identity.
func WriteCerts(l Layout, advertise net.IP) error {
	if _, err := os.Stat(l.PKI("ca.crt")); err == nil {
		return nil
	}
	now := time.Now()
	if err := os.MkdirAll(filepath.Join(l.Dir, "pki"), 0o700); err != nil {
		return err
	}
	ca, err := pki.NewCA("kubernetes", now)
	if err != nil {
		return err
	}
	fp, err := pki.NewCA("front-proxy-ca", now)
	if err != nil {
		return err
	}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	issue := []struct {
		name string
		ca   *pki.CA
		spec pki.Spec
	}{
		{"apiserver", ca, pki.Spec{CommonName: "kube-apiserver", Usages: server,
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
			IPs:      []net.IP{advertise, APIServiceIP, net.IPv4(127, 0, 0, 1)}}},
		{"apiserver-kubelet-client", ca, pki.Spec{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"kubeadm:cluster-admins"}, Usages: client}},
		{"front-proxy-client", fp, pki.Spec{CommonName: "front-proxy-client", Usages: client}},
	}
	for _, c := range issue {
		p, err := c.ca.Issue(c.spec, now)
		if err != nil {
			return err
		}
		if err := writePair(l.PKI(c.name), p); err != nil {
			return err
		}
	}
	for name, c := range map[string]*pki.CA{"ca": ca, "front-proxy-ca": fp} {
		p, err := c.Pair()
		if err != nil {
			return err
		}
		if err := writePair(l.PKI(name), p); err != nil {
			return err
		}
	}
	if err := writeSAKeys(l); err != nil {
		return err
	}
	caPair, _ := ca.Pair()
	server443 := fmt.Sprintf("https://%s:6443", advertise)
	for _, u := range []struct{ file, cn, org string }{
		{"admin", "kubernetes-admin", "system:masters"},
		{"controller-manager", "system:kube-controller-manager", ""},
		{"scheduler", "system:kube-scheduler", ""},
	} {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		p, err := ca.Issue(pki.Spec{CommonName: u.cn, Organization: orgs, Usages: client}, now)
		if err != nil {
			return err
		}
		if err := os.WriteFile(l.Conf(u.file), pki.Kubeconfig(server443, caPair.CertPEM, u.cn, &p, ""), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writePair(base string, p pki.Pair) error {
	if err := os.WriteFile(base+".crt", p.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".key", p.KeyPEM, 0o600)
}

// writeSAKeys makes the service-account signing key pair (sa.key, sa.pub).
func writeSAKeys(l Layout) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	priv, err := pki.KeyPEM(key)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.PKI("sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(l.PKI("sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}
