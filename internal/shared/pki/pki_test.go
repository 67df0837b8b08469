package pki

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func TestIssueAndVerify(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("kubernetes", now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(Spec{CommonName: "kube-apiserver", DNSNames: []string{"kubernetes.default"},
		IPs: []net.IP{net.IPv4(10, 88, 0, 1)}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCert(p.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.88.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving cert does not verify for its IP: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.88.0.2"}); err == nil {
		t.Error("serving cert verified for an address it does not name")
	}
	caPair, _ := ca.Pair()
	back, err := LoadCA(caPair)
	if err != nil || !back.Cert.Equal(ca.Cert) {
		t.Errorf("LoadCA: %v", err)
	}
	if h := Hash(ca.Cert); !strings.HasPrefix(h, "sha256:") || len(h) != 71 {
		t.Errorf("hash %q", h)
	}
	if _, err := ca.Issue(Spec{}, now); err == nil {
		t.Error("a certificate without a name was issued")
	}
	kc := string(Kubeconfig("https://10.88.0.1:6443", caPair.CertPEM, "admin", &p, ""))
	for _, want := range []string{"server: https://10.88.0.1:6443", "client-certificate-data: ", `current-context: "admin@kios"`} {
		if !strings.Contains(kc, want) {
			t.Errorf("kubeconfig lacks %q", want)
		}
	}
}
