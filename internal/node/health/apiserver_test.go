package health

import (
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kios.dev/kios/internal/shared/pki"
)

// The kubeconfig the kubelet writes after TLS bootstrap: the CA inline,
// the client certificate and key in one rotated file.
func TestClientForKubeletKubeconfig(t *testing.T) {
	ca, err := pki.NewCA("test-ca", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caPair, _ := ca.Pair()
	client, err := ca.Issue(pki.Spec{CommonName: "system:node:kios-1", Organization: []string{"system:nodes"},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pki"), 0o700)
	os.WriteFile(filepath.Join(dir, "pki", "kubelet-client-current.pem"), append(client.CertPEM, client.KeyPEM...), 0o600)
	good := filepath.Join(dir, "kubelet.conf")
	os.WriteFile(good, []byte(`apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: `+base64.StdEncoding.EncodeToString(caPair.CertPEM)+`
    server: https://10.88.0.1:6443
  name: default-cluster
contexts:
- context: {cluster: default-cluster, namespace: default, user: default-auth}
  name: default-context
current-context: default-context
users:
- name: default-auth
  user:
    client-certificate: pki/kubelet-client-current.pem
    client-key: pki/kubelet-client-current.pem
`), 0o600)
	if _, server, err := clientFor(good); err != nil || server != "https://10.88.0.1:6443" {
		t.Errorf("clientFor = %q, %v", server, err)
	}
	noUser := filepath.Join(dir, "nouser.conf")
	os.WriteFile(noUser, []byte("clusters:\n- cluster: {server: https://x:6443}\n"), 0o600)
	badCA := filepath.Join(dir, "badca.conf")
	os.WriteFile(badCA, []byte("clusters:\n- cluster: {server: https://x:6443, certificate-authority-data: bm90IGEgY2VydA==}\nusers:\n- user: {client-certificate: pki/kubelet-client-current.pem, client-key: pki/kubelet-client-current.pem}\n"), 0o600)
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.conf"): "missing.conf",
		noUser:                             "no cluster server or user",
		badCA:                              "cluster CA",
	} {
		if _, _, err := clientFor(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("clientFor(%s) = %v, want an error with %q", filepath.Base(path), err, want)
		}
	}
}
