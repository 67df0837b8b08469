package join

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"k8s.io/cluster-bootstrap/token/jws"

	"kios.dev/kios/internal/shared/pki"
)

const (
	tokenID     = "abcdef"
	tokenSecret = "0123456789abcdef"
)

// clusterInfo returns a cluster-info ConfigMap signed the way the
// controller-manager's bootstrap signer signs it.
func clusterInfo(t *testing.T, server string) ([]byte, string) {
	ca, err := pki.NewCA("kubernetes", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caPair, _ := ca.Pair()
	kc := string(pki.Kubeconfig(server, caPair.CertPEM, "", nil, ""))
	sig, err := jws.ComputeDetachedSignature(kc, tokenID, tokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]string{"kubeconfig": kc, "jws-kubeconfig-" + tokenID: sig}})
	return b, pki.Hash(ca.Cert)
}

func TestVerify(t *testing.T) {
	cm, hash := clusterInfo(t, "https://10.88.0.1:6443")
	r, err := Verify(cm, tokenID, tokenSecret, hash)
	if err != nil {
		t.Fatal(err)
	}
	if r.Server != "https://10.88.0.1:6443" || !strings.Contains(string(r.CAPEM), "BEGIN CERTIFICATE") {
		t.Errorf("result %+v", r)
	}
	tests := []struct {
		name             string
		id, secret, hash string
		want             error
	}{
		{"wrong secret", tokenID, "ffffffffffffffff", hash, ErrBadToken},
		{"unknown token id", "zzzzzz", tokenSecret, hash, ErrBadToken},
		{"wrong CA hash", tokenID, tokenSecret, "sha256:" + strings.Repeat("0", 64), ErrCAMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Verify(cm, tt.id, tt.secret, tt.hash); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Verify([]byte("{not json"), tokenID, tokenSecret, hash); err == nil {
		t.Error("garbage accepted")
	}
}

func TestValidate(t *testing.T) {
	good := Params{API: "10.88.0.1:6443", Token: "abcdef.0123456789abcdef", CAHash: "sha256:" + strings.Repeat("a", 64)}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{
		{Token: good.Token, CAHash: good.CAHash},
		{API: good.API, Token: "abcdef:0123456789abcdef", CAHash: good.CAHash},
		{API: good.API, Token: good.Token, CAHash: "md5:abc"},
	} {
		if err := p.Validate(); !errors.Is(err, ErrBadInput) {
			t.Errorf("%+v: err = %v", p, err)
		}
	}
}

func TestDiscoverAndWrite(t *testing.T) {
	var cm []byte
	var hash string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/kube-public/configmaps/cluster-info" {
			http.NotFound(w, r)
			return
		}
		w.Write(cm)
	}))
	defer srv.Close()
	api := strings.TrimPrefix(srv.URL, "https://")
	cm, hash = clusterInfo(t, srv.URL)
	r, err := Discover(context.Background(), Params{API: api, Token: tokenID + "." + tokenSecret, CAHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Write(dir, r, tokenID+"."+tokenSecret); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(filepath.Join(dir, "bootstrap-kubelet.conf"))
	if err != nil || !strings.Contains(string(kc), "token: abcdef.0123456789abcdef") || !strings.Contains(string(kc), "server: "+srv.URL) {
		t.Errorf("bootstrap kubeconfig (%v):\n%s", err, kc)
	}
	if st, _ := os.Stat(filepath.Join(dir, "bootstrap-kubelet.conf")); st.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap kubeconfig mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "pki", "ca.crt")); err != nil {
		t.Error(err)
	}
}

func TestClusterInfoNames(t *testing.T) {
	for got, want := range map[string]string{
		configMapClusterInfo:  bootstrapapi.ConfigMapClusterInfo,
		kubeConfigKey:         bootstrapapi.KubeConfigKey,
		jwsSignatureKeyPrefix: bootstrapapi.JWSSignatureKeyPrefix,
	} {
		if got != want {
			t.Errorf("%q, kubeadm's is %q", got, want)
		}
	}
}
